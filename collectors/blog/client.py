"""Blogs: one RSS/Atom feed URL per source, fetched with httpx and parsed with feedparser.

Cursor (JSON)::

    {"v": 1, "etag": str | None, "last_modified": str | None, "seen": [fingerprint, ...]}

``seen`` holds a 16-hex-digit fingerprint (key, dates, title, body, categories) of every entry of
the last fully processed feed document, so a re-run emits only entries that are new or changed,
whatever the server does with ETags. A run is one feed document cut into pages of
``page_limit`` entries (50 by default), oldest first. Every page but the last carries the *old*
validators and the old ``seen`` plus the fingerprints of the entries emitted so far; only the last
page carries the new ETag/Last-Modified and the new ``seen`` (that feed's entries). Killed after
any page, the next run re-reads the feed and emits exactly the entries no saved page held.

An ill-formed document may be a cut-short body: it is retried; if it stays ill-formed, what the
lenient parser recovered is used but its validators are not saved (the next run reads the feed
in full again; fingerprints keep that from duplicating anything).

A 304 yields one empty page with the cursor unchanged. A post dropping out of a feed says nothing
about the post: ``recheck`` fetches its link and only 404/410 mean gone. An entry that cannot be
mapped is skipped, logged and counted in ``skipped_items``; the run goes on. With
``config.tags`` set, only entries carrying one of them (a category or a ``#hashtag`` in the text,
compared after NFKC case folding) are emitted; without, every entry is (per-reporter feeds).

URLs are fetched through ``collectors.net`` (public addresses only, size and time caps) unless
the source is trusted; a trusted source is trusted for its own origin only, so a link in its feed
or a claimed URL on another host is still checked.
"""

from __future__ import annotations

import functools
import logging
import random
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from collectors.base import (
    BadPayload,
    Clock,
    CollectedPage,
    CollectedPost,
    Engagement,
    InvalidSource,
    Platform,
    PostRef,
    RecheckResult,
    SourceBlocked,
    SourceConfig,
    SystemClock,
    TransientError,
)
from collectors.blog import mapping
from collectors.blog.mapping import ParsedFeed
from collectors.http import MalformedBody, RequestRunner, RetryPolicy
from collectors.net import (
    FetchResult,
    PublicAddressGuard,
    UnsafeAddress,
    conditional_headers,
    fetch_guarded,
    guarded_client,
    validators,
)

log = logging.getLogger(__name__)

USER_AGENT = "BlogItEarnIt/0.1 (+https://iucn.org/cec; feed reader)"
FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
DEFAULT_PAGE_SIZE = 50
MAX_SEEN = 5000
_HASHTAG = re.compile(r"(?:^|(?<=[\s(]))#(\w+)", re.UNICODE)


def _fold(tag: str) -> str:
    return unicodedata.normalize("NFKC", tag).casefold().lstrip("#")


def _origin(url: str) -> tuple[str, str, int | None]:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:
        return "", "", None


class _FeedResponse:
    """What one feed request came to: not modified, or a parsed document with its validators."""

    def __init__(self, parsed: ParsedFeed | None, etag: str | None, last_modified: str | None) -> None:
        self.parsed = parsed
        self.etag = etag
        self.last_modified = last_modified


def _load_cursor(cursor: Mapping[str, Any] | None) -> tuple[str | None, str | None, list[str]]:
    if not isinstance(cursor, Mapping):
        return None, None, []
    etag = cursor.get("etag") if isinstance(cursor.get("etag"), str) else None
    last_modified = cursor.get("last_modified") if isinstance(cursor.get("last_modified"), str) else None
    seen_raw = cursor.get("seen")
    seen = [s for s in seen_raw if isinstance(s, str)] if isinstance(seen_raw, list) else []
    return etag, last_modified, seen


def _cursor(etag: str | None, last_modified: str | None, seen: Sequence[str]) -> dict[str, Any]:
    return {"v": 1, "etag": etag, "last_modified": last_modified, "seen": list(seen)}


