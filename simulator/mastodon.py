"""A simulated Mastodon-API server (several of them, federating a shared pool of posts).

``MastodonFederation`` owns the posts: each is written by one of the seeded reporters (or a noise
account), lives on its author's home server and is federated to 1-3 servers. ``MastodonSim`` is one
server's view of that pool, speaking the subset of the API the collector uses::

    GET /api/v2/instance                          configuration.timelines_access as Mastodon 4.x
    GET /api/v1/timelines/tag/:tag                min_id/max_id/since_id/limit/any[]/all[]/none[]/local
    GET /api/v1/statuses/:id                      404 when deleted or not visible
    GET /api/v1/statuses?id[]=...                 the found ones, missing ids silently left out
    GET /api/v1/statuses/:id/favourited_by        accounts, paginated with Link (max_id)
    GET /api/v1/statuses/:id/reblogged_by
    GET /api/v1/accounts/lookup?acct=
    GET /api/v2/search?q=URL&type=statuses        resolve a status by its url or uri

Like Mastodon, tag feeds list public, non-boost statuses newest first, and the ``Link`` header drops
``any[]``/``all[]``/``none[]``. Ids are opaque: a numeric server uses snowflake-like decimal
strings, a ``string_ids=True`` server fixed-width letter strings (sortable, never numbers). A
federated post has the same ``uri`` everywhere and a different local ``id`` on each server.

Ground truth (``truth()``): the ``uri`` of every live, public, non-boost status that carries
``iucncec`` or ``natureforall`` (any case) and that this server's tag feed shows (replies are left
out on a server built with ``replies_in_tag_feed=False``). Boosts never appear in tag feeds, as on
Mastodon, so the collector never stores them from a feed and truth leaves them out.
"""

from __future__ import annotations

import bisect
import html
import random
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator.core import ASGIApp, RateLimitStyle, current_faults
from simulator.world import EVENT_TAGS, SimClock, people, post_text

FOLLOWED_TAGS = ("iucncec", "natureforall")
DEFAULT_SERVERS = {"social1": "social1.example", "social2": "social2.example", "social3": "social3.example"}
MAX_PAGE = 40
MAX_ACCOUNTS_PAGE = 80

_LETTERS = "ABCDEFGHJKMNPQRSTVWXYZ"  # sorted, so fixed-width strings sort like the numbers
_LETTER_WIDTH = 15  # 22**15 > 2**64
_TAG_RE = re.compile(r"#(\w+)")
_TOKEN_RE = re.compile(r"(#\w+|https?://\S+|@\w+(?:@[\w.-]+)?)")


class _Clock(Protocol):
    def now(self) -> datetime: ...


def _letters(value: int) -> str:
    chars = []
    for _ in range(_LETTER_WIDTH):
        value, digit = divmod(value, len(_LETTERS))
        chars.append(_LETTERS[digit])
    return "".join(reversed(chars))


def _from_letters(text: str) -> int | None:
    if len(text) != _LETTER_WIDTH:
        return None
    value = 0
    for char in text:
        digit = _LETTERS.find(char)
        if digit < 0:
            return None
        value = value * len(_LETTERS) + digit
    return value


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class SimAccount:
    """An author or a fan; ``home`` is the name of the server where the account lives."""

    key: int  # stable number, the base of the account's local ids
    username: str
    home: str
    display_name: str


@dataclass
class SimPost:
    """One status as its author wrote it; every server renders its own copy."""

    seq: int
    order: int  # global ordering value (snowflake-like); local ids derive from it
    author: SimAccount
    created_at: datetime
    text: str
    tags: list[str]  # as written, mixed case, in order of appearance
    servers: set[str]
    visibility: str = "public"
    language: str = "en"
    media: int = 0
    reply_to: SimPost | None = None
    reblog_of: SimPost | None = None
    quote_of: SimPost | None = None
    edited_at: datetime | None = None
    deleted: bool = False
    liked_by: list[SimAccount] = field(default_factory=list)
    boosted_by: list[SimAccount] = field(default_factory=list)
    replies: int = 0

    @property
    def is_boost(self) -> bool:
        return self.reblog_of is not None

    def tag_set(self) -> set[str]:
        return {tag.lower() for tag in self.tags}


