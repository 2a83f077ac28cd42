"""Collect #tag posts from Bluesky through the atproto SDK (imported lazily).

**Search.** For each followed tag: ``app.bsky.feed.searchPosts`` with ``q="#tag"``, ``tag=[tag]``,
``sort=latest``, ``limit`` ≤ 100, ``since``/``until``. Some AppViews ignore ``tag`` and match ``q``
as plain text, so only posts whose *own* tags (``#tag`` facets + ``record.tags``, NFKC +
case-folded) include a followed tag are kept. A post carrying several followed tags is emitted
only by the search of the first of them (in config order), so two tags never duplicate a post.

One search cannot cover several tags: the AppView's search service (bluesky-social/indigo
``search``: ``ParsePostQuery`` and ``PostSearchParams.Filters``) takes every ``#tag`` out of ``q``
and every ``tag`` parameter as its own ``term`` filter, all of which a post must pass (AND);
``OR``/``|`` only combine the free-text words left in ``q``. So a post carrying two followed tags
is fetched by both searches, and N new posts cost Σ over the tags of ⌈N_tag/100⌉ searches, not
⌈N/100⌉.

**Time windows.** Search cursors stop around 10k results and are offsets (unsafe to resume once
posts are deleted), so every run pages through a time window ``[since, top)`` on ``sortAt``
(= min(createdAt, indexedAt), what search orders and filters by), newest first. Within a
window the server cursor is followed; the *saved* cursor records instead how far down the window
we got: the ``floor`` (millisecond) of the oldest post handled and the uris handled at exactly
that millisecond. Resuming asks again for ``until = floor + 1 ms`` and skips those uris, so a
kill at any instant neither loses nor repeats a post. When a full page comes back without a
server cursor (the 10k cap, or an exactly full last page) the window is re-queried below the
floor the same way. A finished window moves ``through`` (everything with sortAt < through is
collected) to its ``top`` (= now − ``settle_s``, a margin for indexing delay).

Cursor (JSON-able)::

    {"v": 1, "tags": {"iucncec": {"through": "2025-10-01T00:00:00.000Z",
                                  "window": null | {"since": ISO, "top": ISO,
                                                    "floor": ISO | null, "floor_uris": [uri…]}}}}

The first run backfills from ``config.extra["since"]`` (ISO-8601) or ``backfill_days`` (30).

**Requests.** N new posts in one window cost ≤ ⌈N/100⌉ + 1 searchPosts requests per tag (the +1
is the re-query after an exactly full last page); the one ``createSession`` per collector
instance (sessions are cached and refreshed by the SDK) is counted in the ``requests`` of the
first page but not in that bound. ``CollectedPage.requests`` counts every HTTP request made for
the page, retries included (an httpx event hook sees them all).

**Rate limits.** Every response's ``RateLimit-Remaining``/``-Reset`` are remembered; before a
request, when remaining ≤ ``rate_reserve`` we sleep (injected clock) until the reset if that is
≤ ``config.max_wait_s`` away, else raise ``RateLimited(reset_at)``. A 429 waits the same way.

**Errors.** 5xx, 409/413/502 (the SDK's ``NetworkError``), timeouts, connection resets and
malformed bodies are retried with jittered exponential backoff, then ``TransientError``.
Unless the source is trusted, every connection (redirects too) goes through ``collectors.net``'s
address guard; a refused address (``UnsafeAddress``: not public, or not resolvable) is raised at
once, never retried. 401/403 (login refused, anonymous search refused) → ``SourceBlocked``; an
expired or revoked token logs in again once. 404/501 (method not served) → ``InvalidSource``.

**Bad items.** An item that cannot be mapped (``BadPayload``) is skipped and counted in
``skipped_items`` (and logged); the page and the run go on.

**Deletions.** ``getPosts`` silently omits missing posts, and a miss may be transient, so a post
is gone after two misses. The collector is stateless: ``recheck(..., missed_before=keys)`` takes
the global keys whose previous re-check was a miss. A ref absent now yields
``RecheckResult(post=None, gone=key in missed_before)``. The app counts a result with
``post is None and not gone`` as a first miss (and remembers it), passes those keys as
``missed_before`` next time, and marks the post deleted when ``gone`` is true; a found post clears
the miss.
"""

