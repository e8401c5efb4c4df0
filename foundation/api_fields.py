"""What the lake asks the X API v2 for: the fields and expansions of every request, one home.

The API source (:mod:`ingestion.sources.api`) sends them; the schema-drift monitor
(:mod:`expectations.monitors`) takes a field asked for as declared even where silver does not read it
(bronze keeps every field as received).
"""

from __future__ import annotations

# The full object model, as the X API v2 reference lists it for the three endpoints called: their shared
# TweetFieldsParameter, TweetExpansionsParameter, UserFieldsParameter, MediaFieldsParameter,
# PollFieldsParameter and PlaceFieldsParameter in the reference's OpenAPI document (github.com/xdevplatform/
# docs, openapi.json at 64486539; rendered as docs.x.com/x-api/posts/recent-search and its siblings).
# Left out, because an app-only bearer token cannot have them: the metrics the reference says need user
# context (non_public_metrics, organic_metrics, promoted_metrics, of Posts and media), and the user fields
# about the authenticated user's relation to a user (connection_status, receives_your_dm, subscription).
TWEET_FIELDS = ",".join(
    (
        "article",
        "attachments",
        "author_id",
        "card_uri",
        "community_id",
        "context_annotations",
        "conversation_id",
        "created_at",
        "display_text_range",
        "edit_controls",
        "edit_history_tweet_ids",
        "entities",
        "geo",
        "id",
        "in_reply_to_user_id",
        "lang",
        "media_metadata",
        "note_tweet",
        "possibly_sensitive",
        "public_metrics",
        "referenced_tweets",
        "reply_settings",
        "scopes",
        "source",
        "text",
        "withheld",
    )
)
EXPANSIONS = ",".join(
    (
        "article.cover_media",
        "article.media_entities",
        "attachments.media_keys",
        "attachments.media_source_tweet",
        "attachments.poll_ids",
        "author_id",
        "edit_history_tweet_ids",
        "entities.mentions.username",
        "geo.place_id",
        "in_reply_to_user_id",
        "entities.note.mentions.username",
        "referenced_tweets.id",
        "referenced_tweets.id.author_id",
    )
)
USER_FIELDS = ",".join(
    (
        "affiliation",
        "created_at",
        "description",
        "entities",
        "id",
        "is_identity_verified",
        "location",
        "most_recent_tweet_id",
        "name",
        "parody",
        "pinned_tweet_id",
        "profile_banner_url",
        "profile_image_url",
        "protected",
        "public_metrics",
        "subscription_type",
        "url",
        "username",
        "verified",
        "verified_followers_count",
        "verified_type",
        "withheld",
    )
)
MEDIA_FIELDS = ",".join(
    (
        "alt_text",
        "duration_ms",
        "height",
        "media_key",
        "preview_image_url",
        "public_metrics",
        "type",
        "url",
        "variants",
        "width",
    )
)
POLL_FIELDS = "duration_minutes,end_datetime,id,options,voting_status"
PLACE_FIELDS = "contained_within,country,country_code,full_name,geo,id,name,place_type"
