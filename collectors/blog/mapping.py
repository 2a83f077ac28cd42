"""Pure mapping of RSS/Atom entries and article pages to ``CollectedPost``.

A raw item is JSON-safe (it is stored for audit and re-mapping)::

    {"feed_url": FEED_URL, "feed": {"title", "link", "language"}, "entry": {...feedparser entry...}}

where the entry is feedparser's dictionary with ``*_parsed`` time tuples turned into ISO-8601
strings. Unknown fields stay in it.

Keys. An entry's global key is its ``id`` (RSS ``guid`` / Atom ``id``, kept verbatim, opaque),
else its normalised link: scheme and host lower-cased, default port dropped, fragment dropped,
tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ``mc_cid``, ``mc_eid``) dropped, the other
parameters kept in order, and the trailing slash of a non-root path removed (WordPress and Ghost
serve ``/2025/10/slug`` and ``/2025/10/slug/`` as one article, so we count them once).
"""

from __future__ import annotations

import hashlib
import html as html_lib
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
import nh3

from collectors.base import BadPayload, CollectedPost, Platform, PostKind

_TRACKING_PARAMS = ("fbclid", "gclid", "mc_cid", "mc_eid")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# nh3.clean's defaults, built once: building them for every call was half its cost
_SANITISER = nh3.Cleaner()
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
_WHITESPACE = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_HASHTAG_OR_MENTION = re.compile(r"^\s*[#@][\w.@-]+\s*$", re.UNICODE)


# --- links --------------------------------------------------------------------------------------