from __future__ import annotations

import logging
import random
import threading
import weakref
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from collectors.base import (
    BadPayload,
    Clock,
    CollectedPage,
    CollectedPost,
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
from collectors.bluesky.mapping import (
    AtPostUri,
    map_item,
    normalise_tag,
    parse_datetime,
    parse_post_uri,
    sort_at,
)
from collectors.net import GuardedTransport, PublicAddressGuard

log = logging.getLogger(__name__)

T = TypeVar("T")

SEARCH_LIMIT = 100
GET_POSTS_LIMIT = 25
CURSOR_VERSION = 1
_MS = timedelta(milliseconds=1)
_RELOGIN_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})


class _Refused(Exception):
    """A 4xx answer (other than 429) from the server; callers decide what it means."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"{status} {error}: {message}".strip())
        self.status = status
        self.error = error
        self.message = message


@dataclass
class _Session:
    """One SDK client for a (server, account) and what the server last said about its budget."""

    client: Any
    handle: str | None
    password: str | None
    logged_in: bool = False
    remaining: int | None = None
    reset_at: datetime | None = None
    requests: int = 0
    waited_s: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock)

    def take_stats(self) -> tuple[int, float]:
        stats = (self.requests, self.waited_s)
        self.requests, self.waited_s = 0, 0.0
        return stats


def _ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class _Window:
    since: datetime
    top: datetime
    floor: datetime | None = None
    floor_uris: set[str] = field(default_factory=set)

    def dump(self) -> dict[str, Any]:
        return {
            "since": _iso(self.since),
            "top": _iso(self.top),
            "floor": None if self.floor is None else _iso(self.floor),
            "floor_uris": sorted(self.floor_uris),
        }


@dataclass
class _TagState:
    through: datetime
    window: _Window | None = None

    def dump(self) -> dict[str, Any]:
        return {"through": _iso(self.through), "window": None if self.window is None else self.window.dump()}


def _load_cursor(cursor: Mapping[str, Any] | None) -> dict[str, _TagState]:
    """Parse a saved cursor; raise InvalidSource when it is not one of ours."""
    if not cursor:
        return {}
    try:
        if cursor.get("v") != CURSOR_VERSION or not isinstance(cursor.get("tags"), Mapping):
            raise ValueError("unknown cursor version")
        states: dict[str, _TagState] = {}
        for tag, raw in cursor["tags"].items():
            window = None
            if raw.get("window") is not None:
                w = raw["window"]
                floor = w.get("floor")
                window = _Window(
                    since=parse_datetime(w["since"]),
                    top=parse_datetime(w["top"]),
                    floor=None if floor is None else parse_datetime(floor),
                    floor_uris={str(u) for u in w.get("floor_uris", [])},
                )
            states[str(tag)] = _TagState(through=parse_datetime(raw["through"]), window=window)
        return states
    except (AttributeError, KeyError, TypeError, ValueError, BadPayload) as exc:
        raise InvalidSource(f"not a Bluesky cursor: {exc}") from exc


class BlueskyCollector:
    """Bluesky via the atproto SDK; see the module docstring for paging, limits and errors."""

    platform = Platform.BLUESKY

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        max_attempts: int = 4,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 8.0,
        rate_reserve: int = 1,
        engagement_max_pages: int = 10,
        seed: int | None = None,
        guard: PublicAddressGuard | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.guard = guard or PublicAddressGuard()
        self.max_attempts = max(1, max_attempts)
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.rate_reserve = rate_reserve
        self.engagement_max_pages = engagement_max_pages
        self.skipped_items = 0  # unmappable items skipped so far (also logged)
        self._rng = random.Random(seed)
        self._sessions: dict[tuple[str, str | None, str | None, float, bool], _Session] = {}
        self._sessions_lock = threading.Lock()
        # close the SDK's connections even when nobody calls close(): no leaked sockets
        self._finalizer = weakref.finalize(self, _close_sessions, self._sessions)

    # --- the Collector protocol -------------------------------------------------------------

    def validate(self, config: SourceConfig) -> None:
        """Raise ``InvalidSource`` when the configuration cannot work (no network)."""
        if Platform(config.platform) != Platform.BLUESKY:
            raise InvalidSource(f"not a Bluesky source: {config.platform}")
        parts = urlsplit(config.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidSource(f"the PDS URL must be http(s)://host: {config.url!r}")
        if not config.trusted:
            if parts.scheme != "https":
                raise InvalidSource("an untrusted PDS must be reached over https")
            if _is_local(parts.hostname):
                raise InvalidSource(f"an untrusted PDS must be public: {parts.hostname}")
        if not config.tags:
            raise InvalidSource("a Bluesky source follows at least one tag")
        for tag in config.tags:
            norm = normalise_tag(tag)
            if not norm or any(c.isspace() for c in norm) or len(norm) > 640:
                raise InvalidSource(f"not a hashtag: {tag!r}")
        if bool(config.handle) != bool(config.token):
            raise InvalidSource("give both a handle and an app password, or neither")
        if config.page_limit is not None and not 1 <= config.page_limit <= SEARCH_LIMIT:
            raise InvalidSource(f"page_limit must be 1..{SEARCH_LIMIT}")
        since = config.extra.get("since")
        if since is not None and not isinstance(since, datetime):
            try:
                parse_datetime(since)
            except BadPayload as exc:
                raise InvalidSource(f"extra.since is not ISO-8601: {since!r}") from exc
        for key in ("settle_s", "backfill_days"):
            value = config.extra.get(key, 0)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise InvalidSource(f"extra.{key} must be a number ≥ 0")

    def fetch(self, config: SourceConfig, cursor: Mapping[str, Any] | None) -> Iterator[CollectedPage]:
        """Yield one page per search response, each with the cursor to save with it."""
        self.validate(config)
        states = _load_cursor(cursor)
        followed = list(dict.fromkeys(normalise_tag(t) for t in config.tags))
        session = self._session(config)
        start = self._backfill_start(config)
        # one top for every tag of the run, so that a post carrying two followed tags falls in
        # the same window of both searches
        settle = timedelta(seconds=float(config.extra.get("settle_s", 30)))
        top = _ms(self.clock.now() - settle)
        for position, tag in enumerate(followed):
            state = states.setdefault(tag, _TagState(through=start))
            resumed = state.window is not None
            while True:
                if state.window is None:
                    if state.through >= top:
                        break
                    state.window = _Window(since=state.through, top=top)
                yield from self._search_window(config, session, states, tag, followed[:position])
                if not resumed:
                    break
                resumed = False  # a window left open by a killed run is done; catch up to now

    def recheck(
        self, config: SourceConfig, refs: Sequence[PostRef], *, missed_before: Collection[str] = frozenset()
    ) -> Iterator[RecheckResult]:
        """Re-read posts with getPosts (≤ 25 per request); see the module docstring on misses."""
        session = self._session(config)
        for offset in range(0, len(refs), GET_POSTS_LIMIT):
            batch = refs[offset : offset + GET_POSTS_LIMIT]
            uris = [self._ref_uri(config, session, ref) for ref in batch]
            found = self._get_posts(config, session, uris)
            requests, _ = session.take_stats()
            for i, (ref, uri) in enumerate(zip(batch, uris, strict=True)):
                count = requests if i == 0 else 0
                item = found.get(uri)
                if item is None:
                    gone = ref.global_key in missed_before or uri in missed_before
                    yield RecheckResult(ref=ref, post=None, gone=gone, requests=count)
                    continue
                try:
                    post = map_item(item)
                except BadPayload as exc:
                    self._skip(f"recheck {uri}", exc)
                    yield RecheckResult(ref=ref, post=None, gone=False, requests=count)
                    continue
                yield RecheckResult(ref=ref, post=post, gone=False, requests=count)

    def fetch_engagement(self, config: SourceConfig, refs: Sequence[PostRef]) -> Iterator[Engagement]:
        """Name who liked (getLikes) and reposted (getRepostedBy) each post."""
        session = self._session(config)
        for ref in refs:
            uri = self._ref_uri(config, session, ref)
            liked = self._actors(config, session, "app.bsky.feed.getLikes", uri, "likes")
            reposted = self._actors(config, session, "app.bsky.feed.getRepostedBy", uri, "repostedBy")
            yield Engagement(global_key=ref.global_key, liked_by=liked, reposted_by=reposted)

    def fetch_url(self, config: SourceConfig, url: str) -> CollectedPost:
        """Fetch one post by its bsky.app URL (or at:// uri)."""
        session = self._session(config)
        uri = self._url_uri(config, session, url)
        item = self._get_posts(config, session, [uri]).get(uri)
        if item is None:
            raise InvalidSource(f"no such post (deleted or never existed): {url}")
        return map_item(item)

    def map_item(self, raw: Mapping[str, Any]) -> CollectedPost:
        """Map one postView; raise ``BadPayload`` for anything unmappable."""
        return map_item(raw)

    def close(self) -> None:
        """Close the SDK's HTTP connections."""
        with self._sessions_lock:
            _close_sessions(self._sessions)

    # --- search -----------------------------------------------------------------------------

    def _search_window(
        self,
        config: SourceConfig,
        session: _Session,
        states: dict[str, _TagState],
        tag: str,
        earlier_tags: Sequence[str],
    ) -> Iterator[CollectedPage]:
        from atproto_client import models

        state = states[tag]
        window = state.window
        assert window is not None
        limit = config.page_limit or SEARCH_LIMIT
        server_cursor: str | None = None
        query_until = window.top if window.floor is None else window.floor + _MS
        previous_page: set[str] = set()
        while True:
            params = models.AppBskyFeedSearchPosts.Params(
                q=f"#{tag}",
                tag=[tag],
                sort="latest",
                since=_iso(window.since),
                until=_iso(query_until),
                limit=limit,
                cursor=server_cursor,
            )
            try:
                content = self._query(config, session, "app.bsky.feed.searchPosts", params)
            except _Refused as exc:
                if exc.status == 400 and server_cursor is not None and window.floor is not None:
                    # the server refuses cursors past its cap: continue below the floor instead
                    server_cursor, query_until = None, window.floor + _MS
                    continue
                raise InvalidSource(f"search refused: {exc}") from exc
            items = content.get("posts")
            if not isinstance(items, list):
                raise BadPayload("searchPosts answered without a posts list")
            next_cursor = content.get("cursor")
            posts: list[CollectedPost] = []
            fresh = 0
            page_floor: datetime | None = None
            at_page_floor: set[str] = set()
            this_page: set[str] = set()
            for item in items:
                if not isinstance(item, Mapping) or not isinstance(item.get("uri"), str):
                    self._skip("search item", BadPayload("no uri"))
                    continue
                uri: str = item["uri"]
                this_page.add(uri)
                moment = sort_at(item)
                if moment is None:
                    self._skip(uri, BadPayload("no usable createdAt/indexedAt"))
                    continue
                at = _ms(moment)
                if uri in previous_page or not window.since <= moment < window.top:
                    continue  # repeated from the previous page, or outside this window
                if window.floor is not None and (
                    at > window.floor or (at == window.floor and uri in window.floor_uris)
                ):
                    continue  # handled before this page
                fresh += 1
                if page_floor is None or at < page_floor:
                    page_floor, at_page_floor = at, {uri}
                elif at == page_floor:
                    at_page_floor.add(uri)
                try:
                    post = map_item(item)
                except BadPayload as exc:
                    self._skip(uri, exc)
                    continue
                if self._owned_by(post, tag, earlier_tags):
                    posts.append(post)
            if page_floor is not None:
                if window.floor is None or page_floor < window.floor:
                    window.floor, window.floor_uris = page_floor, at_page_floor
                elif page_floor == window.floor:
                    window.floor_uris |= at_page_floor
            previous_page = this_page
            done = False
            if fresh == 0:
                done = True
            elif isinstance(next_cursor, str) and next_cursor:
                server_cursor = next_cursor
            elif len(items) >= limit and window.floor is not None:
                server_cursor, query_until = None, window.floor + _MS  # capped or exactly full
            else:
                done = True
            if done:
                state.through, state.window = window.top, None
            requests, waited = session.take_stats()
            yield CollectedPage(
                posts=posts, cursor=self._dump(states), requests=requests, rate_limit_wait_s=waited
            )
            if done:
                return

    @staticmethod
    def _owned_by(post: CollectedPost, tag: str, earlier_tags: Sequence[str]) -> bool:
        """Keep a post in the search of ``tag`` when it carries ``tag`` and no earlier one."""
        own = {normalise_tag(t) for t in post.tags}
        return tag in own and not any(t in own for t in earlier_tags)

    @staticmethod
    def _dump(states: Mapping[str, _TagState]) -> dict[str, Any]:
        return {"v": CURSOR_VERSION, "tags": {tag: s.dump() for tag, s in states.items()}}

    def _backfill_start(self, config: SourceConfig) -> datetime:
        since = config.extra.get("since")
        if isinstance(since, datetime):
            return _ms(since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC))
        if since is not None:
            return _ms(parse_datetime(since))
        days = float(config.extra.get("backfill_days", 30))
        return _ms(self.clock.now() - timedelta(days=days))

    def _skip(self, what: str, exc: BadPayload) -> None:
        self.skipped_items += 1
        log.warning("bluesky: skipped unmappable item %s: %s", what, exc.reason)

    # --- posts, actors, urls ----------------------------------------------------------------

    def _get_posts(
        self, config: SourceConfig, session: _Session, uris: Sequence[str]
    ) -> dict[str, Mapping[str, Any]]:
        from atproto_client import models

        params = models.AppBskyFeedGetPosts.Params(uris=list(uris))
        try:
            content = self._query(config, session, "app.bsky.feed.getPosts", params)
        except _Refused as exc:
            raise InvalidSource(f"getPosts refused: {exc}") from exc
        items = content.get("posts")
        if not isinstance(items, list):
            raise BadPayload("getPosts answered without a posts list")
        return {
            item["uri"]: item
            for item in items
            if isinstance(item, Mapping) and isinstance(item.get("uri"), str)
        }

    def _actors(
        self, config: SourceConfig, session: _Session, nsid: str, uri: str, key: str
    ) -> tuple[str, ...]:
        from atproto_client import models

        params_model: Any = (
            models.AppBskyFeedGetLikes.Params if key == "likes" else models.AppBskyFeedGetRepostedBy.Params
        )
        found: dict[str, None] = {}
        cursor: str | None = None
        for _ in range(self.engagement_max_pages):
            try:
                content = self._query(config, session, nsid, params_model(uri=uri, limit=100, cursor=cursor))
            except _Refused as exc:
                raise InvalidSource(f"{nsid} refused: {exc}") from exc
            items = content.get(key)
            if not isinstance(items, list):
                raise BadPayload(f"{nsid} answered without {key}")
            for item in items:
                actor = item.get("actor") if key == "likes" and isinstance(item, Mapping) else item
                did = actor.get("did") if isinstance(actor, Mapping) else None
                if isinstance(did, str) and did.startswith("did:"):
                    found.setdefault(f"bluesky:{did}", None)
            next_cursor = content.get("cursor")
            if not items or not isinstance(next_cursor, str) or not next_cursor:
                break
            cursor = next_cursor
        session.take_stats()
        return tuple(found)

    def _ref_uri(self, config: SourceConfig, session: _Session, ref: PostRef) -> str:
        for candidate in (ref.global_key, ref.local_id):
            try:
                return parse_post_uri(candidate).uri
            except BadPayload:
                continue
        if ref.url:
            return self._url_uri(config, session, ref.url)
        raise InvalidSource(f"not a Bluesky post reference: {ref.global_key!r}")

    def _url_uri(self, config: SourceConfig, session: _Session, url: str) -> str:
        from atproto_client import models

        if url.startswith("at://"):
            try:
                return parse_post_uri(url).uri
            except BadPayload as exc:
                raise InvalidSource(exc.reason) from exc
        parts = urlsplit(url)
        segments = [unquote(s) for s in parts.path.split("/") if s]
        if (
            parts.scheme not in ("http", "https")
            or parts.hostname not in ("bsky.app", "www.bsky.app")
            or len(segments) != 4
            or segments[0] != "profile"
            or segments[2] != "post"
        ):
            raise InvalidSource(f"not a bsky.app post URL: {url}")
        actor, rkey = segments[1], segments[3]
        if not actor.startswith("did:"):
            params = models.ComAtprotoIdentityResolveHandle.Params(handle=actor.lower())
            try:
                content = self._query(config, session, "com.atproto.identity.resolveHandle", params)
            except _Refused as exc:
                raise InvalidSource(f"handle {actor} does not resolve: {exc}") from exc
            did = content.get("did")
            if not isinstance(did, str) or not did.startswith("did:"):
                raise BadPayload(f"resolveHandle answered without a did for {actor}")
            actor = did
        return AtPostUri(did=actor, rkey=rkey).uri

    # --- the SDK, sessions, retries, rate limits --------------------------------------------

    def _session(self, config: SourceConfig) -> _Session:
        key = (config.url, config.handle, config.token, config.timeout_s, config.trusted)
        with self._sessions_lock:
            session = self._sessions.get(key)
            if session is None:
                session = self._new_session(config)
                self._sessions[key] = session
            return session

    def _new_session(self, config: SourceConfig) -> _Session:
        from atproto_client import Client
        from atproto_client.request import Request

        holder: list[_Session] = []

        def on_request(request: Any) -> None:
            holder[0].requests += 1

        def on_response(response: Any) -> None:
            self._note_budget(holder[0], response.headers)

        guarded: dict[str, Any] = {}
        if not config.trusted:
            guarded = {"transport": GuardedTransport(self.guard), "trust_env": False}
        request = Request(
            timeout=config.timeout_s,
            event_hooks={"request": [on_request], "response": [on_response]},
            **guarded,
        )
        session = _Session(
            client=Client(base_url=config.url, request=request), handle=config.handle, password=config.token
        )
        holder.append(session)
        return session

    def _login(self, config: SourceConfig, session: _Session) -> None:
        def send() -> None:
            session.client.login(session.handle, session.password, fetch_bsky_profile=False)

        try:
            self._with_retries(config, session, "createSession", send)
        except _Refused as exc:
            raise SourceBlocked(f"login refused for {session.handle}: {exc}") from exc
        session.logged_in = True

    def _query(self, config: SourceConfig, session: _Session, nsid: str, params: Any) -> Mapping[str, Any]:
        """One XRPC query with retries; return the JSON object the server sent."""
        with session.lock:
            relogged = False
            while True:
                if session.handle and not session.logged_in:
                    self._login(config, session)

                def send() -> Any:
                    return session.client.invoke_query(
                        nsid, params=params, output_encoding="application/json"
                    )

                try:
                    response = self._with_retries(config, session, nsid, send)
                except _Refused as exc:
                    if exc.error in _RELOGIN_ERRORS and session.handle and not relogged:
                        session.logged_in, relogged = False, True
                        continue
                    if exc.status == 403 and not session.handle:
                        raise SourceBlocked(f"anonymous search refused ({exc})") from exc
                    if exc.status in (401, 403):
                        raise SourceBlocked(f"{nsid} refused: {exc}") from exc
                    raise
                content = response.content
                if not isinstance(content, Mapping):
                    raise BadPayload(f"{nsid} answered with a non-object body")
                return content

    def _with_retries(self, config: SourceConfig, session: _Session, what: str, send: Callable[[], T]) -> T:
        """Send with rate-limit waits and backoff; map the SDK's errors to our family."""
        import httpx
        from atproto_client import exceptions as sdk
        from atproto_core.exceptions import AtProtocolError

        failures = 0
        limited = 0
        while True:
            self._respect_budget(config, session)
            try:
                result = send()
            except sdk.RateLimitExceededError as exc:
                limited += 1
                self._wait_429(config, session, exc.reset_at, limited)
                continue
            except (sdk.UnauthorizedError, sdk.BadRequestError) as exc:
                raise _refused(exc) from exc
            except sdk.RequestException as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status in (404, 501):
                    raise InvalidSource(f"{config.url} does not serve {what} ({status})") from exc
                if 400 <= status < 500:
                    raise _refused(exc) from exc
                reason = f"{what}: HTTP {status}"
            except sdk.NetworkError as exc:  # timeouts and transport errors, 409/413/502
                # the SDK's text embeds the raw body (an HTML error page, say): keep it out of
                # the words shown on the sources' health page
                status = exc.response.status_code if getattr(exc, "response", None) is not None else 0
                cause = f" ({type(exc.__cause__).__name__})" if exc.__cause__ is not None else ""
                reason = f"{what}: HTTP {status}" if status else f"{what}: {type(exc).__name__}{cause}"
            except httpx.HTTPError as exc:  # e.g. a connection reset mid-body
                reason = f"{what}: {type(exc).__name__}"
            except (ValueError, sdk.ModelError) as exc:  # malformed JSON or a body of bad shape
                reason = f"{what}: malformed body ({type(exc).__name__})"
            except AtProtocolError as exc:  # anything else the SDK raises (e.g. an undecodable JWT)
                raise BadPayload(f"{what}: {type(exc).__name__} {exc}") from exc
            else:
                if isinstance(getattr(result, "content", None), bytes):
                    reason = f"{what}: not a JSON body"
                else:
                    return result
            failures += 1
            if failures >= self.max_attempts:
                raise TransientError(f"{reason}; gave up after {failures} attempts")
            self._sleep(session, self._backoff(failures), rate_limit=False)

    def _note_budget(self, session: _Session, headers: Mapping[str, str]) -> None:
        remaining, reset = headers.get("ratelimit-remaining"), headers.get("ratelimit-reset")
        try:
            session.remaining = int(remaining) if remaining is not None else session.remaining
            if reset is not None:
                session.reset_at = datetime.fromtimestamp(int(reset), UTC)
        except (ValueError, OverflowError, OSError):
            return

    def _respect_budget(self, config: SourceConfig, session: _Session) -> None:
        if session.remaining is None or session.remaining > self.rate_reserve:
            return
        if session.reset_at is not None:
            wait = (session.reset_at - self.clock.now()).total_seconds()
            if wait > config.max_wait_s:
                raise RateLimited(session.reset_at, "rate-limit budget spent")
            self._sleep(session, wait, rate_limit=True)
        session.remaining = None  # a new window: the next response tells us its budget

    def _wait_429(
        self, config: SourceConfig, session: _Session, reset_at: datetime | None, limited: int
    ) -> None:
        now = self.clock.now()
        wait = (reset_at - now).total_seconds() if reset_at else 0.0
        if wait <= 0:
            wait = self._backoff(limited)
        if wait > config.max_wait_s or limited > self.max_attempts:
            raise RateLimited(reset_at or now + timedelta(seconds=wait), "429 from the server")
        self._sleep(session, wait, rate_limit=True)
        session.remaining = None

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_cap_s, self.backoff_base_s * 2.0 ** (attempt - 1))
        return delay / 2 + self._rng.uniform(0, delay / 2)

    def _sleep(self, session: _Session, seconds: float, *, rate_limit: bool) -> None:
        if seconds <= 0:
            return
        self.clock.sleep(seconds)
        if rate_limit:
            session.waited_s += seconds


def _close_sessions(sessions: dict[Any, _Session]) -> None:
    while sessions:
        _, session = sessions.popitem()
        session.client.request.close()


def _refused(exc: Any) -> _Refused:
    response = exc.response
    status = response.status_code if response is not None else 0
    content = response.content if response is not None else None
    error = getattr(content, "error", "") or ""
    message = getattr(content, "message", "") or ""
    return _Refused(status, str(error), str(message))


def _is_local(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.endswith(".local"):
        return True
    try:
        address = ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global
