"""The rest of the full object model in sample tweets: media, polls, places, annotations, cashtags, long
posts, edits, withheld, reply settings and source, as ready-made JSON pieces and their renderers.

Shares (of tweets, drawn per tweet): media 15% (photo 60%, video 25% with variants and duration,
animated GIF 15%), a poll 1%, a place 3% (a third with coordinates); edited 3% (two or three versions),
a long post with ``note_tweet`` 1%, withheld 0.5%, a cashtag 5%; context annotations 30%, an entity
annotation 20%. Every tweet has ``reply_settings`` and ``source``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ingestion.sources.sample.vocabulary import MOODS, WORDS

REPLY_SETTINGS = ("everyone",) * 12 + ("following", "mentionedUsers", "subscribers", "verified")
SOURCES = ("Twitter for iPhone", "Twitter for Android", "Twitter Web App", "TweetDeck", "Buffer", "dlvr.it")
# reply_settings and source from one draw: every combination equally likely
REPLY_SOURCE = tuple(f',"reply_settings":"{r}","source":"{s}"' for r in REPLY_SETTINGS for s in SOURCES)
N_REPLY_SOURCE = len(REPLY_SOURCE)

_DOMAINS = (
    ("46", "Business Taxonomy", "Categories within Brand Verticals that narrow down the scope of Brands"),
    ("66", "Interests and Hobbies Category", "A grouping of interests and hobbies entities"),
    ("131", "Unified Twitter Taxonomy", "A taxonomy of user interests. "),
    ("47", "Brand", "Brands and Companies"),
)
_ENTITIES = (
    ("1557696940178935808", "Gaming Business"),
    ("848920371311001600", "Technology"),
    ("1007360414114435072", "Data science"),
    ("10026820777", "Python"),
    ("1142253618110902272", "DuckDB"),
    ("847544972781826048", "Open source"),
)
CONTEXTS = tuple(
    f'{{"domain":{{"id":"{d[0]}","name":"{d[1]}","description":"{d[2]}"}},'
    f'"entity":{{"id":"{e[0]}","name":"{e[1]}"}}}}'
    for d in _DOMAINS
    for e in _ENTITIES
)
N_CONTEXTS = len(CONTEXTS)
CASHTAGS = ("DUCK", "SNOW", "DDOG", "MDB", "GOOG", "MSFT")
ANNOTATION_TYPES = {"python": "Product", "sql": "Product", "parquet": "Product", "docs": "Other"}
WITHHELD = (
    ',"withheld":{"copyright":false,"country_codes":["DE"]}',
    ',"withheld":{"copyright":false,"country_codes":["FR","DE"]}',
    ',"withheld":{"copyright":true,"country_codes":["XX"]}',
)
# the rest of a long post (note_tweet): with the tweet's own text, well over 280 characters
LONG_TAIL = " ".join(WORDS[(i * 7) % len(WORDS)] for i in range(48)) + " (thread, 1/1)"
# (id, full_name, name, country, country_code, place_type, bbox, a point inside)
_PLACES = (
    ("3078869807f9dd36", "Berlin, Germany", "Berlin", "Germany", "DE", "city", (13.09, 52.34, 13.76, 52.68)),
    ("01a9a39529b27f36", "Manhattan, NY", "Manhattan", "United States", "US", "city",
     (-74.03, 40.68, -73.91, 40.88)),
    ("68e019afec7d0ba5", "São Paulo, Brasil", "São Paulo", "Brasil", "BR", "city",
     (-46.83, -24.01, -46.37, -23.36)),
    ("0a84b1f44e9d1bfb", "Tokyo-to, Japan", "Tokyo-to", "Japan", "JP", "admin",
     (138.94, 24.22, 153.99, 35.90)),
    ("d0ad3a76e3dea9d5", "Zürich, Schweiz", "Zürich", "Schweiz", "CH", "city", (8.45, 47.32, 8.63, 47.43)),
    ("07d9e3ab1e887000", "Blue Bottle Coffee", "Blue Bottle Coffee", "United States", "US", "poi",
     (-122.41, 37.78, -122.41, 37.78)),
)  # fmt: skip
PLACES = tuple(
    json.dumps(
        {
            "id": pid,
            "full_name": full,
            "name": name,
            "country": country,
            "country_code": code,
            "place_type": kind,
            "geo": {"type": "Feature", "bbox": list(bbox), "properties": {}},
            "contained_within": [],
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    .encode()
    .decode("latin-1")  # bytes in a str, as the page renderer builds bodies
    for pid, full, name, country, code, kind, bbox in _PLACES
)
PLACE_IDS = tuple(p[0] for p in _PLACES)
PLACE_POINTS = tuple(((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for *_, b in _PLACES)
N_PLACES = len(PLACES)


def annotation_pieces(openers: tuple[str, ...]) -> list[tuple[int, int, str]]:
    """For each text opener (a mood, then words): where its first word is (start, end inclusive, as the
    v2 data dictionary defines annotation offsets) and the rest of its annotation entity."""
    out = []
    for opener in openers:
        mood = next(m for m in MOODS if opener.startswith(m + " "))
        start = len(mood) + 1
        word = opener[start:].split(" ", 1)[0]
        kind = ANNOTATION_TYPES.get(word, "Other")
        out.append((start, start + len(word) - 1, f'"type":"{kind}","normalized_text":"{word}"}}'))
    return out


def media(r: Callable[[], float], tid: int, ms: int, iso: Callable[[int], str]) -> tuple[str, str]:
    """``(media key, includes.media object)`` of one photo, video or animated GIF of tweet ``tid``."""
    x = r()
    h = (tid >> 10) * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFF
    if x < 0.6:
        key = f"3_{tid}"
        alt = f',"alt_text":"{WORDS[int(x * 60) % len(WORDS)]} on a screen"' if x < 0.3 else ""
        return key, (
            f'{{"media_key":"{key}","type":"photo","url":"https://pbs.twimg.com/media/G{h:011x}.jpg",'
            f'"width":{1200 + int(x * 1000)},"height":{675 + int(x * 600)}{alt}}}'
        )
    if x < 0.85:
        key = f"13_{tid}"
        duration = 2_000 + int(r() * 138_000)
        base = f"https://video.twimg.com/ext_tw_video/{tid}/pu"
        return key, (
            f'{{"media_key":"{key}","type":"video","duration_ms":{duration},"width":1280,"height":720,'
            f'"preview_image_url":"https://pbs.twimg.com/ext_tw_video_thumb/{tid}/pu/img/{h:012x}.jpg",'
            f'"public_metrics":{{"view_count":{int(r() * 50_000)}}},"variants":['
            f'{{"bit_rate":2176000,"content_type":"video/mp4","url":"{base}/vid/1280x720/{h:012x}.mp4"}},'
            f'{{"bit_rate":832000,"content_type":"video/mp4","url":"{base}/vid/640x360/{h:012x}.mp4"}},'
            f'{{"content_type":"application/x-mpegURL","url":"{base}/pl/{h:012x}.m3u8"}}]}}'
        )
    key = f"16_{tid}"
    return key, (
        f'{{"media_key":"{key}","type":"animated_gif","width":498,"height":280,'
        f'"preview_image_url":"https://pbs.twimg.com/tweet_video_thumb/G{h:011x}.jpg","variants":['
        f'{{"bit_rate":0,"content_type":"video/mp4","url":"https://video.twimg.com/tweet_video/G{h:011x}.mp4"}}]}}'
    )


def poll(r: Callable[[], float], tid: int, ms: int, iso: Callable[[int], str]) -> tuple[str, str]:
    """``(poll id, includes.polls object)``: two to four options, closed a day after the tweet."""
    pid = str(tid - 7)
    n = 2 + int(r() * 3)
    options = ",".join(
        f'{{"position":{i + 1},"label":"{WORDS[(tid >> (4 * i)) % len(WORDS)]}","votes":{int(r() * 400)}}}'
        for i in range(n)
    )
    return pid, (
        f'{{"id":"{pid}","options":[{options}],"duration_minutes":1440,'
        f'"end_datetime":"{iso(ms + 86_400_000)}","voting_status":"closed"}}'
    )


def place(r: Callable[[], float]) -> tuple[int, str]:
    """``(place index, geo member)``: a place, a third of the time with the exact coordinates."""
    i = int(r() * N_PLACES)
    if r() < 1 / 3:
        lon, lat = PLACE_POINTS[i]
        point = f',"coordinates":{{"type":"Point","coordinates":[{lon:.4f},{lat:.4f}]}}'
    else:
        point = ""
    return i, f',"geo":{{"place_id":"{PLACE_IDS[i]}"{point}}}'


def edits(r: Callable[[], float], tid: int, ms: int, iso: Callable[[int], str]) -> tuple[str, str]:
    """``(edit_history_tweet_ids, edit_controls member)`` of an edited tweet: two or three versions, the
    earlier ones minutes before (same low bits: ids no other tweet has), oldest first."""
    first_ms = ms
    ids = [tid]
    for _ in range(1 if r() < 0.7 else 2):
        back = 60_000 * (1 + int(r() * 9))
        first_ms -= back
        ids.append(ids[-1] - (back << 22))
    history = ",".join(f'"{i}"' for i in reversed(ids))
    controls = (
        f',"edit_controls":{{"edits_remaining":{6 - len(ids)},"is_edit_eligible":false,'
        f'"editable_until":"{iso(first_ms + 1_800_000)}"}}'
    )
    return f"[{history}]", controls