def clean_link(url: str) -> str:
    """Lower-case scheme and host, drop the default port, the fragment and tracking parameters."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise BadPayload(f"bad link {url!r}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise BadPayload(f"link is not an absolute http(s) URL: {url!r}")
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    if parts.username or parts.password:
        raise BadPayload("link carries credentials")
    query = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not name.lower().startswith("utm_") and name.lower() not in _TRACKING_PARAMS
    ]
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def normalise_link(url: str) -> str:
    """The key form of a link: ``clean_link`` plus no trailing slash on a non-root path."""
    cleaned = urlsplit(clean_link(url))
    path = cleaned.path
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    return urlunsplit((cleaned.scheme, cleaned.netloc, path, cleaned.query, ""))


# --- HTML ---------------------------------------------------------------------------------------

_BLOCKS = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "figure",
        "figcaption",
        "table",
        "tr",
        "section",
        "article",
        "header",
        "footer",
        "hr",
    }
)
_SKIPPED = frozenset({"script", "style", "noscript", "template", "iframe", "object"})


class _TextExtractor(HTMLParser):
    """HTML to plain text; links that are not hashtags or mentions appear as their full URL."""

    def __init__(self, base_url: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.parts: list[str] = []
        self.images: list[str] = []
        self._skip = 0
        self._links: list[tuple[str | None, int]] = []  # (href, index in parts where it started)

    def _absolute(self, href: str) -> str:
        href = href.strip()
        return urljoin(self.base_url, href) if self.base_url else href

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
            return
        if tag in _BLOCKS:
            self.parts.append("\n")
        values = dict(attrs)
        if tag == "a":
            href = values.get("href")
            self._links.append((self._absolute(href) if href else None, len(self.parts)))
        elif tag == "img" and values.get("src"):
            self.images.append(self._absolute(values["src"] or ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "a":
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
            return
        if tag == "a" and self._links:
            href, start = self._links.pop()
            label = "".join(self.parts[start:]).strip()
            if href and href.lower().startswith(("http://", "https://")):
                if _HASHTAG_OR_MENTION.match(label):
                    return  # a tag or mention link stays "#tag" / "@user"
                bare = re.sub(r"^https?://(www\.)?", "", label).rstrip("/…. ")
                if not label or bare and href.replace("www.", "").find(bare) >= 0:
                    self.parts[start:] = [href]  # the label was the URL (or a shortened form)
                else:
                    self.parts.append(f" {href}")
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            # Source line breaks are plain whitespace in HTML; only block tags break lines.
            self.parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        raw = "".join(self.parts)
        lines = [_WHITESPACE.sub(" ", line).strip() for line in raw.split("\n")]
        return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def html_to_text(html: str, base_url: str | None = None) -> tuple[str, list[str]]:
    """Return the plain text of ``html`` and the absolute ``src`` of its images."""
    extractor = _TextExtractor(base_url)
    try:
        extractor.feed(html)
        extractor.close()
    except (AssertionError, ValueError) as exc:  # html.parser's rare hard failures
        raise BadPayload(f"unparseable HTML: {exc}") from exc
    return extractor.text(), extractor.images


def sanitise_html(html: str) -> str:
    """Sanitise for display: no scripts, no event handlers, no javascript: URLs."""
    return _SANITISER.clean(html)


# --- feeds --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """The entries of one feed document, as raw JSON-safe items, in document order."""

    items: Sequence[dict[str, Any]]
    well_formed: bool
    version: str
    problem: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)


def _iso_from_struct(value: Any) -> str | None:
    if not isinstance(value, time.struct_time | tuple) or len(value) < 6:
        return None
    try:
        year, month, day, hour, minute, second = (int(v) for v in value[:6])
        moment = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None
    return moment.isoformat().replace("+00:00", "Z")


def jsonable(value: Any, depth: int = 0) -> Any:
    """Turn feedparser's structures into plain JSON-safe values (struct_time → ISO string)."""
    if depth > 40:
        return None
    if isinstance(value, time.struct_time):
        return _iso_from_struct(value)
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            result[str(key)] = (
                _iso_from_struct(item) if str(key).endswith("_parsed") else jsonable(item, depth + 1)
            )
        return result
    if isinstance(value, list | tuple):
        return [jsonable(item, depth + 1) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def parse_feed(content: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse RSS/Atom bytes; raise ``BadPayload`` for documents that are not feeds at all.

    An ill-formed document (truncated, or a broken feed, or garbage) yields what the lenient
    parser recovered (often nothing) with ``well_formed=False``, so that the caller can retry a
    body that may have been cut short and avoid trusting it.
    """
    if _ENTITY_DECLARATION.search(content):
        # Entity declarations in a feed serve no honest purpose and enable expansion bombs.
        raise BadPayload("feed declares XML entities")
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        parsed = feedparser.parse(content, response_headers=headers, sanitize_html=False)
    except Exception as exc:  # feedparser's contract is "never raises"; make sure of it
        raise BadPayload(f"feed parser failed: {type(exc).__name__}") from exc
    problem = parsed.get("bozo_exception")
    ill_formed = bool(parsed.get("bozo")) and not isinstance(
        problem,
        feedparser.CharacterEncodingOverride | feedparser.NonXMLContentType,
    )
    version = str(parsed.get("version") or "")
    entries = parsed.get("entries") or []
    if not version and not entries and not ill_formed:
        raise BadPayload("not an RSS or Atom feed")
    feed = parsed.get("feed") or {}
    info = {
        "title": jsonable(feed.get("title")),
        "link": jsonable(feed.get("link")),
        "language": jsonable(feed.get("language")),
    }
    items = [{"feed_url": url, "feed": info, "entry": jsonable(entry)} for entry in entries]
    return ParsedFeed(
        items=items,
        well_formed=not ill_formed,
        version=version,
        problem=None if problem is None else f"{type(problem).__name__}: {problem}",
        info=info,
    )


# --- entries ------------------------------------------------------------------------------------


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _entry(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    entry = raw.get("entry") if isinstance(raw, Mapping) else None
    if not isinstance(entry, Mapping):
        raise BadPayload("raw item has no entry object")
    return entry


def entry_link(entry: Mapping[str, Any]) -> str | None:
    """The entry's alternate (HTML) link."""
    link = _str(entry.get("link"))
    if link:
        return link
    links = entry.get("links")
    if isinstance(links, list):
        for candidate in links:
            if isinstance(candidate, Mapping) and candidate.get("rel", "alternate") == "alternate":
                href = _str(candidate.get("href"))
                if href:
                    return href
    return None


def entry_key(raw: Mapping[str, Any]) -> str:
    """The global key: the entry id verbatim, else the normalised link."""
    entry = _entry(raw)
    entry_id = _str(entry.get("id"))
    if entry_id:
        return entry_id[:2000]
    link = entry_link(entry)
    if link:
        return normalise_link(link)
    raise BadPayload("entry has neither id nor link")


def _body_html(entry: Mapping[str, Any]) -> str:
    candidates: list[str] = []
    content = entry.get("content")
    if isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("value"), str):
                candidates.append(part["value"])
    summary = entry.get("summary")
    if isinstance(summary, str):
        candidates.append(summary)
    return max(candidates, key=len) if candidates else ""


def _is_html(entry: Mapping[str, Any], body: str) -> bool:
    for name in ("content", "summary_detail"):
        detail = entry.get(name)
        if isinstance(detail, list) and detail and isinstance(detail[0], Mapping):
            detail = detail[0]
        if isinstance(detail, Mapping) and detail.get("type") == "text/plain":
            return False
    return "<" in body or "&" in body


def fingerprint(raw: Mapping[str, Any]) -> str:
    """A short hash of what makes an entry's version: key, dates, title and body."""
    entry = raw.get("entry") if isinstance(raw, Mapping) else None
    if not isinstance(entry, Mapping):
        entry = {}
    try:
        key = entry_key(raw)
    except BadPayload:
        key = ""
    parts = [
        key,
        str(entry.get("updated_parsed") or entry.get("updated") or ""),
        str(entry.get("published_parsed") or ""),
        str(entry.get("title") or ""),
        _body_html(entry),
        json.dumps(entry.get("tags"), sort_keys=True, default=str),
    ]
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "replace")).hexdigest()[:16]


