"""The shapes of a bronze line, one rule for the build and the quality gate: what each line holds, or why
it is set aside.

A bronze line is ``{"envelope": {...}, "response": <the message as received>}``; the response is one of
(README, "The lake"):

========== ============================================================ ==============================
shape      how it is recognised                                         tweets it holds
========== ============================================================ ==============================
page       ``data`` is a list (search, timelines, mentions)              ``data[*]``
single     ``data`` is an object (lookup of one id, a stream message)    ``data``
errors     no ``data``, ``errors`` a non-empty list                      none
empty      no ``data``, no errors, ``meta`` or ``includes`` only        none
flattened  no ``data``, ``id`` and ``text`` at top level (twarc2        the object itself
           flatten: ``author`` and referenced tweets inlined)
========== ============================================================ ==============================

A blank line carries nothing. Anything else is a *rejection*: not JSON, truncated JSON, JSON of none of
these shapes, or a value the build's read cannot cast (a count sent as words or a fraction, an id sent as
a fraction, a timestamp that is not one). The types below are those of the build's read (the DuckDB schema
in dbt_project/models/staging/__sources.yml, the fields silver uses, nothing else): a line they accept is
read whole by DuckDB, a line they refuse would fail or half-read the build. Two lossless casts are
allowed, both DuckDB's own: an id sent as a JSON integer is read as its digits (a VARCHAR column), and a
count sent as a string of digits as its number (a BIGINT or INTEGER column; schema drift a proxy or an
older client brings).

msgspec decodes only the fields named here and validates their types as it parses, several times faster
than DuckDB's read_json on whole pages; so every new file is classified once, before DuckDB reads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Annotated, Any

import msgspec

PAGE, SINGLE, ERRORS, EMPTY, FLATTENED = "page", "single", "errors", "empty", "flattened"
BLANK, REJECTED = "blank", "rejected"
COUNTS = "counts"  # a page of GET /2/tweets/counts/{recent,all}: buckets, not tweets (its own read)
SHAPES = (PAGE, SINGLE, ERRORS, EMPTY, FLATTENED)
# the bronze endpoints whose pages are counts (endpoint=counts_recent, endpoint=counts_all): read by their
# own narrow read into silver.tweet_counts, never as tweets
COUNTS_ENDPOINT_PREFIX = "counts_"
HEAD_BYTES = 200

Id = str | int  # an id as a JSON integer is read as its digits: lossless
# DuckDB's BIGINT and INTEGER: a larger number would fail the read's cast; so would digits with more
# digits than the type holds (18 and 9: every such string fits)
Count = (
    Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
    | Annotated[str, msgspec.Meta(pattern=r"^-?[0-9]{1,18}$")]
)
Int32 = (
    Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]
    | Annotated[str, msgspec.Meta(pattern=r"^-?[0-9]{1,9}$")]
)


class _Metrics(msgspec.Struct):
    retweet_count: Count | None = None
    reply_count: Count | None = None
    like_count: Count | None = None
    quote_count: Count | None = None
    bookmark_count: Count | None = None
    impression_count: Count | None = None


class _Hashtag(msgspec.Struct):
    start: Int32 | None = None
    end: Int32 | None = None
    tag: str | None = None


class _Mention(msgspec.Struct):
    start: Int32 | None = None
    end: Int32 | None = None
    username: str | None = None
    id: Id | None = None


class _Url(msgspec.Struct):
    start: Int32 | None = None
    end: Int32 | None = None
    url: str | None = None
    expanded_url: str | None = None
    display_url: str | None = None


class _Annotation(msgspec.Struct):
    start: Int32 | None = None
    end: Int32 | None = None
    probability: float | None = None
    type: str | None = None
    normalized_text: str | None = None


class _Entities(msgspec.Struct):
    hashtags: list[_Hashtag] | None = None
    cashtags: list[_Hashtag] | None = None
    mentions: list[_Mention] | None = None
    urls: list[_Url] | None = None
    annotations: list[_Annotation] | None = None


class _NoteTweet(msgspec.Struct):
    text: str | None = None
    entities: _Entities | None = None


class _Withheld(msgspec.Struct):
    copyright: bool | None = None
    country_codes: list[str] | None = None


class _Named(msgspec.Struct):
    id: Id | None = None
    name: str | None = None


class _ContextAnnotation(msgspec.Struct):
    domain: _Named | None = None
    entity: _Named | None = None


class _Attachments(msgspec.Struct):
    media_keys: list[str] | None = None
    poll_ids: list[Id] | None = None


class _Point(msgspec.Struct):
    type: str | None = None
    coordinates: list[float] | None = None


class _Geo(msgspec.Struct):
    place_id: str | None = None
    coordinates: _Point | None = None


class _Reference(msgspec.Struct):
    type: str | None = None
    id: Id | None = None


class _TweetFields(msgspec.Struct):
    """A tweet's fields but its references (the source schema's ``tweet_fields``)."""

    id: Id | None = None
    text: str | None = None
    created_at: datetime | None = None
    author_id: Id | None = None
    conversation_id: Id | None = None
    lang: str | None = None
    possibly_sensitive: bool | None = None
    in_reply_to_user_id: Id | None = None
    reply_settings: str | None = None
    source: str | None = None
    edit_history_tweet_ids: list[Id] | None = None
    note_tweet: _NoteTweet | None = None
    withheld: _Withheld | None = None
    public_metrics: _Metrics | None = None
    entities: _Entities | None = None
    context_annotations: list[_ContextAnnotation] | None = None
    attachments: _Attachments | None = None
    geo: _Geo | None = None


class _Tweet(_TweetFields):
    referenced_tweets: list[_Reference] | None = None


class _UserMetrics(msgspec.Struct):
    followers_count: Count | None = None
    following_count: Count | None = None
    tweet_count: Count | None = None
    listed_count: Count | None = None


class _UserUrl(msgspec.Struct):
    url: str | None = None
    expanded_url: str | None = None


class _UserUrls(msgspec.Struct):
    urls: list[_UserUrl] | None = None


class _UserEntities(msgspec.Struct):
    url: _UserUrls | None = None


class _UserWithheld(msgspec.Struct):
    country_codes: list[str] | None = None


class _User(msgspec.Struct):
    id: Id | None = None
    name: str | None = None
    username: str | None = None
    created_at: datetime | None = None
    verified: bool | None = None
    verified_type: str | None = None
    protected: bool | None = None
    description: str | None = None
    location: str | None = None
    url: str | None = None
    profile_image_url: str | None = None
    pinned_tweet_id: Id | None = None
    withheld: _UserWithheld | None = None
    entities: _UserEntities | None = None
    public_metrics: _UserMetrics | None = None


class _MediaMetrics(msgspec.Struct):
    view_count: Count | None = None


class _Variant(msgspec.Struct):
    bit_rate: Count | None = None
    content_type: str | None = None
    url: str | None = None


class _Media(msgspec.Struct):
    media_key: str | None = None
    type: str | None = None
    url: str | None = None
    preview_image_url: str | None = None
    alt_text: str | None = None
    width: Int32 | None = None
    height: Int32 | None = None
    duration_ms: Count | None = None
    public_metrics: _MediaMetrics | None = None
    variants: list[_Variant] | None = None


class _PollOption(msgspec.Struct):
    position: Int32 | None = None
    label: str | None = None
    votes: Count | None = None


class _Poll(msgspec.Struct):
    id: Id | None = None
    options: list[_PollOption] | None = None
    duration_minutes: Int32 | None = None
    end_datetime: datetime | None = None
    voting_status: str | None = None


class _BoundingBox(msgspec.Struct):
    type: str | None = None
    bbox: list[float] | None = None


class _Place(msgspec.Struct):
    id: str | None = None
    full_name: str | None = None
    name: str | None = None
    country: str | None = None
    country_code: str | None = None
    place_type: str | None = None
    geo: _BoundingBox | None = None


class _Meta(msgspec.Struct):
    """``meta`` (result_count, next_token...): only whether it is there matters."""


class _Includes(msgspec.Struct):
    users: list[_User] | None = None
    tweets: list[_Tweet] | None = None  # observations too: read with a tweet's fields
    media: list[_Media] | None = None
    polls: list[_Poll] | None = None
    places: list[_Place] | None = None


class _InlinedReference(_TweetFields):
    """A referenced tweet as twarc2 flatten inlines it: its own fields, its type and its author."""

    type: str | None = None
    author: _User | None = None


class _InlinedAttachments(_Attachments):
    """attachments as twarc2 flatten writes them: the media and the poll inlined beside their keys."""

    media: list[_Media] | None = None
    poll: _Poll | None = None


class _InlinedGeo(_Place):
    """geo as twarc2 flatten writes it: the place itself beside its place_id (and any coordinates)."""

    place_id: str | None = None
    coordinates: _Point | None = None


class _Response(_TweetFields):
    """A response as received; a flattened tweet's own fields at top level (those of _TweetFields), its
    expansions inlined (author, referenced tweets, attachments' media and poll, geo's place)."""

    data: list[_Tweet] | _Tweet | None = None
    includes: _Includes | None = None
    # an API error's fields are read as text whatever their JSON type (DuckDB casts any value to VARCHAR)
    errors: list[dict[str, Any]] | None = None
    meta: _Meta | None = None
    attachments: _InlinedAttachments | None = None  # (subclasses: flatten inlines more)
    geo: _InlinedGeo | None = None  # type: ignore[assignment]
    referenced_tweets: list[_InlinedReference] | None = None
    author: _User | None = None


class _Envelope(msgspec.Struct):
    source: str | None = None
    endpoint: str | None = None
    stream: str | None = None
    fetched_at: datetime | None = None
    page_number: Int32 | None = None
    run_id: str | None = None
    run_key: str | None = None


class _Line(msgspec.Struct):
    envelope: _Envelope | None = None
    response: _Response | None = None


_DECODE = msgspec.json.Decoder(_Line)
_DECODE_ANY = msgspec.json.Decoder()


@dataclass
class LineFacts:
    """What one bronze line holds: its shape, its tweet ids, its newest fetch; or why it was rejected."""

    shape: str
    ids: list[str] = field(default_factory=list)
    fetched_at: datetime | None = None
    # the tweets it holds as expansions (includes.tweets; a flattened tweet's inlined references): silver
    # observations too (silver.tweets seen_in 'includes' when never seen otherwise)
    included_ids: list[str] = field(default_factory=list)
    reason: str = ""
    shape_guess: str = ""  # for a rejection: the shape the line seems meant to be
    tweets_guess: int = 0  # for a rejection: the tweets it seems to hold (0 when not countable)


def _shape(response: _Response) -> tuple[str, list[str]] | str:
    """The shape and tweet ids of a decoded response, or why it is none of the shapes."""
    data = response.data
    if isinstance(data, list):
        return PAGE, [str(t.id) for t in data if t.id is not None]
    if data is not None:
        return SINGLE, [str(data.id)] if data.id is not None else []
    if response.errors:
        return ERRORS, []
    if response.id is not None and response.text is not None:
        return FLATTENED, [str(response.id)]
    if response.id is not None or response.text is not None:
        return "a tweet needs both id and text at top level (twarc2 flatten)"
    if response.meta is not None or response.includes is not None or response.errors is not None:
        return EMPTY, []
    return "none of the shapes: no data, errors, meta or top-level tweet"


def _included_ids(response: _Response) -> list[str]:
    if response.includes is not None and response.includes.tweets:
        return [str(t.id) for t in response.includes.tweets if t.id is not None]
    if response.data is None and response.referenced_tweets:
        return [str(t.id) for t in response.referenced_tweets if t.id is not None]
    return []


def classify_line(line: bytes | memoryview) -> LineFacts:
    """The facts of one bronze line (without its newline)."""
    try:
        doc = _DECODE.decode(line)
    except msgspec.ValidationError as exc:
        return _rejected(line, f"a value fails its cast: {exc}")
    except msgspec.DecodeError as exc:
        if not bytes(line).strip():
            return LineFacts(BLANK)
        what = "truncated JSON" if "truncated" in str(exc) else "malformed JSON"
        return _rejected(line, f"{what}: {exc}")
    if doc.response is None:
        return _rejected(line, "no response: a bronze line is {envelope, response}")
    shape = _shape(doc.response)
    if isinstance(shape, str):
        return _rejected(line, shape)
    fetched = doc.envelope.fetched_at if doc.envelope is not None else None
    return LineFacts(shape[0], shape[1], fetched, included_ids=_included_ids(doc.response))


def is_counts_file(path: str) -> bool:
    """A bronze object of a counts endpoint (its path names the partition ``endpoint=counts_*``)."""
    return f"/endpoint={COUNTS_ENDPOINT_PREFIX}" in path


class _Bucket(msgspec.Struct):
    start: datetime
    end: datetime
    tweet_count: Count


class _CountsMeta(msgspec.Struct):
    total_tweet_count: Count | None = None
    next_token: str | None = None


class _CountsResponse(msgspec.Struct):
    data: list[_Bucket] | None = None
    meta: _CountsMeta | None = None
    errors: list[dict[str, Any]] | None = None


class _CountsLine(msgspec.Struct):
    envelope: _Envelope | None = None
    response: _CountsResponse | None = None


_DECODE_COUNTS = msgspec.json.Decoder(_CountsLine)


def classify_counts_line(line: bytes | memoryview) -> LineFacts:
    """The facts of one line of a counts file: :data:`COUNTS` (every bucket with its start, end and a
    count the read can cast), blank, or rejected with the reason (the same rule as a tweet page's: never
    half-read)."""
    try:
        doc = _DECODE_COUNTS.decode(line)
    except msgspec.ValidationError as exc:
        return LineFacts(REJECTED, reason=f"a value fails its cast: {exc}", shape_guess=COUNTS)
    except msgspec.DecodeError as exc:
        if not bytes(line).strip():
            return LineFacts(BLANK)
        what = "truncated JSON" if "truncated" in str(exc) else "malformed JSON"
        return LineFacts(REJECTED, reason=f"{what}: {exc}", shape_guess=COUNTS)
    if doc.response is None:
        return LineFacts(
            REJECTED, reason="no response: a bronze line is {envelope, response}", shape_guess=COUNTS
        )
    if doc.response.data is None and not doc.response.errors and doc.response.meta is None:
        return LineFacts(
            REJECTED, reason="a counts page needs data (buckets), meta or errors", shape_guess=COUNTS
        )
    fetched = doc.envelope.fetched_at if doc.envelope is not None else None
    return LineFacts(COUNTS, fetched_at=fetched)


def _rejected(line: bytes | memoryview, reason: str) -> LineFacts:
    guess, tweets = guess_shape(bytes(line))
    return LineFacts(REJECTED, reason=reason, shape_guess=guess, tweets_guess=tweets)


_GUESSES = ((rb'"data"\s*:\s*\[', PAGE), (rb'"data"\s*:\s*\{', SINGLE), (rb'"errors"\s*:', ERRORS))


def guess_shape(line: bytes) -> tuple[str, int]:
    """The shape a rejected line seems meant to be, and how many tweets it seems to hold (0: unknown).

    A line that still parses is judged by the shape rules on its plain JSON; a truncated one by its text.
    """
    try:
        doc = _DECODE_ANY.decode(line)
    except msgspec.DecodeError:
        for pattern, shape in _GUESSES:
            if re.search(pattern, line[:4096]):
                return shape, 0
        return ("flattened" if b'"__twarc"' in line or b'"author"' in line else "unknown"), 0
    response = doc.get("response") if isinstance(doc, dict) else None
    if not isinstance(response, dict):
        return "unknown", 0
    data = response.get("data")
    if isinstance(data, list):
        return PAGE, len(data)
    if isinstance(data, dict):
        return SINGLE, 1
    if response.get("errors"):
        return ERRORS, 0
    if "id" in response:
        return FLATTENED, 1
    return "unknown", 0


def head(line: bytes | memoryview) -> str:
    """The first 200 bytes of a line, as text (a cut character shown as U+FFFD)."""
    return bytes(line[:HEAD_BYTES]).decode("utf-8", errors="replace")


def lines(fh: IO[bytes], chunk: int = 8 << 20) -> Iterator[tuple[int, int, bytes | memoryview]]:
    """``(line number from 1, byte offset, line without its newline)`` of a binary file.

    Read in large chunks into one reused buffer; a line is handed out as a view of it, valid until the next
    one is asked for (iterating the file would split each page line, a few hundred kB, out of small reads).
    A last line without a newline is a line too (a truncated file's cut line).
    """
    buf = bytearray(chunk)
    view = memoryview(buf)
    carried: list[bytes] = []  # the start of a line that continues in the next chunk
    number, offset = 0, 0
    while size := fh.readinto(view):  # type: ignore[attr-defined]  # every binary file object has it
        pos = 0
        while (end := buf.find(b"\n", pos, size)) >= 0:
            number += 1
            line = b"".join([*carried, view[pos:end]]) if carried else view[pos:end]
            carried = []
            yield number, offset, line
            offset += len(line) + 1
            pos = end + 1
        if pos < size:
            carried.append(bytes(view[pos:size]))
    if carried:
        yield number + 1, offset, b"".join(carried)
