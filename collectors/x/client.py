"""X (Twitter) API v2 with a bearer token: recent search, lookup, liking users and retweeters.

Cursor (JSON)::

    {"v": 1, "since_id": str | None, "pending_until_id": str | None, "pending_newest": str | None}

Recent search answers newest first, so a run cannot simply move ``since_id`` forward page by
page: killed after page 1 it would skip everything older on pages 2…n. Instead, while a run pages
backwards, each page's cursor keeps the *committed* ``since_id`` and records
``pending_until_id`` (the oldest id emitted so far) and ``pending_newest`` (the newest id of
the run). A run that finds a pending range resumes it with ``since_id`` + ``until_id`` (the
``next_token`` of a dead run is not reused: tokens expire); only the last page commits
``since_id = pending_newest`` and clears the pending pair. Items outside
``since_id < id < pending_until_id`` are dropped, which also removes the items a page repeats
from the previous one, without remembering the run's ids (memory stays flat). Tweet ids are
numbers by X's definition (snowflakes), so comparing them numerically is right here.

Rate limits: ``x-rate-limit-remaining``/``-reset`` are honoured before the next request and a 429
waits for ``x-rate-limit-reset`` (see ``collectors.http``). An item that cannot be mapped is
skipped, logged and counted in ``skipped_items``.

Requests go through ``collectors.net.fetch_guarded`` (size and time caps, redirects checked; the
address guard applies unless the source is trusted, like the simulator). The bearer token is
never sent across a redirect to another origin.
"""

from __future__ import annotations

import json
import logging
import random
import re
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
)
from collectors.http import MalformedBody, RequestRunner, RetryPolicy
from collectors.net import FetchResult, PublicAddressGuard, fetch_guarded, guarded_client
from collectors.x import mapping

log = logging.getLogger(__name__)

DEFAULT_API = "https://api.x.com"
DEFAULT_QUERY = "#iucncec -is:retweet"
TWEET_FIELDS = "created_at,public_metrics,entities,referenced_tweets,attachments,lang,author_id"
USER_FIELDS = "username,name"
MAX_LOOKUP = 100
MAX_ENGAGEMENT_PAGES = 10
_STATUS_URL = re.compile(
    r"^https?://(?:www\.|mobile\.)?(?:x|twitter)\.com/(?P<user>\w{1,50})/status(?:es)?/"
    r"(?P<id>\d{1,25})(?:[/?#].*)?$",
    re.IGNORECASE,
)
_GONE_TITLES = ("not found error", "authorization error")


def _as_id(value: Any) -> int | None:
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 25:
        return int(value)
    return None


def _load_cursor(cursor: Mapping[str, Any] | None) -> tuple[int | None, int | None, int | None]:
    if not isinstance(cursor, Mapping):
        return None, None, None
    return (
        _as_id(cursor.get("since_id")),
        _as_id(cursor.get("pending_until_id")),
        _as_id(cursor.get("pending_newest")),
    )


def _cursor(since: int | None, until: int | None, newest: int | None) -> dict[str, Any]:
    return {
        "v": 1,
        "since_id": None if since is None else str(since),
        "pending_until_id": None if until is None else str(until),
        "pending_newest": None if newest is None else str(newest),
    }


def _errors_text(body: Any) -> str:
    if isinstance(body, Mapping):
        parts = [str(body.get("detail") or body.get("title") or "")]
        for error in body.get("errors") or []:
            if isinstance(error, Mapping):
                parts.append(str(error.get("message") or error.get("detail") or ""))
        return "; ".join(p for p in parts if p)[:500]
    return ""


class _SinceIdRefused(Exception):
    """X refuses a ``since_id`` older than its 7-day window; search without it."""