def _parse_iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 with a positive offset falls before datetime.min
        return None


def _tags(entry: Mapping[str, Any]) -> tuple[str, ...]:
    tags: list[str] = []
    raw_tags = entry.get("tags")
    if isinstance(raw_tags, list):
        for tag in raw_tags:
            if isinstance(tag, Mapping):
                term = _str(tag.get("term")) or _str(tag.get("label"))
                if term:
                    # WordPress sometimes sends "a, b" in one category; keep each one.
                    tags.extend(t.strip() for t in term.split(",") if t.strip())
    return tuple(dict.fromkeys(tags))


def _media(entry: Mapping[str, Any], images: list[str]) -> int:
    urls = set(images)
    for name in ("enclosures", "media_content", "links"):
        values = entry.get(name)
        if isinstance(values, list):
            for value in values:
                if not isinstance(value, Mapping):
                    continue
                if name == "links" and value.get("rel") != "enclosure":
                    continue  # feedparser keeps RSS enclosures among the links
                kind = str(value.get("type") or value.get("medium") or "")
                href = _str(value.get("href")) or _str(value.get("url"))
                if href and (not kind or kind.split("/")[0] in ("image", "video", "audio")):
                    urls.add(href)
    return len(urls)


def map_item(raw: Mapping[str, Any]) -> CollectedPost:
    """Map one raw feed item; raise ``BadPayload`` for anything unmappable."""
    try:
        return _map_item(raw)
    except BadPayload:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        raise BadPayload(f"unmappable entry: {type(exc).__name__}: {exc}") from exc


def _map_item(raw: Mapping[str, Any]) -> CollectedPost:
    entry = _entry(raw)
    feed_url = _str(raw.get("feed_url"))
    if not feed_url:
        raise BadPayload("raw item has no feed_url")
    key = entry_key(raw)
    link = entry_link(entry)
    url = clean_link(link) if link else None
    published = _parse_iso(entry.get("published_parsed"))
    updated = _parse_iso(entry.get("updated_parsed"))
    created = published or updated
    if created is None:
        raise BadPayload("entry has no usable published or updated date")
    title = _str(entry.get("title"))
    body = _body_html(entry)
    if _is_html(entry, body):
        body_text, images = html_to_text(body, url or feed_url)
        clean = sanitise_html(body)
    else:
        body_text, images, clean = body.strip(), [], html_lib.escape(body.strip())
    title_text = html_to_text(title, None)[0] if title else ""
    text = "\n\n".join(part for part in (title_text, body_text) if part)
    author = _str(entry.get("author"))
    if author is None and isinstance(entry.get("author_detail"), Mapping):
        author = _str(entry["author_detail"].get("name"))
    feed = raw.get("feed")
    language = _str(feed.get("language")) if isinstance(feed, Mapping) else None
    edited = updated if updated is not None and published is not None and updated > published else None
    version = (updated or published or created).isoformat().replace("+00:00", "Z")
    return CollectedPost(
        platform=Platform.BLOG,
        global_key=key,
        local_id=_str(entry.get("id")) or link or key,
        url=url,
        author_key=f"blog:{feed_url}",
        author_name=author,
        created_at=created,
        text=text,
        html=clean or None,
        edited_at=edited,
        tags=_tags(entry),
        media_count=_media(entry, images),
        kind=PostKind.ARTICLE,
        language=language,
        version=version,
        raw=raw,
    )


