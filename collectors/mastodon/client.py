"""Collect tagged statuses from one Mastodon-API server with ``mastodon.py``.

How a run goes (one *feed* = the tags followed together, see below)::

    no cursor     GET /timelines/tag/T?limit=40                 newest page: remember its top
    backfill      GET /timelines/tag/T?limit=40&max_id=OLDEST   walk back until an empty page
    forward       GET /timelines/tag/T?limit=40&min_id=NEWEST   walk forward until an empty page

Every page is yielded with the cursor that includes exactly that page, so a run killed at any
instant resumes without loss or duplicates. The cursor (JSON)::

    {"version": 1, "feeds": {"iucncec+natureforall": {
        "newest": "1131…" | null,          # top of the newest page seen (server's order)
        "newest_ids": ["1131…", …],        # ids of that page: a repeated item is skipped
        "backfill_max_id": "1129…" | null, # bottom of the oldest page seen while backfilling
        "backfill_ids": ["1129…", …],
        "backfill_done": false}}}

Page bounds come from the ``Link`` header (``prev`` → ``min_id``, ``next`` → ``max_id``), i.e. from
the server's own order, so a page whose items arrive shuffled still moves the cursor right; ids
are never compared (without a ``Link`` header the first and last item stand in). A run that
finishes its backfill stops there: the next run goes forward from ``newest``.

Several tags: by default one feed ``/timelines/tag/FIRST?any[]=OTHER…``; Mastodon drops
``any[]`` from its ``Link`` URLs, so every request is built here with ``any[]`` re-added. That
keeps the request count at ⌊N/40⌋ + 1 ≤ ⌈N/40⌉ + 1 for N new posts however many tags there are.
``SourceConfig.extra["tag_mode"] = "each"`` follows each tag as its own feed (for compatible
servers that ignore ``any[]``): then it is the sum over tags of ⌊Nₜ/40⌋ + 1.

Bad items: a status ``map_item`` cannot map is skipped, logged and counted in
``MastodonCollector.skipped_items``; the cursor still moves past it (it would fail again).
Rate limits: ``X-RateLimit-Remaining``/``-Reset`` are read after every response; when the budget is
at or below the reserve, the next request waits for the reset (through the injected clock) when
that is at most ``config.max_wait_s`` away, else ``RateLimited`` is raised. 429: the same rule.
5xx, timeouts, resets, cut or non-JSON bodies: jittered exponential backoff, then
``TransientError``. Unless the source is trusted, every connection (redirects too) goes through
``collectors.net``'s address guard; a refused address (``UnsafeAddress``: not public, or not
resolvable) is raised at once, never retried. 401/403: ``SourceBlocked`` with the reason
(``timelines_access`` is read from ``/api/v2/instance`` to say whether the server wants a token).
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import logging
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlsplit

import requests
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)
from mastodon.types_base import PaginationInfo

from collectors.base import (
    BadPayload,
    Clock,
    CollectedPage,
    CollectedPost,
    CollectorError,
    Engagement,
    InvalidSource,
    Platform,
    PostRef,
    RateLimited,
    RecheckResult,
    SourceBlocked,
    SourceConfig,
    SystemClock,
    TransientError,
)
from collectors.mastodon.mapping import account_key, map_item
from collectors.net import PublicAddressGuard, guard_session, refusal_in

log = logging.getLogger(__name__)

MAX_PAGE = 40  # Mastodon's maximum for statuses
ACCOUNTS_PAGE = 80  # Mastodon's maximum for account lists
MAX_ACCOUNT_PAGES = 25  # favourited_by / reblogged_by pages read per post (2,000 accounts)
RECHECK_BATCH = 20  # ids per GET /api/v1/statuses?id[]=
CURSOR_VERSION = 1
USER_AGENT = "BlogItEarnIt/0.1 (collector; +https://www.iucn.org/cec)"
_TAG_RE = re.compile(r"^\w+$")
_STATUS_PATH_RE = re.compile(r"/(?:@[^/]+|users/[^/]+/statuses|notice|objects|statuses|p/[^/]+)/([^/?#]+)/?$")

Kind = Literal["list", "object"]


class PostNotFound(CollectorError):
    """No status answers to this URL on the server (deleted, private or never federated there)."""

    def __init__(self, url: str) -> None:
        super().__init__(f"no public status found for {url}")
        self.url = url


class _NotFound(CollectorError):
    """404 from an endpoint (internal: each caller decides what it means)."""


class _Gone(CollectorError):
    """410 from an endpoint (internal)."""


class _Unauthorized(SourceBlocked):
    """401 (internal): the fetch turns it into a SourceBlocked with the server's reason."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try one request: ``attempts`` sends, delays base·2ⁿ with jitter, capped."""

    attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_429: int = 5  # 429s tolerated for one request, each waited out
    rate_reserve: int = 1  # wait for the reset once the remaining budget is this low
    reset_margin_s: float = 0.1  # clocks differ and resets are rounded


