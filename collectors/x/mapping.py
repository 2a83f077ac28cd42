"""Pure mapping of X v2 tweets to ``CollectedPost``.

A raw item has the shape of a single-tweet lookup answer, so it is self-contained and keeps
every field X sent::

    {"data": {tweet}, "includes": {"users": [author], "media": [...]}}

``author_key`` is ``x:{username lower-case}``; the author must be among ``includes.users``
(requested with ``expansions=author_id``). Retweets are ``REPOST`` with ``repost_of`` set; a quote
is ``QUOTE``, a reply ``REPLY``. ``text`` has each ``t.co`` link replaced by its
``expanded_url`` from ``entities.urls``; tags come from ``entities.hashtags``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from collectors.base import BadPayload, CollectedPost, Platform, PostKind

_KINDS = {"retweeted": PostKind.REPOST, "quoted": PostKind.QUOTE, "replied_to": PostKind.REPLY}


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BadPayload(f"{what} is not an object")
    return value


def _list(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else []


def _count(metrics: Mapping[str, Any], name: str) -> int:
    value = metrics.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 0
    return value


def tweet_id(value: Any) -> str:
    """A tweet id as X sends it: a string of digits."""
    if isinstance(value, str) and value.isdigit() and value.isascii() and len(value) <= 25:
        return value
    raise BadPayload(f"bad tweet id {value!r}")


def parse_created(value: Any) -> datetime:
    if not isinstance(value, str):
        raise BadPayload("tweet has no created_at")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadPayload(f"bad created_at {value!r}") from exc
    if moment.tzinfo is None:
        raise BadPayload(f"created_at without a time zone: {value!r}")
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # year 1 with a positive offset falls before datetime.min
        raise BadPayload(f"created_at out of range: {value!r}") from exc


def expand_links(text: str, entities: Mapping[str, Any]) -> str:
    """Replace each t.co link by its ``expanded_url``."""
    for item in _list(entities.get("urls")):
        if not isinstance(item, Mapping):
            continue
        short, expanded = item.get("url"), item.get("expanded_url") or item.get("unwound_url")
        if isinstance(short, str) and short and isinstance(expanded, str) and expanded:
            text = text.replace(short, expanded)
    return text


def find_user(includes: Mapping[str, Any], user_id: Any) -> Mapping[str, Any] | None:
    for user in _list(includes.get("users")):
        if isinstance(user, Mapping) and user.get("id") == user_id:
            return user
    return None


def user_key(user: Mapping[str, Any]) -> str:
    username = user.get("username")
    if not isinstance(username, str) or not username.strip() or len(username) > 50:
        raise BadPayload("user without a username")
    return f"x:{username.strip().lstrip('@').lower()}"


def map_item(raw: Mapping[str, Any]) -> CollectedPost:
    """Map one tweet (with its ``includes``); raise ``BadPayload`` for anything unmappable."""
    try:
        return _map_item(raw)
    except BadPayload:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        raise BadPayload(f"unmappable tweet: {type(exc).__name__}: {exc}") from exc


def _map_item(raw: Mapping[str, Any]) -> CollectedPost:
    raw = _mapping(raw, "raw item")
    tweet = _mapping(raw.get("data"), "tweet")
    includes = raw.get("includes")
    includes = includes if isinstance(includes, Mapping) else {}
    key = tweet_id(tweet.get("id"))
    text = tweet.get("text")
    if not isinstance(text, str):
        raise BadPayload("tweet has no text")
    author = find_user(includes, tweet.get("author_id"))
    if author is None:
        raise BadPayload(f"author of tweet {key} not among includes.users")
    author_key = user_key(author)
    username = author_key.removeprefix("x:")
    entities = tweet.get("entities")
    entities = entities if isinstance(entities, Mapping) else {}
    tags: list[str] = []
    for item in _list(entities.get("hashtags")):
        if isinstance(item, Mapping) and isinstance(item.get("tag"), str) and item["tag"]:
            tags.append(item["tag"])
    kind, repost_of = PostKind.POST, None
    for ref in _list(tweet.get("referenced_tweets")):
        if not isinstance(ref, Mapping) or ref.get("type") not in _KINDS:
            continue
        ref_kind = _KINDS[str(ref.get("type"))]
        if ref_kind is PostKind.REPOST:
            kind, repost_of = PostKind.REPOST, tweet_id(ref.get("id"))
            break
        if kind is PostKind.POST or ref_kind is PostKind.QUOTE:
            kind = ref_kind
    metrics = tweet.get("public_metrics")
    metrics = metrics if isinstance(metrics, Mapping) else {}
    attachments = tweet.get("attachments")
    attachments = attachments if isinstance(attachments, Mapping) else {}
    media = [k for k in _list(attachments.get("media_keys")) if isinstance(k, str)]
    lang = tweet.get("lang")
    name = author.get("name")
    return CollectedPost(
        platform=Platform.X,
        global_key=key,
        local_id=key,
        url=f"https://x.com/{username}/status/{key}",
        author_key=author_key,
        author_name=name if isinstance(name, str) else None,
        created_at=parse_created(tweet.get("created_at")),
        text=expand_links(text, entities),
        tags=tuple(dict.fromkeys(tags)),
        media_count=len(set(media)),
        kind=kind,
        likes=_count(metrics, "like_count"),
        reposts=_count(metrics, "retweet_count"),
        replies=_count(metrics, "reply_count"),
        language=lang if isinstance(lang, str) and lang != "und" else None,
        repost_of=repost_of,
        raw=raw,
    )