# --- article pages (claims, re-checks) ----------------------------------------------------------


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, list[str]] = {}
        self.links: list[dict[str, str]] = []
        self.title_parts: list[str] = []
        self._in_title = False
        self._article_depth = 0
        self._body_depth = 0
        self.article_chunks: list[str] = []
        self.body_chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            name = (values.get("property") or values.get("name") or "").lower()
            if name and "content" in values:
                self.meta.setdefault(name, []).append(values["content"])
        elif tag == "link":
            self.links.append(values)
        elif tag == "title":
            self._in_title = True
        if tag == "article":
            self._article_depth += 1
        if tag == "body":
            self._body_depth += 1
        self._emit(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        self._emit(f"</{tag}>")
        if tag == "article":
            self._article_depth = max(0, self._article_depth - 1)
        if tag == "body":
            self._body_depth = max(0, self._body_depth - 1)

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        self._emit(html_lib.escape(data, quote=False))

    def _emit(self, chunk: str) -> None:
        if self._article_depth:
            self.article_chunks.append(chunk)
        elif self._body_depth:
            self.body_chunks.append(chunk)


@dataclass(frozen=True, slots=True)
class ArticlePage:
    """The metadata of an article page that a claim or a re-check needs."""

    url: str
    title: str | None
    canonical: str | None
    published: datetime | None
    modified: datetime | None
    tags: tuple[str, ...]
    author: str | None
    feed_url: str | None
    html: str
    meta: Mapping[str, Sequence[str]]


def parse_article_page(content: bytes, url: str, charset: str | None = None) -> ArticlePage:
    """Read title, canonical link, og/article meta tags and the article body of an HTML page."""
    try:
        text = content.decode(charset or "utf-8", "replace")
    except LookupError:
        text = content.decode("utf-8", "replace")
    parser = _PageParser()
    try:
        parser.feed(text)
        parser.close()
    except (AssertionError, ValueError) as exc:
        raise BadPayload(f"unparseable HTML page: {exc}") from exc

    def first(*names: str) -> str | None:
        for name in names:
            for value in parser.meta.get(name, []):
                if value.strip():
                    return value.strip()
        return None

    canonical = None
    feed_url = None
    for link in parser.links:
        rel = link.get("rel", "").lower().split()
        href = link.get("href", "").strip()
        if not href:
            continue
        if "canonical" in rel and canonical is None:
            canonical = urljoin(url, href)
        if (
            "alternate" in rel
            and feed_url is None
            and link.get("type", "").lower()
            in (
                "application/rss+xml",
                "application/atom+xml",
            )
        ):
            feed_url = urljoin(url, href)
    og_url = first("og:url")
    tags = tuple(dict.fromkeys(t.strip() for t in parser.meta.get("article:tag", []) if t.strip()))
    body = "".join(parser.article_chunks) or "".join(parser.body_chunks)
    return ArticlePage(
        url=url,
        title=first("og:title") or ("".join(parser.title_parts).strip() or None),
        canonical=canonical or (urljoin(url, og_url) if og_url else None),
        published=_parse_iso(first("article:published_time", "og:published_time", "date")),
        modified=_parse_iso(first("article:modified_time", "og:updated_time")),
        tags=tags,
        author=first("author", "article:author"),
        feed_url=feed_url,
        html=body,
        meta=parser.meta,
    )


def page_to_post(
    page: ArticlePage, *, global_key: str | None, local_id: str | None, author_key: str | None
) -> CollectedPost:
    """Build a post from an article page (claims and re-checks); keys may be imposed."""
    link = page.canonical or page.url
    url = clean_link(link)
    created = page.published or page.modified
    if created is None:
        raise BadPayload("article page has no published time")
    body_text, images = html_to_text(page.html, url)
    title_text = page.title or ""
    if title_text and body_text.startswith(title_text):  # the page repeats its title in <h1>
        body_text = body_text[len(title_text) :].lstrip()
    text = "\n\n".join(part for part in (title_text, body_text) if part)
    return CollectedPost(
        platform=Platform.BLOG,
        global_key=global_key or normalise_link(link),
        local_id=local_id or url,
        url=url,
        author_key=author_key or f"blog:{page.feed_url or url}",
        author_name=page.author,
        created_at=created,
        text=text,
        html=sanitise_html(page.html) or None,
        edited_at=page.modified if page.modified and page.modified > created else None,
        tags=page.tags,
        media_count=len(set(images)),
        kind=PostKind.ARTICLE,
        version=(page.modified or created).isoformat().replace("+00:00", "Z"),
        raw={
            "page": {
                "url": page.url,
                "canonical": page.canonical,
                "title": page.title,
                "feed_url": page.feed_url,
                "meta": {k: list(v) for k, v in page.meta.items()},
            }
        },
    )