@dataclass(frozen=True, slots=True)
class _Reply:
    body: Any
    links: Mapping[str, str]  # rel -> URL

    def link_param(self, rel: str, name: str) -> str | None:
        url = self.links.get(rel)
        if not url:
            return None
        values = parse_qs(urlsplit(url).query).get(name)
        return values[0] if values and values[0] else None


@dataclass(frozen=True, slots=True)
class _Feed:
    key: str  # the cursor's key for this feed
    tag: str  # the path tag
    any_tags: tuple[str, ...]  # re-added as any[] on every request


class _Connection:
    """One ``mastodon.py`` client for one run: waits, retries, counts requests and seconds."""

    def __init__(
        self,
        config: SourceConfig,
        clock: Clock,
        policy: RetryPolicy,
        rng: random.Random,
        guard: PublicAddressGuard,
    ) -> None:
        self.config, self.clock, self.policy, self.rng = config, clock, policy, rng
        self.session = requests.Session()
        if not config.trusted:
            guard_session(self.session, guard)
        self.session.hooks["response"].append(self._observe)
        self.api = Mastodon(
            api_base_url=config.url.rstrip("/"),
            access_token=config.token,
            version_check_mode="none",
            ratelimit_method="throw",
            request_timeout=config.timeout_s,
            session=self.session,
            user_agent=USER_AGENT,
        )
        self.last: requests.Response | None = None
        self.remaining: int | None = None
        self.reset_at: datetime | None = None
        self.requests = 0
        self.waited_s = 0.0

    def close(self) -> None:
        self.session.close()

    def take_stats(self) -> tuple[int, float]:
        """(requests, seconds waited for rate limits) since the last call."""
        stats = (self.requests, self.waited_s)
        self.requests, self.waited_s = 0, 0.0
        return stats

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        # mastodon.py hides the response; a session hook sees status, headers and links first.
        self.last = response
        remaining = response.headers.get("X-RateLimit-Remaining")
        reset = response.headers.get("X-RateLimit-Reset")
        if remaining is not None:
            try:
                self.remaining = int(float(remaining))
            except ValueError:
                self.remaining = None
        if reset is not None:
            self.reset_at = _parse_reset(reset, self.clock.now())

    def _wait_until(self, reset_at: datetime | None, reason: str) -> None:
        now = self.clock.now()
        reset_at = reset_at if reset_at is not None else now + timedelta(seconds=60)
        wait_s = (reset_at - now).total_seconds() + self.policy.reset_margin_s
        if wait_s > self.config.max_wait_s:
            raise RateLimited(reset_at, reason)
        if wait_s > 0:
            self.clock.sleep(wait_s)
            self.waited_s += wait_s

    def _respect_budget(self) -> None:
        if self.remaining is None or self.remaining > self.policy.rate_reserve:
            return
        if self.reset_at is None or self.reset_at <= self.clock.now():
            return
        self._wait_until(self.reset_at, "rate-limit budget spent")
        self.remaining = None

    def _backoff(self, failures: int) -> None:
        ceiling = min(self.policy.max_delay_s, self.policy.base_delay_s * 2 ** (failures - 1))
        self.clock.sleep(ceiling / 2 + self.rng.uniform(0, ceiling / 2))

    def get(self, endpoint: str, params: Mapping[str, Any] | None = None, *, kind: Kind = "list") -> _Reply:
        """GET an endpoint through mastodon.py; return the raw JSON and the Link URLs."""
        request = {
            **(params or {}),
            "_pagination_method": "GET",
            "_pagination_endpoint": endpoint,
            # list/dict keep the JSON as sent (no typed entities, no parsed dates)
            "_mastopy_type": list if kind == "list" else dict,
        }
        failures = limited = 0
        while True:
            self._respect_budget()
            self.requests += 1
            self.last = None
            try:
                body: Any = self.api.fetch_next(PaginationInfo(request))
            except MastodonRatelimitError as exc:
                if self._status() == 429:
                    limited += 1
                    if limited > self.policy.max_429:
                        now = self.clock.now()
                        raise RateLimited(
                            self.reset_at or now + timedelta(seconds=60), "the server keeps answering 429"
                        ) from exc
                    self._wait_until(self.reset_at, "rate limited (429)")
                    continue
                reason = f"unreadable rate-limit headers: {exc}"
            except MastodonNotFoundError as exc:
                raise _NotFound(f"{endpoint}: 404") from exc
            except MastodonUnauthorizedError as exc:
                raise _Unauthorized(f"{endpoint}: 401 unauthorized") from exc
            except (MastodonServerError, MastodonNetworkError) as exc:
                refused = refusal_in(exc)
                if refused is not None:  # not transient: the address will not become public
                    raise refused from None
                reason = f"{type(exc).__name__}: {_short(exc)}"
            except MastodonAPIError as exc:
                status = self._status()
                if status in (401, 403):
                    raise SourceBlocked(f"{endpoint}: {status} forbidden") from exc
                if status == 410:
                    raise _Gone(f"{endpoint}: 410") from exc
                if status is not None and 400 <= status < 500 and status not in (408, 425):
                    raise InvalidSource(f"{endpoint} refused the request ({status})") from exc
                reason = f"malformed response ({status}): {_short(exc)}"
            except (MastodonError, AttributeError, TypeError, ValueError) as exc:
                # mastodon.py choking on a response it did not expect: worth another try
                reason = f"unusable response: {type(exc).__name__}: {_short(exc)}"
            else:
                return self._reply(endpoint, body, kind)
            failures += 1
            if failures >= self.policy.attempts:
                raise TransientError(f"{endpoint}: gave up after {failures} attempts: {reason}")
            self._backoff(failures)

    def _status(self) -> int | None:
        return self.last.status_code if self.last is not None else None

    def _reply(self, endpoint: str, body: Any, kind: Kind) -> _Reply:
        content = self.last.content.lstrip()[:1] if self.last is not None else b""
        # Check the JSON's own shape: mastodon.py would turn an object into a list of its keys.
        if kind == "list" and (content != b"[" or not isinstance(body, list)):
            raise BadPayload(f"{endpoint}: expected a JSON array")
        if kind == "object" and (content != b"{" or not isinstance(body, dict)):
            raise BadPayload(f"{endpoint}: expected a JSON object")
        links = {}
        if self.last is not None:
            links = {rel: str(link.get("url", "")) for rel, link in self.last.links.items()}
        return _Reply(list(body) if kind == "list" else dict(body), links)


