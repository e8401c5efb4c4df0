"""Page bodies: the exact JSON bytes of one page of a stream-day, from one RNG seeded for that page.

Which numbers are drawn from the RNGs, and in which order, is what makes the bytes: keep both. Each
tweet draws from its page's RNG, except every 33rd (seen again the next day), which draws from an RNG of
its own so its second sighting can be rebuilt. A reply answers the last of those before it in its
stream-day, rebuilt the same way (:class:`Threads`): conversations are trees in the tweets collected,
a reply to a reply when that one is itself a reply.

Bodies are built as "bytes in a str": UTF-8 bytes held as latin-1 characters (only the closers carry
non-ASCII: their emoji). Every piece stays one byte per character, so nothing is widened to 4 bytes a
character to be built, joined and encoded; ``.encode("latin-1")`` gives the UTF-8 body as it is. Entity
offsets count code points: a closer's extra UTF-8 bytes are subtracted from ``len(text)``.

Written by hand, not with ``msgspec.json.encode``: msgspec, of Structs or dicts, assembles the same bytes
more slowly (measured: benchmarks/README.md), and these pieces are exactly the API's compact JSON.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time

from ingestion.sources.sample import extras
from ingestion.sources.sample.extras import (
    CASHTAGS,
    CONTEXTS,
    LONG_TAIL,
    N_CONTEXTS,
    N_REPLY_SOURCE,
    PLACES,
    REPLY_SOURCE,
    WITHHELD,
)
from ingestion.sources.sample.plan import (
    DAY_MS,
    ENDPOINT,
    REOBSERVE_EVERY,
    SINGLE,
    STREAM,
    USER_ID_BASE,
    Plan,
    mix,
    snowflake,
)
from ingestion.sources.sample.vocabulary import (
    LANG_PIECES,
    NP,
    NW,
    PAIRS,
    PHRASES,
    TAG_PIECES,
    WORDS,
    Users,
    phrases,
)

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
NO_LIKES = '"retweet_count":0,"reply_count":0,"like_count":0,"quote_count":0,"bookmark_count":0,'
# a page: (body, tweets, partial errors, newest id)
Rendered = tuple[bytes, int, int, str]


def tco(tid: int) -> str:
    """A t.co short link: 10 characters, derived from the tweet id."""
    n = (tid >> 10) * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFF
    return f"https://t.co/{n:012x}"[:23]


DISCONNECT = (
    '{"errors":[{"title":"operational-disconnect","disconnect_type":"UpstreamOperationalDisconnect",'
    '"detail":"This stream has been disconnected upstream for operational reasons.",'
    '"type":"https://api.twitter.com/2/problems/operational-disconnect"}]}'
)


def lookup_not_found(tweet_id: int) -> str:
    """The body of a lookup of a deleted tweet: only errors."""
    return (
        f'{{"errors":[{{"value":"{tweet_id}","detail":"Could not find tweet with id: [{tweet_id}].",'
        f'"title":"Not Found Error","resource_type":"tweet","parameter":"id","resource_id":"{tweet_id}",'
        f'"type":"https://api.twitter.com/2/problems/resource-not-found"}}]}}'
    )


def not_found(tweet_id: int) -> str:
    return (
        f'{{"value":"{tweet_id}","detail":"Could not find tweet with referenced_tweets.id: [{tweet_id}].",'
        f'"title":"Not Found Error","resource_type":"tweet","parameter":"referenced_tweets.id",'
        f'"resource_id":"{tweet_id}","type":"https://api.twitter.com/2/problems/resource-not-found"}}'
    )


class Timestamps:
    """``2026-10-31T12:34:56.789Z`` strings from ready-made pieces (formatting a datetime per tweet is
    slow); the minutes of a few days at a time."""

    def __init__(self) -> None:
        self.minutes: dict[int, list[str]] = {}  # day -> "YYYY-MM-DDTHH:MM:" of each minute
        self.secs = tuple(f"{s:02d}." for s in range(60))
        self.millis = tuple(f"{m:03d}Z" for m in range(1000))

    def day_minutes(self, day: int) -> list[str]:
        """``"YYYY-MM-DDTHH:MM:"`` of every minute of ``day`` (days since 1970)."""
        minutes = self.minutes.get(day)
        if minutes is None:
            if len(self.minutes) >= 8:
                self.minutes.clear()
            iso_day = date.fromordinal(EPOCH_ORDINAL + day).isoformat()
            minutes = self.minutes[day] = [f"{iso_day}T{m // 60:02d}:{m % 60:02d}:" for m in range(1440)]
        return minutes

    def iso(self, ms: int) -> str:
        day, rest = divmod(ms, DAY_MS)
        minute, milli = divmod(rest, 60_000)
        sec, milli = divmod(milli, 1000)
        return self.day_minutes(day)[minute] + self.secs[sec] + self.millis[milli]


class Threads:
    """Whom a reply answers, so that conversations are trees of collected tweets (depth 2 and more).

    A reply at index ``i`` of its stream-day answers the tweet at ``i - 1`` rounded down to a multiple of
    :data:`REOBSERVE_EVERY`: one of the tweets drawn from an RNG of its own, whose id, author and kind are
    rebuilt here from the same first draws (offset, author, kind) without rendering it. Its conversation is
    that tweet's, walking up while the answered tweet is itself a reply. A reply at index 0 answers a tweet
    never collected (its id derived from the reply's own), as every reply did before: both shapes stay in
    the sample. What a stream-day holds, and how many, is unchanged: only the references differ.
    """

    def __init__(self, plan: Plan, day_ms: list[int]) -> None:
        self.plan, self.day_ms = plan, day_ms
        self.rng = random.Random()
        self.seed_rng = super(random.Random, self.rng).seed  # as Random.seed for an int, minus a layer
        self.known: dict[tuple[int, int, int], tuple[int, int, bool]] = {}

    def tweet(
        self, si: int, cdi: int, index: int, author_of: Callable[[Callable[[], float]], int]
    ) -> tuple[int, int, bool]:
        """``(id, author, is a reply)`` of the tweet at ``index`` (a multiple of REOBSERVE_EVERY) of
        stream ``si`` on day ``cdi``: its first draws, in the order :meth:`_Page.tweet` makes them."""
        key = (si, cdi, index)
        known = self.known.get(key)
        if known is None:
            if len(self.known) >= 1 << 16:
                self.known.clear()
            self.seed_rng(mix(self.plan.seed, "tweet", si, cdi, index))
            r = self.rng.random
            count = self.plan.per_stream_day(cdi, si)
            lo = index * DAY_MS // count
            offset = lo + int(r() * ((index + 1) * DAY_MS // count - lo))
            tid = snowflake(self.day_ms[cdi] + offset, si, index)
            author = author_of(r)
            x = r()  # _Page._kind_and_mentions' first draw: 1 (a reply) from 0.6 to 0.8
            known = self.known[key] = (tid, author, 0.6 <= x < 0.8)
        return known

    @staticmethod
    def parent_index(index: int) -> int:
        return (index - 1) // REOBSERVE_EVERY * REOBSERVE_EVERY

    @staticmethod
    def uncollected_parent(tid: int) -> int:
        """The tweet a reply at index 0 answers: older, never collected, derived from the reply's id."""
        return tid - (1 + (tid >> 10) % (1 << 28)) * 1000

    def conversation(
        self, si: int, cdi: int, index: int, tid: int, author_of: Callable[[Callable[[], float]], int]
    ) -> int:
        """The conversation id of the reply ``tid`` at ``index``: the root up its chain of answered tweets."""
        while index > 0:
            index = self.parent_index(index)
            tid, _, is_reply = self.tweet(si, cdi, index, author_of)
            if not is_reply:
                return tid
        return self.uncollected_parent(tid)


class Renderer:
    """Renders the pages of one plan; holds what pages share (users, phrases, timestamps, RNGs)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.users = Users(plan.seed, plan.user_count, plan.accounts)
        self.times = Timestamps()
        self.day_ms = [int(datetime.combine(d, time(), UTC).timestamp() * 1000) for d in plan.day_dates()]
        self.openers, closers = phrases()
        # closers as UTF-8 bytes in latin-1 characters, and how many more bytes than code points they have
        self.closers = [(c.encode().decode("latin-1"), len(c.encode()) - len(c)) for c in closers]
        self.annotations = extras.annotation_pieces(self.openers)
        self.tweet_rng = random.Random()
        self.page_rng = random.Random()
        self.rules: dict[int, str] = {}  # the matching_rules member of a stream's messages
        self.threads = Threads(plan, self.day_ms)

    def page(self, di: int, si: int, page_no: int) -> Rendered:
        plan = self.plan
        if plan.streams[si].endpoint in SINGLE:
            return self.single(di, si, page_no)
        count = plan.per_stream_day(di, si)
        total = count + plan.reobserved(di, si)
        first = page_no * plan.page_size
        prev_token = (
            f',"previous_token":"{plan.token(di, si, page_no - 1)}"'
            if plan.streams[si].endpoint != ENDPOINT and page_no
            else ""
        )
        if first >= total:  # a stream-day without tweets, or the trailing empty page
            return f'{{"meta":{{"result_count":0{prev_token}}}}}'.encode(), 0, 0, ""
        last = min(total, first + plan.page_size)
        self.page_rng.seed(mix(plan.seed, "page", si, di, page_no))
        page = _Page(self, di, si)
        for pos in range(first, last):
            page.tweet(pos)
        ids = page.ids
        meta = f'"meta":{{"result_count":{len(ids)},"newest_id":"{ids[0]}","oldest_id":"{ids[-1]}"'
        if last < total or plan.page_count(di, si) > page_no + 1:
            meta += f',"next_token":"{plan.token(di, si, page_no + 1)}"'
        return page.body(meta + prev_token + "}"), len(ids), len(page.errs), str(ids[0])

    def single(self, di: int, si: int, page_no: int) -> Rendered:
        """A page of one tweet (``data`` an object): a stream message, oldest first and with the rule that
        matched, or a lookup; after the last tweet, a message with only errors (the stream disconnected,
        the looked-up tweet was deleted)."""
        plan = self.plan
        count = plan.per_stream_day(di, si)
        stream = plan.streams[si].endpoint == STREAM
        if page_no >= count:
            missing = snowflake(self.day_ms[di] + DAY_MS - 1, si, 0x3FF)
            return (DISCONNECT if stream else lookup_not_found(missing)).encode(), 0, 1, ""
        self.page_rng.seed(mix(plan.seed, "page", si, di, page_no))
        page = _Page(self, di, si)
        page.tweet(count - 1 - page_no if stream else page_no)
        rules = self.rules.get(si)
        if rules is None:
            rid = 1_600_000_000_000_000_000 + mix(plan.seed, "rule", si) % 10**17
            tag = json.dumps(plan.streams[si].stream)
            rules = self.rules[si] = f',"matching_rules":[{{"id":"{rid}","tag":{tag}}}]' if stream else ""
        return page.single_body(rules), 1, len(page.errs), str(page.ids[0])


class _Page:
    """The tweets of one page as they are drawn, and the includes and errors they call for.

    The hot path: every tweet goes through :meth:`tweet`; what it uses is copied into slots once a page.
    """

    __slots__ = (
        "di", "count", "reobs", "prev_count", "si", "na", "span", "own", "mentioned_account",
        "names", "mention", "openers", "closers", "iso", "day_ms", "minutes", "secs", "millis",
        "seed", "page_random", "seed_tweet_rng", "tweet_random", "users_json", "frags",
        "data", "inc", "errs", "users", "ids", "annotations", "media", "polls", "places", "threads",
    )  # fmt: skip

    def __init__(self, renderer: Renderer, di: int, si: int) -> None:
        plan = renderer.plan
        stream = plan.streams[si]
        self.di, self.si = di, si
        self.count, self.reobs = plan.per_stream_day(di, si), plan.reobserved(di, si)
        self.prev_count = plan.per_stream_day(di - 1, si) if di else 0
        self.na = len(plan.accounts)
        self.span = plan.user_count - self.na
        # the author: the account on its own timeline, else a user (a few post a lot)
        self.own = stream.account_uid if stream.endpoint == "user_tweets" else -1
        self.mentioned_account = stream.account_uid if stream.endpoint == "user_mentions" else -1
        users = renderer.users
        self.names, self.mention, self.users_json, self.frags = (
            users.names,
            users.mention,
            users.json,
            users.frags,
        )
        self.openers, self.closers = renderer.openers, renderer.closers
        self.annotations = renderer.annotations
        times = renderer.times
        self.iso, self.secs, self.millis = times.iso, times.secs, times.millis
        self.day_ms = renderer.day_ms
        self.minutes = {cdi: times.day_minutes(self.day_ms[cdi] // DAY_MS) for cdi in {di, max(di - 1, 0)}}
        self.seed = plan.seed
        self.page_random = renderer.page_rng.random
        # as Random.seed for an int, minus a layer
        self.seed_tweet_rng = super(random.Random, renderer.tweet_rng).seed
        self.tweet_random = renderer.tweet_rng.random
        self.data: list[str] = []
        self.inc: list[str] = []
        self.errs: list[str] = []
        self.users: dict[int, None] = {}  # authors and mentioned users, in order of appearance
        self.ids: list[int] = []
        self.media: list[str] = []
        self.polls: list[str] = []
        self.places: dict[int, None] = {}
        self.threads = renderer.threads

    def tweet(self, pos: int) -> None:
        """The tweet at position ``pos`` of the stream-day (newest first; yesterday's seen again last)."""
        if pos < self.count:  # today's tweets, newest first
            cdi, index, ccount = self.di, self.count - 1 - pos, self.count
        else:  # yesterday's, seen again
            cdi, index, ccount = (
                self.di - 1,
                (self.reobs - 1 - (pos - self.count)) * REOBSERVE_EVERY,
                self.prev_count,
            )
        if index % REOBSERVE_EVERY == 0:  # seen again tomorrow: drawn from its own RNG
            self.seed_tweet_rng(mix(self.seed, "tweet", self.si, cdi, index))
            r = self.tweet_random
        else:
            r = self.page_random
        lo = index * DAY_MS // ccount
        offset = lo + int(r() * ((index + 1) * DAY_MS // ccount - lo))
        ms = self.day_ms[cdi] + offset
        tid = snowflake(ms, self.si, index)
        self.ids.append(tid)
        author = self.own if self.own >= 0 else self.na + int(self.span * r() * r())
        self.users[author] = None
        kind, mentioned = self._kind_and_mentions(r)
        x = r()
        ntags = 0 if x < 0.2 else 1 if x < 0.6 else 2 if x < 0.8 else 3
        t0, step = int(r() * 9), 1 + int(r() * 8)
        oi = int(r() * PHRASES)
        opener = self.openers[oi]
        closer, extra = self.closers[int(r() * PHRASES)]
        if kind == 3:
            orig, prefix, ents, ref_id, refs = self._retweet(r, tid)
            reply = ""
        else:
            prefix, ents = self._mentions(mentioned) if mentioned else ("", "")
            ref_id, refs, reply = self._reference(r, kind, tid, ms, mentioned) if kind else (0, "", "")
            if kind == 1:
                ref_id, reply, conversation = self._answered(cdi, index, tid, ref_id, reply)
                refs = f'"referenced_tweets":[{{"type":"replied_to","id":"{ref_id}"}}],'
        text = f"{prefix}{opener} {closer}"
        if ntags:
            text, tags = _hashtags(text, len(text) - extra, ntags, t0, step)
            ents = f"{ents},{tags}" if ents else tags
        text, more, fields, history = self._extras(r, tid, ms, text, len(text) - extra, len(prefix), oi)
        if more:
            ents = f"{ents},{more}" if ents else more
        if kind == 2 or r() < 0.25:
            text, urls = _url(r, text, len(text) - extra, kind, tid, ref_id, index)
            ents = f"{ents},{urls}" if ents else urls
        if kind == 3:
            self._retweeted(r, ref_id, text[len(prefix) :], ms, orig)
        minute, milli = divmod(offset, 60_000)
        sec, milli = divmod(milli, 1000)
        sid = str(tid)
        history = history or f'["{sid}"]'
        entities = f',"entities":{{{ents}}}' if ents else ""
        self.data.append(
            f'{{"id":"{sid}","text":"{text}","created_at":"{self.minutes[cdi][minute]}{self.secs[sec]}'
            f'{self.millis[milli]}","author_id":"{USER_ID_BASE + author}","conversation_id":"'
            f'{conversation if kind == 1 else sid}","edit_history_tweet_ids":{history},{refs}'
            f'"public_metrics":{_counts(r, self.di - cdi)}{reply}{fields}{entities}}}'
        )

    def _extras(
        self, r: Callable[[], float], tid: int, ms: int, text: str, at: int, plen: int, oi: int
    ) -> tuple[str, str, str, str]:
        """The rest of the object model (see :mod:`.extras`): ``(text, more entities, more members,
        edit_history_tweet_ids or "")``; ``at``: the text's length in code points, ``plen``: its prefix's."""
        fields = REPLY_SOURCE[int(r() * N_REPLY_SOURCE)]
        y = r()
        if y < 0.19:  # attachments: media 15%, a poll 1%, a place 3%
            if y < 0.15:
                key, obj = extras.media(r, tid, ms, self.iso)
                self.media.append(obj)
                fields += f',"attachments":{{"media_keys":["{key}"]}}'
            elif y < 0.16:
                pid, obj = extras.poll(r, tid, ms, self.iso)
                self.polls.append(obj)
                fields += f',"attachments":{{"poll_ids":["{pid}"]}}'
            else:
                index, geo = extras.place(r)
                self.places[index] = None
                fields += geo
        ents, history = "", ""
        z = r()
        if z < 0.1:  # edited 3%, long 1%, withheld 0.5%, a cashtag 5%
            if z < 0.03:
                history, controls = extras.edits(r, tid, ms, self.iso)
                fields += controls
            elif z < 0.04:
                fields += f',"note_tweet":{{"text":"{text} {LONG_TAIL}"}}'
            elif z < 0.045:
                fields += WITHHELD[int(z * 1000) % 3]
            elif z >= 0.05:
                tag = CASHTAGS[int(z * 100) % len(CASHTAGS)]
                text += f" ${tag}"
                ents = f'"cashtags":[{{"start":{at + 1},"end":{at + 2 + len(tag)},"tag":"{tag}"}}]'
        w = r()
        if w < 0.5:  # context annotations 30% (one or two), an entity annotation 20%
            if w < 0.3:
                first = CONTEXTS[int(w * 1000) % N_CONTEXTS]
                two = f",{CONTEXTS[int(w * 7919) % N_CONTEXTS]}" if w < 0.1 else ""
                fields += f',"context_annotations":[{first}{two}]'
            else:
                start, end, tail = self.annotations[oi]
                note = f'"annotations":[{{"start":{plen + start},"end":{plen + end},"probability":{w:.4f},'
                note += f"{tail}]"
                ents = f"{ents},{note}" if ents else note
        return text, ents, fields, history

    def _author(self, r: Callable[[], float]) -> int:
        """A tweet's author from its draws, as :meth:`tweet` draws it (for :class:`Threads`)."""
        return self.own if self.own >= 0 else self.na + int(self.span * r() * r())

    def _answered(self, cdi: int, index: int, tid: int, ref_id: int, reply: str) -> tuple[int, str, int]:
        """A reply's ``(answered id, in_reply_to member, conversation id)`` (see :class:`Threads`); the
        draws of :meth:`_reference` are made all the same, so every other field keeps its value."""
        threads = self.threads
        conversation = threads.conversation(self.si, cdi, index, tid, self._author)
        if index == 0:
            return threads.uncollected_parent(tid), reply, conversation
        parent, author, _ = threads.tweet(self.si, cdi, threads.parent_index(index), self._author)
        return parent, f',"in_reply_to_user_id":"{USER_ID_BASE + author}"', conversation

    def _kind_and_mentions(self, r: Callable[[], float]) -> tuple[int, list[int]]:
        """0 original, 1 reply, 2 quote, 3 retweet; the users mentioned (the tracked account first, in its
        mentions stream, where a retweet becomes an original)."""
        x = r()
        kind = 0 if x < 0.6 else 1 if x < 0.8 else 2 if x < 0.88 else 3
        na, span = self.na, self.span
        x = r()
        if x < 0.5:
            mentioned = []
        elif x < 0.75:
            mentioned = [na + int(span * r())]
        else:
            mentioned = [na + int(span * r()), na + int(span * r())]
        if self.mentioned_account >= 0:
            mentioned.insert(0, self.mentioned_account)
            if kind == 3:
                kind = 0
        return kind, mentioned

    def _retweet(self, r: Callable[[], float], tid: int) -> tuple[int, str, str, int, str]:
        """A retweet, "RT @original_author: <their text>": the author, the prefix, its mention, the
        retweeted id and the referenced_tweets member."""
        orig = self.na + int(self.span * r())
        ref_id = tid - (1 + int(r() * (1 << 30))) * 1000
        uname, ulen, utail = self.names[orig] or self.mention(orig)
        self.users[orig] = None
        refs = f'"referenced_tweets":[{{"type":"retweeted","id":"{ref_id}"}}],'
        return orig, f"RT @{uname}: ", f'"mentions":[{{"start":3,"end":{3 + ulen},{utail}]', ref_id, refs

    def _mentions(self, mentioned: list[int]) -> tuple[str, str]:
        """The ``@user`` prefix of the text and its mention entities."""
        at = 0
        items = []
        prefix = ""
        for uid in mentioned:
            uname, ulen, utail = self.names[uid] or self.mention(uid)
            items.append(f'{{"start":{at},"end":{at + ulen},{utail}')
            self.users[uid] = None
            prefix += f"@{uname} "
            at += ulen + 1
        return prefix, f'"mentions":[{",".join(items)}]'

    def _reference(
        self, r: Callable[[], float], kind: int, tid: int, ms: int, mentioned: list[int]
    ) -> tuple[int, str, str]:
        """``(referenced id, referenced_tweets member, in_reply_to member)`` of a reply or a quote; the
        quoted tweet goes into includes."""
        if kind == 1:
            reply_to = mentioned[0] if mentioned else self.na + int(self.span * r())
            ref_id = tid - (1 + int(r() * (1 << 28))) * 1000
            refs = f'"referenced_tweets":[{{"type":"replied_to","id":"{ref_id}"}}],'
            return ref_id, refs, f',"in_reply_to_user_id":"{USER_ID_BASE + reply_to}"'
        ref_id = tid - (1 + int(r() * (1 << 28))) * 1000
        self.inc.append(
            f'{{"id":"{ref_id}","text":"{PAIRS[int(r() * NP)]}","created_at":"'
            f'{self.iso(ms - 3_600_000 * (1 + int(r() * 23)))}","author_id":"'
            f'{USER_ID_BASE + self.na + int(self.span * r())}","edit_history_tweet_ids":["{ref_id}"]}}'
        )
        return ref_id, f'"referenced_tweets":[{{"type":"quoted","id":"{ref_id}"}}],', ""

    def _retweeted(self, r: Callable[[], float], ref_id: int, text: str, ms: int, orig: int) -> None:
        """The retweeted tweet, in includes; or an error: it was deleted."""
        if r() < 0.1:
            self.errs.append(not_found(ref_id))
            return
        self.inc.append(
            f'{{"id":"{ref_id}","text":"{text}","created_at":"'
            f'{self.iso(ms - 3_600_000 * (1 + int(r() * 47)))}","author_id":"{USER_ID_BASE + orig}",'
            f'"edit_history_tweet_ids":["{ref_id}"],"public_metrics":{{"retweet_count":'
            f'{1 + int(r() * 500)},"reply_count":0,"like_count":{1 + int(r() * 2000)},'
            '"quote_count":0}}'
        )

    def body(self, meta: str) -> bytes:
        """The page: data, includes (users, tweets, media, polls, places), errors, meta."""
        return self._assemble("".join(['{"data":[', ",".join(self.data), "]"]), "," + meta)

    def single_body(self, end: str) -> bytes:
        """A one-tweet body: data (an object), includes, errors, then ``end`` (matching_rules or "")."""
        return self._assemble('{"data":' + self.data[0], end)

    def _assemble(self, head_text: str, end: str) -> bytes:
        """``head_text``, the includes (users from their cached JSON), the errors, ``end``, closed."""
        head = (head_text + ',"includes":{"users":[').encode("latin-1")
        tail = ["]"]
        if self.inc:
            tail += [',"tweets":[', ",".join(self.inc), "]"]
        if self.media:
            tail += [',"media":[', ",".join(self.media), "]"]
        if self.polls:
            tail += [',"polls":[', ",".join(self.polls), "]"]
        if self.places:
            tail += [',"places":[', ",".join(PLACES[i] for i in self.places), "]"]
        tail.append("}")
        if self.errs:
            tail += [',"errors":[', ",".join(self.errs), "]"]
        tail += [end, "}"]
        frags, users_json = self.frags, self.users_json
        users = b",".join([frags[u] or users_json(u) for u in self.users])
        return b"".join((head, users, "".join(tail).encode("latin-1")))


def _hashtags(text: str, at: int, ntags: int, t0: int, step: int) -> tuple[str, str]:
    """``text`` with ``ntags`` hashtags appended (from tag ``t0``, every ``step``-th), and their entities;
    ``at`` is the length of ``text`` in code points."""
    if ntags == 1:
        piece, plen, ptail = TAG_PIECES[t0]
        return text + piece, f'"hashtags":[{{"start":{at + 1},"end":{at + 1 + plen},{ptail}]'
    items = []
    for j in range(ntags):
        piece, plen, ptail = TAG_PIECES[(t0 + j * step) % 9]
        items.append(f'{{"start":{at + 1},"end":{at + 1 + plen},{ptail}')
        text += piece
        at += plen + 1
    return text, f'"hashtags":[{",".join(items)}]'


def _url(
    r: Callable[[], float], text: str, at: int, kind: int, tid: int, ref_id: int, index: int
) -> tuple[str, str]:
    """``text`` with a t.co link appended (to the quoted tweet, or a page), and its url entity."""
    short = tco(tid)
    at += 1
    if kind == 2:
        target = f"https://twitter.com/i/web/status/{ref_id}"
        display = "twitter.com/i/web/status/"
    else:
        word = WORDS[int(r() * NW)]
        target = f"https://example.com/{word}/{index}"
        display = f"example.com/{word}/{index}"[:25]
    urls = (
        f'"urls":[{{"start":{at},"end":{at + 23},"url":"{short}","expanded_url":"{target}",'
        f'"display_url":"{display}"}}]'
    )
    return f"{text} {short}", urls


def _counts(r: Callable[[], float], age: int) -> str:
    """``{public_metrics}`` then lang and possibly_sensitive (each sometimes missing), drawn in this order:
    growth, likes, lang, sensitive, the other counts, impressions. ``age``: days since created."""
    growth = 1.0 + age * (0.5 + r())
    likes = max(0, int(3 * growth / (1.0 - r()) ** 0.667) - 3)
    lang = LANG_PIECES[int(r() * 9)] if r() < 0.95 else ""
    sensitive = (
        (',"possibly_sensitive":true' if r() < 0.02 else ',"possibly_sensitive":false') if r() < 0.9 else ""
    )
    if likes:
        metrics = (
            f'"retweet_count":{int(likes * r() * 0.3)},"reply_count":{int(likes * r() * 0.1)},'
            f'"like_count":{likes},"quote_count":{int(likes * r() * 0.05)},'
            f'"bookmark_count":{int(likes * r() * 0.05)},'
        )
    else:  # (a third of new tweets) all zero, drawn all the same: the draws are in the sequence
        r(), r(), r(), r()
        metrics = NO_LIKES
    return f'{{{metrics}"impression_count":{int((likes + 5) * (20 + r() * 80))}}}{lang}{sensitive}'