class MastodonFederation:
    """A pool of posts shared by several simulated servers (each post on 1-3 of them)."""

    def __init__(
        self,
        seed: int = 0,
        posts: int = 300,
        servers: dict[str, str] | None = None,
        clock: _Clock | None = None,
        post_interval_s: float = 30.0,
    ) -> None:
        self.seed = seed
        self.domains = dict(servers or DEFAULT_SERVERS)
        self.server_names = tuple(self.domains)  # the servers posts federate to
        self.clock: _Clock = clock or SimClock()
        self.post_interval_s = post_interval_s
        self.lock = threading.RLock()
        self.posts: list[SimPost] = []
        self.by_uri: dict[str, SimPost] = {}
        self.views: dict[str, _ServerView] = {}
        self._rng = random.Random(f"mastodon-federation-{seed}")
        homes = tuple(self.domains) if len(self.domains) > 1 else tuple(DEFAULT_SERVERS)
        for name in homes:
            self.domains.setdefault(name, f"{name}.example")
        self.people = [
            SimAccount(p.index, p.mastodon_user, p.mastodon_server, p.name)
            for p in people(seed, mastodon_servers=homes)
        ]
        self.fans = [SimAccount(1000 + i, f"fan{i}", "elsewhere", f"Nature fan {i}") for i in range(40)]
        self.domains.setdefault("elsewhere", "elsewhere.example")
        self.noise = [
            SimAccount(2000 + i, f"noise{i}", homes[i % len(homes)], f"Other {i}") for i in range(10)
        ]
        self._last_order = 0
        self._ticked: dict[str, float] = {}
        self._advanced = 0.0
        start = self.clock.now() - timedelta(days=3)
        step = timedelta(days=3) / max(posts, 1)
        for i in range(posts):
            self._seed_post(start + step * i)

    # --- building ---------------------------------------------------------------------------

    def _next_order(self, moment: datetime) -> int:
        order = (int(moment.timestamp() * 1000) << 16) & ~0xF
        order = max(order, self._last_order + 16)
        self._last_order = order
        return order

    def _pick_servers(self, home: str) -> set[str]:
        servers = {home} if home in self.server_names else set()
        for name in self.server_names:
            if self._rng.random() < 0.45:
                servers.add(name)
        if not servers:
            servers.add(self._rng.choice(self.server_names))
        return servers

    def _seed_post(self, moment: datetime) -> None:
        rng = self._rng
        originals = [p for p in self.posts[-200:] if not p.is_boost and p.tags]
        roll = rng.random()
        if roll < 0.08 and originals:
            target = rng.choice(originals)
            booster = rng.choice(self.people)
            self._add(
                SimPost(
                    seq=0,
                    order=0,
                    author=booster,
                    created_at=moment,
                    text="",
                    tags=[],
                    servers=self._pick_servers(booster.home) | set(target.servers),
                    reblog_of=target,
                )
            )
            return
        noise = roll < 0.18
        author = rng.choice(self.noise if noise else self.people)
        text, tags = post_text(
            rng,
            event_tag=rng.choice(EVENT_TAGS) if rng.random() < 0.5 else None,
            tagged=not noise,
            short=rng.random() < 0.1,
            with_link=rng.random() < 0.2,
        )
        post = SimPost(
            seq=0,
            order=0,
            author=author,
            created_at=moment,
            text=text,
            tags=tags,
            servers=self._pick_servers(author.home),
            visibility=rng.choices(["public", "unlisted", "private", "direct"], [90, 4, 3, 3])[0],
            language=rng.choice(["en", "en", "en", "fr", "es"]),
            media=rng.choice([1, 2, 4]) if rng.random() < 0.3 else 0,
        )
        if originals and rng.random() < 0.12:
            post.reply_to = rng.choice(originals)
            post.reply_to.replies += 1
            post.reply_to.servers |= post.servers
            parent = post.reply_to.author
            post.text = f"@{parent.username}@{self.domains[parent.home]} {post.text}"
        elif originals and rng.random() < 0.03:
            post.quote_of = rng.choice(originals)
        post.liked_by = rng.sample(self.people + self.fans, rng.randrange(0, 8))
        post.boosted_by = rng.sample(self.people, rng.randrange(0, 3))
        self._add(post)
        if rng.random() < 0.06:
            post.edited_at = moment + timedelta(minutes=rng.randrange(1, 90))
            post.text += " Update: fixed a typo."
            if rng.random() < 0.2:
                self._strip_tags(post, FOLLOWED_TAGS)
        if rng.random() < 0.03:
            post.deleted = True

    def _add(self, post: SimPost) -> None:
        post.seq = len(self.posts)
        post.order = self._next_order(post.created_at)
        self.posts.append(post)
        self.by_uri[self.uri(post)] = post
        for name in post.servers:
            if name in self.views:
                self.views[name].append(post)

    @staticmethod
    def _strip_tags(post: SimPost, names: Iterable[str]) -> None:
        lowered = {name.lower() for name in names}
        post.tags = [tag for tag in post.tags if tag.lower() not in lowered]
        post.text = " ".join(
            word
            for word in post.text.split(" ")
            if not (word.startswith("#") and word[1:].lower() in lowered)
        )

    def attach(self, view: _ServerView) -> None:
        with self.lock:
            if view.name not in self.server_names:
                raise ValueError(f"server {view.name!r} is not part of this federation")
            self.views[view.name] = view
            for post in self.posts:
                if view.name in post.servers:
                    view.append(post)

    # --- identity ---------------------------------------------------------------------------

    def uri(self, post: SimPost) -> str:
        domain = self.domains[post.author.home]
        base = f"https://{domain}/users/{post.author.username}/statuses/{post.order}"
        return base + "/activity" if post.is_boost else base

    def web_url(self, post: SimPost) -> str | None:
        if post.is_boost:
            return None
        home = self.views.get(post.author.home)
        local = home.local_id(post) if home else str(post.order)
        return f"https://{self.domains[post.author.home]}/@{post.author.username}/{local}"

    # --- mutation (tests, demo) -------------------------------------------------------------

    def delete(self, uri: str) -> None:
        with self.lock:
            self.by_uri[uri].deleted = True

    def edit(self, uri: str, new_text: str | None = None, remove_tag: str | None = None) -> None:
        with self.lock:
            post = self.by_uri[uri]
            if new_text is not None:
                post.text = new_text
                post.tags = list(dict.fromkeys(_TAG_RE.findall(new_text)))
            if remove_tag is not None:
                self._strip_tags(post, [remove_tag.lstrip("#")])
            post.edited_at = self.clock.now()
            for name in post.servers:
                if name in self.views:
                    self.views[name].reindex(post)

    def add_post(
        self,
        *,
        author: int | None = None,
        text: str | None = None,
        servers: Iterable[str] | None = None,
        visibility: str = "public",
        media: int = 0,
        reply_to: str | None = None,
    ) -> str:
        """Publish a new post now; return its uri."""
        with self.lock:
            account = (
                self.people[author % len(self.people)]
                if author is not None
                else self._rng.choice(self.people)
            )
            if text is None:
                text, _ = post_text(self._rng)
            post = SimPost(
                seq=0,
                order=0,
                author=account,
                created_at=self.clock.now(),
                text=text,
                tags=list(dict.fromkeys(_TAG_RE.findall(text))),
                servers=set(servers) if servers is not None else self._pick_servers(account.home),
                visibility=visibility,
                media=media,
            )
            if reply_to is not None:
                post.reply_to = self.by_uri[reply_to]
                post.reply_to.replies += 1
            self._add(post)
            return self.uri(post)

    def tick(self, caller: str, seconds: float) -> None:
        """Let ``seconds`` pass once, however many servers of the pool relay the tick."""
        with self.lock:
            self._ticked[caller] = self._ticked.get(caller, 0.0) + seconds
            due = max(self._ticked.values()) - self._advanced
            if due <= 0:
                return
            self._advanced += due
            advance: Callable[[float], None] | None = getattr(self.clock, "advance", None)
            if advance is not None:
                advance(due)
            for post in self.posts[-500:]:
                if post.deleted or post.is_boost:
                    continue
                for _ in range(int(self._rng.random() * due / 60.0 + 0.5)):
                    fan = self._rng.choice(self.people + self.fans)
                    if fan not in post.liked_by:
                        post.liked_by.append(fan)
                if self._rng.random() < due / 600.0:
                    booster = self._rng.choice(self.people)
                    if booster not in post.boosted_by:
                        post.boosted_by.append(booster)
            for _ in range(int(due // self.post_interval_s)):
                self.add_post()

    def truth(self, server: str) -> set[str]:
        with self.lock:
            view = self.views[server]
            return {
                self.uri(view.posts[pos])
                for pos in range(len(view.posts))
                if view.feed_visible(view.posts[pos]) and view.posts[pos].tag_set() & set(FOLLOWED_TAGS)
            }


class _ServerView:
    """What one server holds: local ids in arrival order and a position index per tag."""

    def __init__(
        self, fed: MastodonFederation, name: str, string_ids: bool, replies_in_tag_feed: bool
    ) -> None:
        self.fed = fed
        self.name = name
        self.string_ids = string_ids
        self.replies_in_tag_feed = replies_in_tag_feed
        self.nibble = 1 + fed.server_names.index(name) % 15
        self.posts: list[SimPost] = []
        self.keys: list[int] = []  # local id values, ascending (server-side ordering only)
        self.position: dict[int, int] = {}  # post seq -> position
        self.by_tag: dict[str, list[int]] = {}

    def key_of(self, post: SimPost) -> int:
        return post.order | (0 if post.author.home == self.name else self.nibble)

    def local_id(self, post: SimPost) -> str:
        key = self.key_of(post)
        return _letters(key) if self.string_ids else str(key)

    def parse_id(self, local_id: str) -> int | None:
        if self.string_ids:
            return _from_letters(local_id)
        return int(local_id) if local_id.isdigit() else None

    def account_id(self, account: SimAccount) -> str:
        key = 7_000_000 + account.key * 31 + self.nibble
        return _letters(key) if self.string_ids else str(key)

    def append(self, post: SimPost) -> None:
        position = len(self.posts)
        self.posts.append(post)
        self.keys.append(self.key_of(post))
        self.position[post.seq] = position
        for tag in post.tag_set():
            self.by_tag.setdefault(tag, []).append(position)

    def reindex(self, post: SimPost) -> None:
        position = self.position[post.seq]
        for tag in post.tag_set():
            positions = self.by_tag.setdefault(tag, [])
            index = bisect.bisect_left(positions, position)
            if index == len(positions) or positions[index] != position:
                positions.insert(index, position)

    def find(self, local_id: str) -> SimPost | None:
        key = self.parse_id(local_id)
        if key is None:
            return None
        index = bisect.bisect_left(self.keys, key)
        if index < len(self.keys) and self.keys[index] == key:
            return self.posts[index]
        return None

    def feed_visible(self, post: SimPost) -> bool:
        return (
            not post.deleted
            and not post.is_boost
            and post.visibility == "public"
            and (self.replies_in_tag_feed or post.reply_to is None)
        )

    def bound(self, local_id: str | None, *, lower: bool) -> int | None:
        """Position bound for a cursor id: first position after it (lower) or before it (upper)."""
        if local_id is None:
            return None
        key = self.parse_id(local_id)
        if key is None:
            raise ValueError(local_id)
        if lower:
            return bisect.bisect_right(self.keys, key)
        return bisect.bisect_left(self.keys, key)

    def tag_page(
        self,
        tags: list[str],
        all_tags: list[str],
        none_tags: list[str],
        *,
        local: bool,
        max_id: str | None,
        min_id: str | None,
        since_id: str | None,
        limit: int,
    ) -> list[SimPost]:
        """The statuses of a tag feed, newest first, as Mastodon pages them."""
        need, avoid = {t.lower() for t in all_tags}, {t.lower() for t in none_tags}

        def wanted(post: SimPost) -> bool:
            if not self.feed_visible(post) or (local and post.author.home != self.name):
                return False
            present = post.tag_set()
            return bool(present & set(tags)) and need <= present and not present & avoid

        upper = self.bound(max_id, lower=False)
        lower = self.bound(min_id if min_id is not None else since_id, lower=True) or 0
        upper = len(self.posts) if upper is None else upper
        ascending = min_id is not None
        found: set[int] = set()
        for tag in tags:
            positions = self.by_tag.get(tag, [])
            start, stop = bisect.bisect_left(positions, lower), bisect.bisect_left(positions, upper)
            picked = 0
            walk = range(start, stop) if ascending else range(stop - 1, start - 1, -1)
            for index in walk:
                if wanted(self.posts[positions[index]]):
                    found.add(positions[index])
                    picked += 1
                    if picked >= limit:
                        break
        chosen = sorted(found)[:limit] if ascending else sorted(found)[-limit:]
        return [self.posts[pos] for pos in reversed(chosen)]


class MastodonSim:
    """One Mastodon-API server; mount several sharing a ``MastodonFederation``."""

    style: RateLimitStyle = "mastodon"

    def __init__(
        self,
        name: str = "social1",
        domain: str | None = None,
        seed: int = 0,
        posts: int = 200,
        shared_pool: MastodonFederation | None = None,
        string_ids: bool = False,
        clock: _Clock | None = None,
        require_token: bool = False,
        token: str | None = None,
        acct_with_domain: bool = False,
        replies_in_tag_feed: bool = True,
    ) -> None:
        if shared_pool is None:
            shared_pool = MastodonFederation(
                seed=seed, posts=posts, servers={name: domain or f"{name}.example"}, clock=clock
            )
        self.pool = shared_pool
        self.name = name
        self.domain = domain or shared_pool.domains.get(name, f"{name}.example")
        shared_pool.domains[name] = self.domain
        self.require_token = require_token
        self.token = token
        self.acct_with_domain = acct_with_domain
        if name not in shared_pool.server_names:
            raise ValueError(f"server {name!r} is not part of this federation")
        self.view = _ServerView(shared_pool, name, string_ids, replies_in_tag_feed)
        shared_pool.attach(self.view)
        self._app: Starlette | None = None

    # --- PlatformSim ------------------------------------------------------------------------

    def asgi(self) -> ASGIApp:
        if self._app is None:
            self._app = Starlette(
                routes=[
                    Route("/api/v2/instance", self._instance),
                    Route("/api/v2/instance/", self._instance),
                    Route("/api/v1/timelines/tag/{tag}", self._tag_timeline),
                    Route("/api/v1/statuses", self._statuses),
                    Route("/api/v1/statuses/{id}", self._status),
                    Route("/api/v1/statuses/{id}/favourited_by", self._favourited_by),
                    Route("/api/v1/statuses/{id}/reblogged_by", self._reblogged_by),
                    Route("/api/v1/accounts/lookup", self._lookup),
                    Route("/api/v2/search", self._search),
                ]
            )
        return self._app

    def truth(self) -> set[str]:
        return self.pool.truth(self.name)

    def tick(self, seconds: float) -> None:
        self.pool.tick(self.name, seconds)

    # --- test helpers -----------------------------------------------------------------------

    def delete(self, uri: str) -> None:
        self.pool.delete(uri)

    def edit(self, uri: str, new_text: str | None = None, remove_tag: str | None = None) -> None:
        self.pool.edit(uri, new_text=new_text, remove_tag=remove_tag)

    def add_post(
        self,
        *,
        author: int | None = None,
        text: str | None = None,
        servers: Iterable[str] | None = None,
        visibility: str = "public",
        media: int = 0,
        reply_to: str | None = None,
    ) -> str:
        """Publish a post on this server (and ``servers`` if given); return its uri."""
        return self.pool.add_post(
            author=author,
            text=text,
            servers=servers if servers is not None else [self.name],
            visibility=visibility,
            media=media,
            reply_to=reply_to,
        )

    def local_id(self, uri: str) -> str | None:
        """This server's id of a status, or ``None`` when the status never reached it."""
        post = self.pool.by_uri[uri]
        return self.view.local_id(post) if self.name in post.servers else None

    def status_url(self, uri: str) -> str | None:
        return self.pool.web_url(self.pool.by_uri[uri])

    def statuses(self) -> list[dict[str, Any]]:
        """Every status this server holds, rendered (deleted ones included)."""
        with self.pool.lock:
            return [self._render(post) for post in self.view.posts]

    # --- rendering --------------------------------------------------------------------------

    def _account(self, account: SimAccount) -> dict[str, Any]:
        home = self.pool.domains.get(account.home, f"{account.home}.example")
        local = account.home == self.name and not self.acct_with_domain
        return {
            "id": self.view.account_id(account),
            "username": account.username,
            "acct": account.username if local else f"{account.username}@{home}",
            "display_name": account.display_name,
            "locked": False,
            "bot": False,
            "url": f"https://{home}/@{account.username}",
            "uri": f"https://{home}/users/{account.username}",
            "created_at": "2023-01-01T00:00:00.000Z",
            "note": "",
            "avatar": None,
            "followers_count": 10 + account.key % 90,
            "emojis": [],
            "fields": [],
        }

    def _html(self, post: SimPost) -> str:
        def token(word: str) -> str:
            if word.startswith("#"):
                name = word[1:]
                return (
                    f'<a href="https://{self.domain}/tags/{html.escape(name)}" '
                    f'class="mention hashtag" rel="tag">#<span>{html.escape(name)}</span></a>'
                )
            if word.startswith("@"):
                user, _, host = word[1:].partition("@")
                host = host or self.domain
                return (
                    f'<span class="h-card" translate="no"><a href="https://{host}/@{user}" '
                    f'class="u-url mention">@<span>{html.escape(user)}</span></a></span>'
                )
            scheme, _, rest = word.partition("://")
            shown, hidden = rest[:23], rest[23:]
            return (
                f'<a href="{html.escape(word)}" target="_blank" rel="nofollow noopener" '
                f'translate="no"><span class="invisible">{scheme}://</span>'
                f'<span class="ellipsis" >{html.escape(shown)}</span>'
                f'<span class="invisible">{html.escape(hidden)}</span></a>'
            )

        paragraphs = []
        for paragraph in post.text.split("\n\n"):
            lines = []
            for line in paragraph.split("\n"):
                # split() with a group puts the tokens at the odd indexes
                parts = _TOKEN_RE.split(line)
                lines.append(
                    "".join(token(part) if i % 2 else html.escape(part) for i, part in enumerate(parts))
                )
            paragraphs.append("<p>" + "<br />".join(lines) + "</p>")
        return "".join(paragraphs)

    def _render(self, post: SimPost, nested: bool = False) -> dict[str, Any]:
        pool, view = self.pool, self.view
        reply = post.reply_to
        status: dict[str, Any] = {
            "id": view.local_id(post),
            "created_at": _iso(post.created_at),
            "in_reply_to_id": view.local_id(reply) if reply and self.name in reply.servers else None,
            "in_reply_to_account_id": view.account_id(reply.author) if reply else None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": post.visibility,
            "language": None if post.is_boost else post.language,
            "uri": pool.uri(post),
            "url": pool.web_url(post),
            "replies_count": post.replies,
            "reblogs_count": len(post.boosted_by),
            "favourites_count": len(post.liked_by),
            "edited_at": _iso(post.edited_at) if post.edited_at else None,
            "content": "" if post.is_boost else self._html(post),
            "reblog": self._render(post.reblog_of, nested=True) if post.reblog_of and not nested else None,
            "application": None,
            "account": self._account(post.author),
            "media_attachments": [
                {
                    "id": f"{view.local_id(post)}{i}",
                    "type": "image",
                    "url": f"https://{pool.domains[post.author.home]}/media/{post.order}-{i}.jpg",
                    "preview_url": None,
                    "description": "Photo from the conference floor",
                }
                for i in range(post.media)
            ],
            "mentions": [self._mention(post.reply_to.author)] if post.reply_to else [],
            "tags": [
                {"name": tag, "url": f"https://{self.domain}/tags/{tag}"}
                for tag in dict.fromkeys(t.lower() for t in post.tags)
            ],
            "emojis": [],
            "card": None,
            "poll": None,
        }
        if post.quote_of is not None and not nested:
            status["quote"] = {"state": "accepted", "quoted_status": self._render(post.quote_of, nested=True)}
        return status

    def _mention(self, account: SimAccount) -> dict[str, Any]:
        rendered = self._account(account)
        return {key: rendered[key] for key in ("id", "username", "acct", "url")}

    # --- handlers ---------------------------------------------------------------------------

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer ") or not header[7:].strip():
            return False
        return self.token is None or header[7:].strip() == self.token

    async def _instance(self, request: Request) -> Response:
        access = "authenticated" if self.require_token else "public"
        return JSONResponse(
            {
                "domain": self.domain,
                "title": f"{self.name} (simulated)",
                "version": "4.3.2",
                "source_url": "https://github.com/mastodon/mastodon",
                "configuration": {
                    "statuses": {"max_characters": 500, "max_media_attachments": 4},
                    "timelines_access": {
                        "live_feeds": {"local": "public", "remote": "public"},
                        "hashtag_feeds": {"local": access, "remote": access},
                        "trending_link_feeds": {"local": "public", "remote": "public"},
                    },
                },
            }
        )

    async def _tag_timeline(self, request: Request) -> Response:
        if self.require_token and not self._authorised(request):
            return JSONResponse({"error": "This API requires an authenticated user"}, status_code=401)
        query = request.query_params
        try:
            limit = min(max(int(query.get("limit", "20")), 1), MAX_PAGE)
        except ValueError:
            limit = 20
        tags = [request.path_params["tag"].lower(), *(t.lower() for t in query.getlist("any[]"))]
        tags = list(dict.fromkeys(tags))
        local = query.get("local", "false").lower() in ("true", "1")
        with self.pool.lock:
            try:
                page = self.view.tag_page(
                    tags,
                    query.getlist("all[]"),
                    query.getlist("none[]"),
                    local=local,
                    max_id=query.get("max_id"),
                    min_id=query.get("min_id"),
                    since_id=query.get("since_id"),
                    limit=limit,
                )
            except ValueError:
                return JSONResponse({"error": "Invalid id"}, status_code=422)
            statuses = [self._render(post) for post in page]
            headers = {}
            if statuses:
                headers["Link"] = self._link(request, statuses[-1]["id"], statuses[0]["id"])
            statuses = self._apply_item_faults(request, statuses, tags, limit)
        return JSONResponse(statuses, headers=headers)

    def _link(self, request: Request, oldest: str, newest: str) -> str:
        # Like Mastodon: keep limit/local, drop any[]/all[]/none[] from the pagination links.
        kept = {k: v for k, v in request.query_params.items() if k in ("limit", "local")}
        base = str(request.url.replace(query=""))
        return (
            f'<{base}?{urlencode({**kept, "max_id": oldest})}>; rel="next", '
            f'<{base}?{urlencode({**kept, "min_id": newest})}>; rel="prev"'
        )

    def _apply_item_faults(
        self, request: Request, statuses: list[dict[str, Any]], tags: list[str], limit: int
    ) -> list[dict[str, Any]]:
        faults, rng = current_faults(request.scope)
        if faults.duplicate and statuses and rng.random() < faults.duplicate:
            repeats = self._previous_page(request, tags, limit)
            statuses = [*repeats[: rng.randint(1, 3)], *statuses]
        if faults.shuffle and rng.random() < faults.shuffle:
            statuses = list(statuses)
            rng.shuffle(statuses)
        return statuses

    def _previous_page(self, request: Request, tags: list[str], limit: int) -> list[dict[str, Any]]:
        """Statuses of the page a client fetched before this one (just beyond its cursor)."""
        view, query = self.view, request.query_params
        if query.get("max_id") is not None:
            start = view.bound(query["max_id"], lower=False) or 0
            candidates = view.posts[start : start + limit]
        elif query.get("min_id") is not None:
            stop = view.bound(query["min_id"], lower=True) or 0
            candidates = list(reversed(view.posts[max(0, stop - limit) : stop]))
        else:
            return []
        return [
            self._render(post)
            for post in candidates
            if view.feed_visible(post) and post.tag_set() & set(tags)
        ]

    def _visible(self, post: SimPost | None) -> bool:
        return post is not None and not post.deleted and post.visibility in ("public", "unlisted")

    async def _status(self, request: Request) -> Response:
        with self.pool.lock:
            post = self.view.find(request.path_params["id"])
            if post is None or not self._visible(post):
                return JSONResponse({"error": "Record not found"}, status_code=404)
            return JSONResponse(self._render(post))

    async def _statuses(self, request: Request) -> Response:
        with self.pool.lock:
            found = [self.view.find(i) for i in request.query_params.getlist("id[]")]
            return JSONResponse([self._render(p) for p in found if p and self._visible(p)])

    async def _accounts_of(self, request: Request, pick: Callable[[SimPost], list[SimAccount]]) -> Response:
        with self.pool.lock:
            post = self.view.find(request.path_params["id"])
            if post is None or not self._visible(post):
                return JSONResponse({"error": "Record not found"}, status_code=404)
            accounts = pick(post)
            try:
                limit = min(max(int(request.query_params.get("limit", "40")), 1), MAX_ACCOUNTS_PAGE)
                start = int(request.query_params.get("max_id", "0"))
            except ValueError:
                return JSONResponse({"error": "Invalid parameter"}, status_code=422)
            chunk = accounts[start : start + limit]
            headers = {}
            if start + limit < len(accounts):
                base = str(request.url.replace(query=""))
                headers["Link"] = (
                    f'<{base}?{urlencode({"limit": limit, "max_id": start + limit})}>; rel="next"'
                )
            return JSONResponse([self._account(a) for a in chunk], headers=headers)

    async def _favourited_by(self, request: Request) -> Response:
        return await self._accounts_of(request, lambda post: post.liked_by)

    async def _reblogged_by(self, request: Request) -> Response:
        return await self._accounts_of(request, lambda post: post.boosted_by)

    async def _lookup(self, request: Request) -> Response:
        acct = request.query_params.get("acct", "").lstrip("@")
        user, _, host = acct.partition("@")
        with self.pool.lock:
            for account in self.pool.people + self.pool.noise:
                home = self.pool.domains.get(account.home)
                if account.username == user and (host in ("", home)):
                    return JSONResponse(self._account(account))
        return JSONResponse({"error": "Record not found"}, status_code=404)

    async def _search(self, request: Request) -> Response:
        q = request.query_params.get("q", "").strip()
        with self.pool.lock:
            matches = [
                self._render(post)
                for post in self.view.posts
                if self._visible(post) and q in (self.pool.uri(post), self.pool.web_url(post))
            ]
        return JSONResponse({"accounts": [], "statuses": matches[:1], "hashtags": []})