class MastodonCollector:
    """The Mastodon collector (see the module docstring for the protocol it follows)."""

    platform = Platform.MASTODON

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        guard: PublicAddressGuard | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.policy = policy or RetryPolicy()
        self.rng = rng or random.Random()
        self.guard = guard or PublicAddressGuard()
        self.skipped_items = 0

    # --- Collector protocol -----------------------------------------------------------------

    def validate(self, config: SourceConfig) -> None:
        """Raise ``InvalidSource`` when the configuration cannot work (no network)."""
        if config.platform != Platform.MASTODON:
            raise InvalidSource(f"not a Mastodon source: {config.platform}")
        parts = urlsplit(config.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidSource(f"server URL must be http(s)://host: {config.url!r}")
        if not config.trusted and _private_host(parts.hostname):
            raise InvalidSource(
                f"{parts.hostname} is not a public address (mark the source trusted to allow it)"
            )
        if not config.tags:
            raise InvalidSource("a Mastodon source needs at least one tag")
        for tag in config.tags:
            if not _TAG_RE.match(tag.lstrip("#")):
                raise InvalidSource(f"not a hashtag: {tag!r}")
        if config.page_limit is not None and not 1 <= config.page_limit <= MAX_PAGE:
            raise InvalidSource(f"page_limit must be 1..{MAX_PAGE}")
        if config.extra.get("tag_mode", "any") not in ("any", "each"):
            raise InvalidSource("extra.tag_mode must be 'any' or 'each'")
        if config.timeout_s <= 0 or config.max_wait_s < 0:
            raise InvalidSource("timeout_s must be > 0 and max_wait_s >= 0")

    def fetch(self, config: SourceConfig, cursor: Mapping[str, Any] | None) -> Iterator[CollectedPage]:
        """Yield pages of new statuses since ``cursor``, each with the cursor that includes it."""
        self.validate(config)
        feeds = _feeds(config)
        state = _load_cursor(cursor, feeds)
        with self._connect(config) as conn:
            for feed in feeds:
                yield from self._fetch_feed(conn, config, feed, state)

    def recheck(self, config: SourceConfig, refs: Sequence[PostRef]) -> Iterator[RecheckResult]:
        """Fetch stored statuses again (batched): edits, deletions (404/410) and counts.

        A status the server returns but ``map_item`` cannot read yields no result at all.
        """
        self.validate(config)
        domain = _server_domain(config)
        batch_endpoint = True
        with self._connect(config) as conn:
            for start in range(0, len(refs), RECHECK_BATCH):
                batch = refs[start : start + RECHECK_BATCH]
                found: dict[str, Any] = {}
                wanted = [ref.local_id for ref in batch if ref.local_id]
                if batch_endpoint and len(wanted) > 1:
                    try:
                        reply = conn.get("/api/v1/statuses", {"id[]": wanted})
                        found = {
                            str(item.get("id")): item for item in reply.body if isinstance(item, Mapping)
                        }
                    except _NotFound:
                        batch_endpoint = False  # older servers: one request per status
                for ref in batch:
                    result = self._recheck_one(conn, ref, found.get(ref.local_id), domain)
                    if result is not None:
                        yield result

    def fetch_engagement(self, config: SourceConfig, refs: Sequence[PostRef]) -> Iterator[Engagement]:
        """Name the accounts that favourited and boosted each status (gone statuses skipped)."""
        self.validate(config)
        domain = _server_domain(config)
        with self._connect(config) as conn:
            for ref in refs:
                if not ref.local_id:
                    continue
                base = f"/api/v1/statuses/{quote(ref.local_id, safe='')}"
                try:
                    liked = self._accounts(conn, base + "/favourited_by", domain)
                    boosted = self._accounts(conn, base + "/reblogged_by", domain)
                except (_NotFound, _Gone):
                    log.info("engagement of %s: status gone", ref.global_key)
                    continue
                yield Engagement(ref.global_key, liked, boosted)

    def fetch_url(self, config: SourceConfig, url: str) -> CollectedPost:
        """Fetch one status by its public URL (or uri) through this server."""
        self.validate(config)
        if urlsplit(url).scheme not in ("http", "https"):
            raise InvalidSource(f"not an http(s) URL: {url!r}")
        with self._connect(config) as conn:
            raw = self._resolve(conn, config, url)
        if raw is None:
            raise PostNotFound(url)
        return map_item(raw, _server_domain(config))

    def map_item(self, raw: Mapping[str, Any]) -> CollectedPost:
        """Map one raw status; raise ``BadPayload`` for anything unmappable."""
        return map_item(raw)

    # --- internals --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self, config: SourceConfig) -> Iterator[_Connection]:
        conn = _Connection(config, self.clock, self.policy, self.rng, self.guard)
        try:
            yield conn
        finally:
            conn.close()

    def _fetch_feed(
        self, conn: _Connection, config: SourceConfig, feed: _Feed, state: dict[str, Any]
    ) -> Iterator[CollectedPage]:
        fs: dict[str, Any] = state["feeds"][feed.key]
        endpoint = f"/api/v1/timelines/tag/{quote(feed.tag, safe='')}"
        limit = config.page_limit or MAX_PAGE
        domain = _server_domain(config)
        while True:
            params: dict[str, Any] = {"limit": limit}
            if feed.any_tags:
                # Mastodon drops any[] from its Link URLs, so every request re-adds it here.
                params["any[]"] = list(feed.any_tags)
            if fs["newest"] is None:
                mode, skip = "head", set()
            elif not fs["backfill_done"]:
                mode, skip = "backfill", set(fs["backfill_ids"])
                params["max_id"] = fs["backfill_max_id"]
            else:
                mode, skip = "forward", set(fs["newest_ids"])
                params["min_id"] = fs["newest"]
            try:
                reply = conn.get(endpoint, params)
            except _Unauthorized as exc:
                raise SourceBlocked(self._blocked_reason(conn, config)) from exc
            except _NotFound as exc:
                raise SourceBlocked(f"{config.url} has no tag timeline API (404)") from exc
            items, ids = _fresh_items(reply.body, skip)
            newest = reply.link_param("prev", "min_id") or (ids[0] if ids else None)
            oldest = reply.link_param("next", "max_id") or (ids[-1] if ids else None)
            if not items or newest is None or oldest is None:
                if mode == "backfill":
                    fs.update(backfill_done=True, backfill_max_id=None, backfill_ids=[])
                yield self._page(conn, items, state, domain)
                return
            if mode == "head":
                fs.update(
                    newest=newest,
                    newest_ids=ids,
                    backfill_max_id=oldest,
                    backfill_ids=ids,
                    backfill_done=False,
                )
            elif mode == "backfill":
                fs.update(backfill_max_id=oldest, backfill_ids=ids)
            else:
                fs.update(newest=newest, newest_ids=ids)
            yield self._page(conn, items, state, domain)

    def _page(
        self, conn: _Connection, items: list[Any], state: dict[str, Any], domain: str | None
    ) -> CollectedPage:
        posts = []
        for item in items:
            try:
                posts.append(map_item(item, domain))
            except BadPayload as exc:
                self.skipped_items += 1
                item_id = item.get("id") if isinstance(item, Mapping) else None
                log.warning("skipped status %r from %s: %s", item_id, conn.config.url, exc.reason)
        requests_made, waited_s = conn.take_stats()
        return CollectedPage(
            posts=posts, cursor=copy.deepcopy(state), requests=requests_made, rate_limit_wait_s=waited_s
        )

    def _blocked_reason(self, conn: _Connection, config: SourceConfig) -> str:
        if config.token:
            return f"{config.url} rejected the access token for hashtag timelines (401)"
        access = None
        with contextlib.suppress(CollectorError):
            instance = conn.get("/api/v2/instance", kind="object").body
            access = _dig(instance, "configuration", "timelines_access", "hashtag_feeds")
        if isinstance(access, Mapping):  # {"local": "authenticated", "remote": "public"}
            access = ", ".join(f"{scope}: {value}" for scope, value in access.items())
        detail = f" (timelines_access.hashtag_feeds = {access})" if access else ""
        return (
            f"{config.url} requires an access token for hashtag timelines{detail}; "
            "configure one for this source (--token-env)"
        )

    def _recheck_one(
        self, conn: _Connection, ref: PostRef, raw: Any, domain: str | None
    ) -> RecheckResult | None:
        if raw is None:
            try:
                if ref.local_id:
                    raw = conn.get(f"/api/v1/statuses/{quote(ref.local_id, safe='')}", kind="object").body
                else:
                    raw = self._resolve(conn, conn.config, ref.url or ref.global_key)
            except (_NotFound, _Gone):
                raw = None
            if raw is None:
                return RecheckResult(ref, None, gone=True, requests=conn.take_stats()[0])
        requests_made = conn.take_stats()[0]
        try:
            post = map_item(raw, domain)
        except BadPayload as exc:
            # Readable is not gone: leave it out (the app re-checks it later) rather than
            # report a miss, which the app would count towards a deletion.
            self.skipped_items += 1
            log.warning("recheck of %s: unmappable status: %s", ref.global_key, exc.reason)
            return None
        return RecheckResult(ref, post, gone=False, requests=requests_made)

    def _accounts(self, conn: _Connection, endpoint: str, domain: str | None) -> tuple[str, ...]:
        keys: list[str] = []
        params: dict[str, Any] = {"limit": ACCOUNTS_PAGE}
        for _ in range(MAX_ACCOUNT_PAGES):
            reply = conn.get(endpoint, params)
            for account in reply.body:
                try:
                    keys.append(account_key(account, domain))
                except BadPayload as exc:
                    log.warning("skipped an account of %s: %s", endpoint, exc.reason)
            following = reply.link_param("next", "max_id")
            if not reply.body or following is None:
                break
            params["max_id"] = following
        return tuple(dict.fromkeys(keys))

    def _resolve(self, conn: _Connection, config: SourceConfig, url: str) -> Any:
        """The raw status behind a URL or uri: by the id in its path, else by search."""
        match = _STATUS_PATH_RE.search(urlsplit(url).path)
        if match:
            with contextlib.suppress(_NotFound, _Gone, InvalidSource):
                raw = conn.get(f"/api/v1/statuses/{quote(match.group(1), safe='')}", kind="object").body
                if _same_url(url, raw.get("url")) or _same_url(url, raw.get("uri")):
                    return raw
        params = {"q": url, "type": "statuses", "limit": 5, "resolve": "true" if config.token else "false"}
        try:
            statuses = conn.get("/api/v2/search", params, kind="object").body.get("statuses")
        except (_NotFound, _Gone):
            return None
        if not isinstance(statuses, list):
            return None
        for raw in statuses:
            if isinstance(raw, Mapping) and (
                _same_url(url, raw.get("url")) or _same_url(url, raw.get("uri"))
            ):
                return raw
        return None


# --- helpers ------------------------------------------------------------------------------------


def _feeds(config: SourceConfig) -> list[_Feed]:
    tags = list(dict.fromkeys(tag.lstrip("#").lower() for tag in config.tags))
    if config.extra.get("tag_mode", "any") == "each" or len(tags) == 1:
        return [_Feed(key=tag, tag=tag, any_tags=()) for tag in tags]
    return [_Feed(key="+".join(tags), tag=tags[0], any_tags=tuple(tags[1:]))]


def _empty_feed_state() -> dict[str, Any]:
    return {
        "newest": None,
        "newest_ids": [],
        "backfill_max_id": None,
        "backfill_ids": [],
        "backfill_done": False,
    }


def _load_cursor(cursor: Mapping[str, Any] | None, feeds: list[_Feed]) -> dict[str, Any]:
    """A private, complete copy of the cursor; feeds it does not know start from scratch."""
    state: dict[str, Any] = {"version": CURSOR_VERSION, "feeds": {}}
    saved: Any = {}
    if cursor:
        if cursor.get("version") != CURSOR_VERSION or not isinstance(cursor.get("feeds"), Mapping):
            raise InvalidSource(f"unreadable Mastodon cursor: {dict(cursor)!r:.200}")
        saved = cursor["feeds"]
    for key, value in saved.items():  # keep feeds of tags no longer followed, untouched
        state["feeds"][key] = copy.deepcopy(dict(value)) if isinstance(value, Mapping) else value
    for feed in feeds:
        fs = _empty_feed_state()
        previous = saved.get(feed.key)
        if isinstance(previous, Mapping):
            for name, default in fs.items():
                value = previous.get(name, default)
                if isinstance(default, list):
                    ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
                elif isinstance(default, bool):
                    ok = isinstance(value, bool)
                else:
                    ok = value is None or isinstance(value, str)
                if not ok:
                    raise InvalidSource(f"unreadable Mastodon cursor field {feed.key}.{name}")
                fs[name] = list(value) if isinstance(value, list) else value
        state["feeds"][feed.key] = fs
    return state


def _item_id(item: Any) -> str | None:
    if not isinstance(item, Mapping):
        return None
    value = item.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)


