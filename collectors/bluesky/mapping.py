"""Map one ``app.bsky.feed.defs#postView`` (a plain dict, as the server sent it) to a CollectedPost.

Pure: no network, no SDK. Anything that cannot be mapped raises ``BadPayload``; nothing else
escapes. Lenient where a client would be (an invalid facet is ignored, a bad count is 0), strict
where identity is at stake (uri, cid, author did, record, a timestamp).

Text rules (``CollectedPost.text``): ``record.text`` with every link facet's display text (often
shortened, ``example.org/story/12…``) replaced by the facet's full URI, so that scoring can strip
links; mentions and hashtags stay as written. Facet offsets are UTF-8 byte indices; facets that
are out of range, overlap or cut a character in two are ignored.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard

import nh3

from collectors.base import BadPayload, CollectedPost, Platform, PostKind, Visibility

POST_COLLECTION = "app.bsky.feed.post"
_FACET_TAG = "app.bsky.richtext.facet#tag"
_FACET_LINK = "app.bsky.richtext.facet#link"
_FACET_MENTION = "app.bsky.richtext.facet#mention"
# nh3.clean's defaults, built once: building them for every call was half its cost
_SANITISER = nh3.Cleaner()


def normalise_tag(tag: str) -> str:
    """Compare tags as scoring does: without '#', NFKC, case-folded."""
    return unicodedata.normalize("NFKC", tag.strip().lstrip("#")).casefold()


@dataclass(frozen=True, slots=True)
class AtPostUri:
    did: str  # the repository: a did (or, rarely, a handle)
    rkey: str

    @property
    def uri(self) -> str:
        return f"at://{self.did}/{POST_COLLECTION}/{self.rkey}"

    @property
    def web_url(self) -> str:
        return f"https://bsky.app/profile/{self.did}/post/{self.rkey}"


# whitespace (``\s`` is exactly ``str.isspace``), a query or a fragment: not a post uri
_URI_BREAK = re.compile(r"[\s?#]")


def parse_post_uri(value: object) -> AtPostUri:
    """Split ``at://{did}/app.bsky.feed.post/{rkey}``; raise BadPayload for anything else."""
    if not isinstance(value, str) or not value.startswith("at://"):
        raise BadPayload(f"not an at:// uri: {value!r:.80}")
    parts = value[5:].split("/")
    if len(parts) != 3 or parts[1] != POST_COLLECTION or not parts[0] or not parts[2]:
        raise BadPayload(f"not a post uri: {value!r:.80}")
    if _URI_BREAK.search(value):
        raise BadPayload(f"not a post uri: {value!r:.80}")
    return AtPostUri(did=parts[0], rkey=parts[2])


def parse_datetime(value: object) -> datetime:
    """Parse an XRPC datetime to aware UTC (a missing zone is taken as UTC)."""
    if not isinstance(value, str) or not value or len(value) > 64:
        raise BadPayload(f"not a datetime: {value!r:.80}")
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise BadPayload(f"not a datetime: {value!r:.80}") from exc


def sort_at(view: Mapping[str, Any]) -> datetime | None:
    """The instant search orders and filters by: min(createdAt, indexedAt), when they parse."""
    record = view.get("record")
    created = record.get("createdAt") if isinstance(record, Mapping) else None
    moments = []
    for value in (created, view.get("indexedAt")):
        try:
            moments.append(parse_datetime(value))
        except BadPayload:
            continue
    return min(moments) if moments else None


@dataclass(frozen=True, slots=True)
class _Facet:
    start: int
    end: int
    kind: str  # "tag" | "link" | "mention"
    value: str


def _facets(record: Mapping[str, Any], text_bytes: bytes) -> list[_Facet]:
    """Valid, non-overlapping facets in byte order; everything else is silently skipped."""
    raw = record.get("facets")
    if not isinstance(raw, list):
        return []
    found: list[_Facet] = []
    for facet in raw:
        if not isinstance(facet, Mapping):
            continue
        index = facet.get("index")
        features = facet.get("features")
        if not isinstance(index, Mapping) or not isinstance(features, list):
            continue
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not (_is_int(start) and _is_int(end) and 0 <= start < end <= len(text_bytes)):
            continue
        try:
            text_bytes[start:end].decode("utf-8")  # must not cut a character
            text_bytes[:start].decode("utf-8")
        except UnicodeDecodeError:
            continue
        for feature in features:
            parsed = _feature(feature)
            if parsed is not None:
                found.append(_Facet(start, end, *parsed))
    found.sort(key=lambda f: (f.start, f.end))
    result: list[_Facet] = []
    for facet in found:
        if result and facet.start < result[-1].end:
            continue  # overlapping: keep the first
        result.append(facet)
    return result


def _feature(feature: object) -> tuple[str, str] | None:
    if not isinstance(feature, Mapping):
        return None
    kind = feature.get("$type")
    if kind == _FACET_TAG and isinstance(feature.get("tag"), str) and feature["tag"].strip("#"):
        return "tag", feature["tag"].lstrip("#")
    if kind == _FACET_LINK and isinstance(feature.get("uri"), str) and feature["uri"]:
        return "link", feature["uri"]
    if kind == _FACET_MENTION and isinstance(feature.get("did"), str) and feature["did"]:
        return "mention", feature["did"]
    return None


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return 0


