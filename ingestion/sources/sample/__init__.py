"""A deterministic, seeded generator of realistic API v2 pages, for demos, tests and benchmarks.

The same arguments give the same pages, byte for byte, at any size and with any number of worker
processes. Memory stays bounded: pages are generated one at a time (a page is a pure function of
``(seed, stream, day, page number)``), never from a list of all tweets.

- :mod:`.plan`: what is generated: streams, days, tweets per stream-day, ids, pagination tokens;
- :mod:`.vocabulary`: words, hashtags, emoji, text halves and the users;
- :mod:`.extras`: the rest of the object model: media, polls, places, annotations, edits, long posts;
- :mod:`.render`: the bytes of a page;
- :mod:`.workers`: rendering in worker processes, in order, ahead of the consumer;
- :mod:`.source`: :class:`SampleSource`, the pulls.

What it produces, like the real API:

- snowflake ids (strings) increasing with ``created_at``; within a stream-day, items newest first;
- HTML-escaped text (``&amp;``, ``&lt;``, ``&gt;``) with emoji; hashtags, mentions and URLs with
  ``entities`` whose ``start``/``end`` count code points in the text *as returned* (escaped), ``end``
  exclusive, as the v2 data dictionary defines them;
- replies, quotes and retweets in ``referenced_tweets``, quoted/retweeted tweets in ``includes.tweets``,
  authors and mentioned users in ``includes.users``;
- every 33rd tweet of a day is seen again the next day (same id, text and author; metrics grown);
- optional fields sometimes missing; partial ``errors`` (a retweet of a deleted tweet); empty pages
  (``meta.result_count: 0``: a stream-day without tweets, or a trailing page after the last token);
- the full object model (:mod:`.extras`): photos, videos and GIFs in ``includes.media``, polls, places
  (some with coordinates), context and entity annotations, cashtags, ``note_tweet``, edited tweets,
  withheld, reply settings, source; users with verified type, protected, url, image, pinned tweet;
- every shape but ``flattened``: besides pages, a filtered stream capture (``search_stream``: messages
  with ``matching_rules``) and single-tweet lookups (``tweets_lookup``), each a tweet a page (``data`` an
  object), some days ending in a body with only ``errors``. Flattened lines are twarc's, not the API's:
  the replay fixtures (tests/data/real/) cover them. ``single_shapes=False`` generates pages only.
"""

from __future__ import annotations

from ingestion.sources.sample.plan import USER_ID_BASE
from ingestion.sources.sample.source import SampleSource

__all__ = ["USER_ID_BASE", "SampleSource"]