class BlogCollector:
    """RSS/Atom feeds: conditional GET, public-address guard, idempotent kill-safe cursor."""

    platform = Platform.BLOG

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        guard: PublicAddressGuard | None = None,
        max_seen: int = MAX_SEEN,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.retry = retry or RetryPolicy()
        self.rng = rng or random.Random()
        self.guard = guard or PublicAddressGuard()
        self.max_seen = max_seen
        self.skipped_items = 0  # entries that raised BadPayload, over this object's life

    # --- contract -------------------------------------------------------------------------------

    def validate(self, config: SourceConfig) -> None:
        """Refuse configurations that cannot work (no network)."""
        parts = urlsplit(config.url or "")
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise InvalidSource("a blog source needs an http(s) feed URL")
        if config.max_bytes <= 0 or config.timeout_s <= 0:
            raise InvalidSource("max_bytes and timeout_s must be positive")
        if config.page_limit is not None and config.page_limit <= 0:
            raise InvalidSource("page_limit must be positive")

    def map_item(self, raw: Mapping[str, Any]) -> CollectedPost:
        """Map one raw feed item (see ``collectors.blog.mapping``)."""
        return mapping.map_item(raw)

    def fetch(self, config: SourceConfig, cursor: Mapping[str, Any] | None) -> Iterator[CollectedPage]:
        """Yield the feed's new and changed entries, oldest first, in kill-safe pages."""
        self.validate(config)
        old_etag, old_last_modified, old_seen = _load_cursor(cursor)
        runner = self._runner(config)
        headers = {"Accept": FEED_ACCEPT, "User-Agent": USER_AGENT}
        headers.update(conditional_headers(old_etag, old_last_modified))
        with guarded_client(trusted=config.trusted, guard=self.guard) as client:
            response = runner.call(
                lambda: self._get(client, config, config.url, headers, trusted=config.trusted),
                lambda result: self._read_feed(config, result),
            )
        requests, waited = runner.take_stats()
        if response.parsed is None:  # 304 Not Modified
            yield CollectedPage(
                posts=[],
                cursor=_cursor(old_etag, old_last_modified, old_seen),
                requests=requests,
                rate_limit_wait_s=waited,
            )
            return
        yield from self._pages(config, response, old_etag, old_last_modified, old_seen, requests, waited)

    def recheck(self, config: SourceConfig, refs: Sequence[PostRef]) -> Iterator[RecheckResult]:
        """Fetch each post's link: 404/410 → gone; a page that states its tags → fresh post.

        A page without ``article:tag`` metadata gives ``post=None, gone=False`` (alive, no fresh
        version): rebuilding the post from such a page would lose its categories and make it
        look as if its hashtags had been removed. So do unreachable or refused links.
        """
        runner = self._runner(config)
        with (
            guarded_client(trusted=False, guard=self.guard) as guarded,
            guarded_client(trusted=True) as trusted,
        ):
            for ref in refs:
                url = ref.url or (ref.global_key if ref.global_key.startswith("http") else None)
                if not url:
                    yield RecheckResult(ref=ref, post=None, gone=False, requests=0)
                    continue
                is_trusted = self._trusted_for(config, url)
                client = trusted if is_trusted else guarded
                send = functools.partial(
                    self._get, client, config, url, {"User-Agent": USER_AGENT}, trusted=is_trusted
                )
                try:
                    result = runner.call(send, self._accept_any)
                except (TransientError, BadPayload, UnsafeAddress) as exc:
                    log.info("recheck of %s inconclusive: %s", url, exc)
                    yield RecheckResult(ref=ref, post=None, gone=False, requests=runner.take_stats()[0])
                    continue
                requests = runner.take_stats()[0]
                if result.status_code in (404, 410):
                    yield RecheckResult(ref=ref, post=None, gone=True, requests=requests)
                    continue
                post = None
                if result.status_code == 200:
                    post = self._page_post(config, result, ref)
                yield RecheckResult(ref=ref, post=post, gone=False, requests=requests)

    def fetch_engagement(self, config: SourceConfig, refs: Sequence[PostRef]) -> Iterator[Engagement]:
        """Blogs cannot say who liked an article: nothing to yield."""
        return iter(())

    def fetch_url(self, config: SourceConfig, url: str) -> CollectedPost:
        """Fetch an article page (a claim) and read its title, og/article meta and body."""
        runner = self._runner(config)
        is_trusted = self._trusted_for(config, url)
        with guarded_client(trusted=is_trusted, guard=self.guard) as client:
            result = runner.call(
                lambda: self._get(client, config, url, {"User-Agent": USER_AGENT}, trusted=is_trusted),
                self._accept_any,
            )
        if result.status_code in (401, 403):
            raise SourceBlocked(f"{url} answered {result.status_code}")
        if result.status_code != 200:
            raise BadPayload(f"no article at {url}: the server answered {result.status_code}")
        page = mapping.parse_article_page(result.content, result.url, _charset(result))
        author_key = f"blog:{page.feed_url}" if page.feed_url else f"blog:{config.url}"
        return mapping.page_to_post(page, global_key=None, local_id=None, author_key=author_key)

    # --- internals ------------------------------------------------------------------------------

    def _runner(self, config: SourceConfig) -> RequestRunner:
        return RequestRunner(clock=self.clock, max_wait_s=config.max_wait_s, policy=self.retry, rng=self.rng)

    @staticmethod
    def _trusted_for(config: SourceConfig, url: str) -> bool:
        return config.trusted and _origin(url) == _origin(config.url)

    def _get(
        self,
        client: httpx.Client,
        config: SourceConfig,
        url: str,
        headers: Mapping[str, str],
        *,
        trusted: bool,
    ) -> FetchResult:
        return fetch_guarded(
            client,
            url,
            trusted=trusted,
            max_bytes=config.max_bytes,
            timeout_s=config.timeout_s,
            headers=headers,
            guard=self.guard,
        )

    @staticmethod
    def _accept_any(result: FetchResult) -> FetchResult:
        return result

    def _read_feed(self, config: SourceConfig, result: FetchResult) -> _FeedResponse:
        status = result.status_code
        if status == 304:
            return _FeedResponse(None, None, None)
        if status in (401, 403, 451):
            raise SourceBlocked(f"feed {config.url} answered {status}")
        if status in (404, 410):
            raise InvalidSource(f"feed {config.url} answered {status}: not there (any more)")
        if status != 200:
            raise BadPayload(f"feed {config.url} answered {status}")
        parsed = mapping.parse_feed(result.content, result.url, result.headers.get("content-type"))
        etag, last_modified = validators(result.headers)
        if not parsed.well_formed:
            fallback = _FeedResponse(parsed, None, None) if parsed.items else None
            raise MalformedBody(f"ill-formed feed: {parsed.problem}", fallback=fallback)
        return _FeedResponse(parsed, etag, last_modified)

    def _pages(
        self,
        config: SourceConfig,
        response: _FeedResponse,
        old_etag: str | None,
        old_last_modified: str | None,
        old_seen: list[str],
        requests: int,
        waited: float,
    ) -> Iterator[CollectedPage]:
        assert response.parsed is not None
        items = list(response.parsed.items)
        fingerprints = [mapping.fingerprint(item) for item in items]
        final_seen = list(dict.fromkeys(fingerprints))[: self.max_seen]
        seen = set(old_seen)
        fresh: list[tuple[str, dict[str, Any]]] = []
        keys: set[str] = set()
        for fp, item in zip(fingerprints, items, strict=True):
            if fp in seen:
                continue
            try:
                key = mapping.entry_key(item)
            except BadPayload:
                key = fp
            if key in keys:  # the same entry twice in one document
                continue
            keys.add(key)
            fresh.append((fp, item))
        fresh.sort(key=lambda pair: _entry_time(pair[1]))
        size = config.page_limit or DEFAULT_PAGE_SIZE
        chunks = [fresh[i : i + size] for i in range(0, len(fresh), size)] or [[]]
        emitted = list(old_seen)
        wanted = {_fold(tag) for tag in config.tags}
        for index, chunk in enumerate(chunks):
            posts = [post for post in self._map_chunk(chunk) if self._wanted(post, wanted)]
            emitted.extend(fp for fp, _ in chunk)
            last = index == len(chunks) - 1
            cursor = (
                _cursor(response.etag, response.last_modified, final_seen)
                if last
                else _cursor(old_etag, old_last_modified, emitted[-2 * self.max_seen :])
            )
            yield CollectedPage(
                posts=posts,
                cursor=cursor,
                requests=requests if index == 0 else 0,
                rate_limit_wait_s=waited if index == 0 else 0.0,
            )

    def _map_chunk(self, chunk: Sequence[tuple[str, dict[str, Any]]]) -> Iterator[CollectedPost]:
        for _, item in chunk:
            try:
                yield mapping.map_item(item)
            except BadPayload as exc:
                self.skipped_items += 1
                log.warning("skipped a feed entry of %s: %s", item.get("feed_url"), exc.reason)

    @staticmethod
    def _wanted(post: CollectedPost, wanted: set[str]) -> bool:
        if not wanted:
            return True
        tags = {_fold(tag) for tag in post.tags}
        tags |= {_fold(tag) for tag in _HASHTAG.findall(post.text)}
        return bool(tags & wanted)

    def _page_post(self, config: SourceConfig, result: FetchResult, ref: PostRef) -> CollectedPost | None:
        try:
            page = mapping.parse_article_page(result.content, result.url, _charset(result))
            if not page.tags:
                return None
            return mapping.page_to_post(
                page, global_key=ref.global_key, local_id=ref.local_id, author_key=f"blog:{config.url}"
            )
        except BadPayload as exc:
            log.info("article page %s not mappable: %s", result.url, exc.reason)
            return None


def _entry_time(item: Mapping[str, Any]) -> str:
    entry = item.get("entry")
    if not isinstance(entry, Mapping):
        return ""
    value = entry.get("published_parsed") or entry.get("updated_parsed")
    return value if isinstance(value, str) else ""


def _charset(result: FetchResult) -> str | None:
    content_type = result.headers.get("content-type", "")
    match = re.search(r"charset=([\w.-]+)", content_type, re.IGNORECASE)
    return match.group(1) if match else None