def _fresh_items(body: list[Any], skip: set[str]) -> tuple[list[Any], list[str]]:
    """Items not seen on the page before (nor twice on this one), and their ids in order."""
    items, ids, seen = [], [], set(skip)
    for item in body:
        item_id = _item_id(item)
        if item_id is not None:
            if item_id in seen:
                continue
            seen.add(item_id)
            ids.append(item_id)
        items.append(item)
    return items, ids


def _server_domain(config: SourceConfig) -> str | None:
    """The handle domain of local accounts when staff know it (``extra["domain"]``)."""
    domain = config.extra.get("domain")
    return domain.lower() if isinstance(domain, str) and domain else None


def _parse_reset(value: str, now: datetime) -> datetime | None:
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        pass
    else:  # GoToSocial and others send epoch seconds
        return (
            datetime.fromtimestamp(number, UTC) if number > 1e9 else now + timedelta(seconds=max(0.0, number))
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _private_host(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".local"):
        return True
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False  # a name: the app's network guard checks it after resolution


def _dig(value: Any, *names: str) -> Any:
    for name in names:
        value = value.get(name) if isinstance(value, Mapping) else None
    return value


def _same_url(a: str, b: Any) -> bool:
    return isinstance(b, str) and a.rstrip("/") == b.rstrip("/")


def _short(exc: BaseException) -> str:
    return str(exc)[:200]