def _render(text_bytes: bytes, facets: Sequence[_Facet]) -> tuple[str, str]:
    """Return (plain text with full link URIs, sanitised HTML)."""
    plain: list[str] = []
    markup: list[str] = []
    position = 0
    for facet in facets:
        before = text_bytes[position : facet.start].decode("utf-8")
        shown = text_bytes[facet.start : facet.end].decode("utf-8")
        plain.append(before)
        markup.append(_html_text(before))
        if facet.kind == "link":
            plain.append(facet.value)
            href = facet.value
        elif facet.kind == "mention":
            plain.append(shown)
            href = f"https://bsky.app/profile/{facet.value}"
        else:
            plain.append(shown)
            href = f"https://bsky.app/hashtag/{facet.value}"
        markup.append(f'<a href="{html.escape(href, quote=True)}">{_html_text(shown)}</a>')
        position = facet.end
    rest = text_bytes[position:].decode("utf-8")
    plain.append(rest)
    markup.append(_html_text(rest))
    return "".join(plain), _SANITISER.clean(f"<p>{''.join(markup)}</p>")


def _html_text(text: str) -> str:
    return html.escape(text, quote=False).replace("\n", "<br>")


def _strings(value: object) -> Iterable[str]:
    if isinstance(value, list):
        yield from (v for v in value if isinstance(v, str))


def _embed_facts(embed: object) -> tuple[int, bool]:
    """(media count, quotes a record) of an embed view or record embed."""
    if not isinstance(embed, Mapping):
        return 0, False
    kind = embed.get("$type")
    if not isinstance(kind, str):
        return 0, False
    kind = kind.removesuffix("#view")
    if kind == "app.bsky.embed.images":
        images = embed.get("images")
        return (len(images) if isinstance(images, list) else 0), False
    if kind == "app.bsky.embed.video":
        return 1, False
    if kind == "app.bsky.embed.record":
        return 0, True
    if kind == "app.bsky.embed.recordWithMedia":
        return _embed_facts(embed.get("media"))[0], True
    return 0, False


def map_item(raw: Mapping[str, Any]) -> CollectedPost:
    """Map one postView; raise ``BadPayload`` for anything unmappable."""
    try:
        return _map_item(raw)
    except BadPayload:
        raise
    except (ValueError, RecursionError) as exc:
        # lone surrogates in text (UnicodeEncodeError) and absurdly deep values (repr in messages)
        raise BadPayload(f"unmappable post view: {type(exc).__name__}") from exc


def _map_item(raw: Mapping[str, Any]) -> CollectedPost:
    if not isinstance(raw, Mapping):
        raise BadPayload(f"a post view must be an object, not {type(raw).__name__}")
    uri = raw.get("uri")
    at_uri = parse_post_uri(uri)
    cid = raw.get("cid")
    if not isinstance(cid, str) or not cid:
        raise BadPayload(f"post {uri} has no cid")
    author = raw.get("author")
    if not isinstance(author, Mapping):
        raise BadPayload(f"post {uri} has no author")
    did = author.get("did")
    if not isinstance(did, str) or not did.startswith("did:"):
        raise BadPayload(f"post {uri} has no author did")
    record = raw.get("record")
    if not isinstance(record, Mapping):
        raise BadPayload(f"post {uri} has no record")
    record_type = record.get("$type", "app.bsky.feed.post")
    if record_type != "app.bsky.feed.post":
        raise BadPayload(f"post {uri} holds a {record_type!r:.60} record")
    text = record.get("text", "")
    if not isinstance(text, str):
        raise BadPayload(f"post {uri} has a non-text text")
    created = record.get("createdAt")
    created_at = parse_datetime(created if created is not None else raw.get("indexedAt"))

    try:
        text_bytes = text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates are not text
        raise BadPayload(f"post {uri} has invalid text") from exc
    facets = _facets(record, text_bytes)
    plain, rendered = _render(text_bytes, facets)

    tags: dict[str, None] = {}
    for facet in facets:
        if facet.kind == "tag":
            tags.setdefault(facet.value, None)
    for tag in _strings(record.get("tags")):
        if tag.strip("#").strip():
            tags.setdefault(tag.lstrip("#"), None)

    media_count, quotes = _embed_facts(raw.get("embed"))
    if not media_count and not quotes:
        media_count, quotes = _embed_facts(record.get("embed"))
    if isinstance(record.get("reply"), Mapping):
        kind = PostKind.REPLY
    elif quotes:
        kind = PostKind.QUOTE
    else:
        kind = PostKind.POST

    handle = author.get("handle")
    aliases: tuple[str, ...] = ()
    if isinstance(handle, str) and handle and handle != "handle.invalid":
        aliases = (f"bluesky:{handle.lower()}",)
    name = author.get("displayName")
    langs = [lang for lang in _strings(record.get("langs")) if lang]
    repo = AtPostUri(did=did, rkey=at_uri.rkey)
    return CollectedPost(
        platform=Platform.BLUESKY,
        global_key=at_uri.uri,
        local_id=at_uri.uri,
        url=repo.web_url,
        author_key=f"bluesky:{did}",
        author_name=(name.strip() or None) if isinstance(name, str) else None,
        created_at=created_at,
        text=plain,
        html=rendered,
        edited_at=None,  # an edit shows as a new cid (``version``); bsky records no edit time
        tags=tuple(tags),
        media_count=media_count,
        kind=kind,
        visibility=Visibility.PUBLIC,
        likes=_count(raw.get("likeCount")),
        reposts=_count(raw.get("repostCount")),
        replies=_count(raw.get("replyCount")),
        language=langs[0] if langs else None,
        version=cid,
        repost_of=None,  # searchPosts/getPosts return posts; reposts only appear in feeds
        author_aliases=aliases,
        raw=raw,
    )