class XCollector:
    """X v2 recent search with a kill-safe backwards-paging cursor."""

    platform = Platform.X

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        guard: PublicAddressGuard | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.retry = retry or RetryPolicy()
        self.rng = rng or random.Random()
        self.guard = guard or PublicAddressGuard()
        self.skipped_items = 0

    # --- contract -------------------------------------------------------------------------------

    def validate(self, config: SourceConfig) -> None:
        """Refuse configurations that cannot work (no network)."""
        if not config.token:
            raise InvalidSource("X needs a bearer token (BIE_X_BEARER_TOKEN)")
        parts = urlsplit(self._base(config))
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise InvalidSource("the X API base URL must be http(s)")
        query = self._query(config)
        if len(query) > 512:
            raise InvalidSource("an X recent-search query is at most 512 characters")
        if config.page_limit is not None and not 10 <= config.page_limit <= 100:
            raise InvalidSource("X search pages hold 10 to 100 tweets")

    def map_item(self, raw: Mapping[str, Any]) -> CollectedPost:
        """Map one tweet with its includes (see ``collectors.x.mapping``)."""
        return mapping.map_item(raw)

    def fetch(self, config: SourceConfig, cursor: Mapping[str, Any] | None) -> Iterator[CollectedPage]:
        """Yield pages of new tweets, newest first, each with a resumable cursor."""
        self.validate(config)
        since, until, newest = _load_cursor(cursor)
        runner = self._runner(config)
        params: dict[str, str] = {
            "query": self._query(config),
            "max_results": str(config.page_limit or 100),
            "tweet.fields": TWEET_FIELDS,
            "expansions": "author_id",
            "user.fields": USER_FIELDS,
        }
        send_since = since is not None
        next_token: str | None = None
        with guarded_client(trusted=config.trusted, guard=self.guard) as client:
            while True:
                page_params = dict(params)
                if send_since and since is not None:
                    page_params["since_id"] = str(since)
                if next_token:
                    page_params["next_token"] = next_token
                elif until is not None:
                    page_params["until_id"] = str(until)
                try:
                    body = self._get_json(
                        runner,
                        client,
                        config,
                        "/2/tweets/search/recent",
                        page_params,
                        since_refusable=send_since,
                    )
                except _SinceIdRefused:
                    log.info("X refused since_id %s (older than 7 days); filtering locally", since)
                    send_since = False
                    continue
                data = [t for t in body.get("data") or [] if isinstance(t, Mapping)]
                includes = body.get("includes") if isinstance(body.get("includes"), Mapping) else {}
                meta = body.get("meta") if isinstance(body.get("meta"), Mapping) else {}
                posts: list[CollectedPost] = []
                page_ids: list[int] = []
                emitted: set[int] = set()
                for tweet in data:
                    tid = _as_id(tweet.get("id"))
                    if tid is None:
                        self._skip(f"tweet without a usable id: {str(tweet.get('id'))[:40]}")
                        continue
                    page_ids.append(tid)
                    if (since is not None and tid <= since) or (until is not None and tid >= until):
                        continue  # outside the range still to collect (repeated or stale)
                    if tid in emitted:
                        continue
                    emitted.add(tid)
                    post = self._map(tweet, includes)
                    if post is not None:
                        posts.append(post)
                token = meta.get("next_token") if isinstance(meta, Mapping) else None
                next_token = token if isinstance(token, str) and token else None
                if page_ids:
                    if newest is None or max(page_ids) > newest:
                        newest = max(page_ids)
                    oldest = min(page_ids)
                    until = oldest if until is None else min(until, oldest)
                requests, waited = runner.take_stats()
                if next_token:
                    page_cursor = _cursor(since, until, newest)
                else:
                    committed = since if newest is None else max(newest, since or 0)
                    page_cursor = _cursor(committed, None, None)
                yield CollectedPage(
                    posts=posts, cursor=page_cursor, requests=requests, rate_limit_wait_s=waited
                )
                if not next_token:
                    return

    def recheck(self, config: SourceConfig, refs: Sequence[PostRef]) -> Iterator[RecheckResult]:
        """Look tweets up by id (≤ 100 a request); not-found or now-protected ones are gone."""
        self.validate(config)
        runner = self._runner(config)
        numeric = [ref for ref in refs if _as_id(ref.local_id or ref.global_key) is not None]
        for ref in refs:
            if ref not in numeric:
                yield RecheckResult(ref=ref, post=None, gone=False, requests=0)
        with guarded_client(trusted=config.trusted, guard=self.guard) as client:
            for start in range(0, len(numeric), MAX_LOOKUP):
                batch = numeric[start : start + MAX_LOOKUP]
                ids = [str(_as_id(ref.local_id or ref.global_key)) for ref in batch]
                body = self._lookup(runner, client, config, ids)
                requests = runner.take_stats()[0]
                found, gone = self._lookup_result(body)
                for index, (ref, tid) in enumerate(zip(batch, ids, strict=True)):
                    count = requests if index == 0 else 0
                    if tid in found:
                        post = self._map(found[tid], body.get("includes") or {})
                        yield RecheckResult(ref=ref, post=post, gone=False, requests=count)
                    else:
                        yield RecheckResult(ref=ref, post=None, gone=tid in gone, requests=count)

    def fetch_engagement(self, config: SourceConfig, refs: Sequence[PostRef]) -> Iterator[Engagement]:
        """Name who liked (``liking_users``) and retweeted (``retweeted_by``) each tweet."""
        self.validate(config)
        runner = self._runner(config)
        with guarded_client(trusted=config.trusted, guard=self.guard) as client:
            for ref in refs:
                tid = _as_id(ref.local_id or ref.global_key)
                if tid is None:
                    continue
                liked = self._users(runner, client, config, f"/2/tweets/{tid}/liking_users")
                reposted = self._users(runner, client, config, f"/2/tweets/{tid}/retweeted_by")
                yield Engagement(global_key=ref.global_key, liked_by=liked, reposted_by=reposted)

    def fetch_url(self, config: SourceConfig, url: str) -> CollectedPost:
        """Fetch one tweet by its x.com / twitter.com status URL."""
        self.validate(config)
        match = _STATUS_URL.match(url.strip())
        if match is None:
            raise BadPayload(f"not an X status URL: {url[:200]}")
        tid = str(int(match.group("id")))
        runner = self._runner(config)
        with guarded_client(trusted=config.trusted, guard=self.guard) as client:
            body = self._lookup(runner, client, config, [tid])
        found, _ = self._lookup_result(body)
        if tid not in found:
            raise BadPayload(f"tweet {tid} not found")
        return mapping.map_item({"data": found[tid], "includes": body.get("includes") or {}})

    # --- internals ------------------------------------------------------------------------------

    @staticmethod
    def _base(config: SourceConfig) -> str:
        return (config.url or DEFAULT_API).rstrip("/")

    @staticmethod
    def _query(config: SourceConfig) -> str:
        if config.query and config.query.strip():
            return config.query.strip()
        if config.tags:
            tags = " OR ".join(f"#{t.lstrip('#')}" for t in config.tags)
            return f"({tags}) -is:retweet" if len(config.tags) > 1 else f"{tags} -is:retweet"
        return DEFAULT_QUERY

    def _runner(self, config: SourceConfig) -> RequestRunner:
        return RequestRunner(clock=self.clock, max_wait_s=config.max_wait_s, policy=self.retry, rng=self.rng)

    def _skip(self, reason: str) -> None:
        self.skipped_items += 1
        log.warning("skipped an X item: %s", reason)

    def _map(self, tweet: Mapping[str, Any], includes: Any) -> CollectedPost | None:
        includes = includes if isinstance(includes, Mapping) else {}
        author = mapping.find_user(includes, tweet.get("author_id"))
        raw = {"data": dict(tweet), "includes": {"users": [dict(author)] if author else []}}
        media = includes.get("media")
        if isinstance(media, list):
            keys = (
                (tweet.get("attachments") or {}).get("media_keys")
                if isinstance(tweet.get("attachments"), Mapping)
                else None
            )
            wanted = set(keys) if isinstance(keys, list) else set()
            raw["includes"]["media"] = [
                m for m in media if isinstance(m, Mapping) and m.get("media_key") in wanted
            ]
        try:
            return mapping.map_item(raw)
        except BadPayload as exc:
            self._skip(exc.reason)
            return None

    def _get_json(
        self,
        runner: RequestRunner,
        client: httpx.Client,
        config: SourceConfig,
        path: str,
        params: Mapping[str, str],
        *,
        since_refusable: bool = False,
    ) -> Mapping[str, Any]:
        url = str(httpx.URL(self._base(config) + path, params=dict(params)))
        headers = {
            "Authorization": f"Bearer {config.token}",
            "Accept": "application/json",
            "User-Agent": "BlogItEarnIt/0.1",
        }

        def send() -> FetchResult:
            return fetch_guarded(
                client,
                url,
                trusted=config.trusted,
                max_bytes=config.max_bytes,
                timeout_s=config.timeout_s,
                headers=headers,
                guard=self.guard,
            )

        def parse(result: FetchResult) -> Mapping[str, Any]:
            try:
                body = json.loads(result.content) if result.content else None
            except (ValueError, RecursionError) as exc:
                if result.status_code == 200:
                    raise MalformedBody(f"invalid JSON from {path}") from exc
                body = None
            status = result.status_code
            if status in (401, 403):
                raise SourceBlocked(f"X answered {status}: {_errors_text(body) or 'refused'}")
            if status == 400 and since_refusable and "since_id" in _errors_text(body):
                raise _SinceIdRefused()
            if status in (400, 404):
                raise InvalidSource(f"X answered {status} for {path}: {_errors_text(body)}")
            if status != 200:
                raise BadPayload(f"X answered {status} for {path}")
            if not isinstance(body, Mapping):
                raise BadPayload(f"X answered {path} with something that is not an object")
            return body

        return runner.call(send, parse)

    def _lookup(
        self, runner: RequestRunner, client: httpx.Client, config: SourceConfig, ids: Sequence[str]
    ) -> Mapping[str, Any]:
        return self._get_json(
            runner,
            client,
            config,
            "/2/tweets",
            {
                "ids": ",".join(ids),
                "tweet.fields": TWEET_FIELDS,
                "expansions": "author_id",
                "user.fields": USER_FIELDS,
            },
        )

    @staticmethod
    def _lookup_result(
        body: Mapping[str, Any],
    ) -> tuple[dict[str, Mapping[str, Any]], set[str]]:
        found: dict[str, Mapping[str, Any]] = {}
        for tweet in body.get("data") or []:
            if isinstance(tweet, Mapping) and isinstance(tweet.get("id"), str):
                found[tweet["id"]] = tweet
        gone: set[str] = set()
        for error in body.get("errors") or []:
            if not isinstance(error, Mapping):
                continue
            title = str(error.get("title") or "").lower()
            kind = str(error.get("type") or "")
            value = error.get("value") or error.get("resource_id")
            if isinstance(value, str) and (title in _GONE_TITLES or kind.endswith("resource-not-found")):
                gone.add(value)
        return found, gone

    def _users(
        self, runner: RequestRunner, client: httpx.Client, config: SourceConfig, path: str
    ) -> tuple[str, ...]:
        keys: list[str] = []
        token: str | None = None
        for _ in range(MAX_ENGAGEMENT_PAGES):
            params = {"max_results": "100", "user.fields": USER_FIELDS}
            if token:
                params["pagination_token"] = token
            body = self._get_json(runner, client, config, path, params)
            for user in body.get("data") or []:
                if isinstance(user, Mapping):
                    try:
                        keys.append(mapping.user_key(user))
                    except BadPayload as exc:
                        self._skip(exc.reason)
            meta = body.get("meta")
            next_token = meta.get("next_token") if isinstance(meta, Mapping) else None
            if not isinstance(next_token, str) or not next_token:
                break
            token = next_token
        return tuple(dict.fromkeys(keys))
