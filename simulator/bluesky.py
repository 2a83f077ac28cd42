"""A simulated Bluesky PDS + AppView speaking the XRPC subset the collector uses.

Mounted by ``Simulator.add("/bluesky", BlueskySim(...))``; the atproto SDK's base URL is then
``http://127.0.0.1:PORT/bluesky/xrpc``. Served methods:

- ``com.atproto.server.createSession`` / ``refreshSession`` / ``getSession`` — app-password
  sessions with real (unsigned) JWTs whose ``exp`` the SDK reads; the session's ``didDoc`` names
  this server as the PDS, so the SDK keeps talking to the simulator after login.
- ``com.atproto.identity.resolveHandle``, ``app.bsky.actor.getProfile``
- ``app.bsky.feed.searchPosts`` — ``q``, repeatable ``tag`` (AND), ``sort``, ``since``
  (inclusive) / ``until`` (exclusive) on ``sortAt`` = min(createdAt, indexedAt), offset
  ``cursor`` that stops at ``cursor_cap`` results (no cursor is returned at the cap, a cursor
  beyond it is refused with 400). Without a session it answers 403 as bsky does. With
  ``ignore_tag_param=True`` it ignores ``tag`` and matches ``q`` as plain text (substring of the
  text and tags), as some AppViews do, so decoys come back.
- ``app.bsky.feed.getPosts`` (≤ 25 uris, missing/deleted silently omitted), ``getLikes``,
  ``getRepostedBy``.

Facets use UTF-8 byte offsets, as the lexicon says. Item-level faults (duplicate, shuffle) are
applied to search pages here; everything else comes from ``FaultMiddleware``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator.core import ASGIApp, RateLimitStyle, current_faults
from simulator.world import EVENT_TAGS, PROGRAMME_TAGS, Person, SimClock, people, post_text

FOLLOWED = frozenset({"iucncec", "natureforall"})
EXTRA_TEXTS = [
    "🌿🐢 Nature wins today!",
    "自然保护很重要 🌏",
    "Природа для всех.",
    "Ñandú & colibrí — ¡qué día!",
    "مرحبا بالطبيعة",
    "🦜🦋🐝",
]
_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"


def _norm(tag: str) -> str:
    return unicodedata.normalize("NFKC", tag.lstrip("#")).casefold()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _tid(moment: datetime, clock_id: int) -> str:
    value = (int(moment.timestamp() * 1_000_000) << 10) | (clock_id & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(_TID_CHARS[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _parse_when(value: str) -> datetime:
    """Parse an XRPC datetime or plain date (``YYYY-MM-DD``); raise ValueError otherwise."""
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass
class Segment:
    """A piece of a post's text: plain, or a facet (tag / link / mention) with its target."""

    kind: str  # "text" | "tag" | "link" | "mention"
    display: str
    value: str = ""  # tag name, link uri, mention did


@dataclass
class SimPost:
    uri: str
    rkey: str
    author: Person
    segments: list[Segment]
    record_tags: list[str]
    created_at: datetime
    indexed_at: datetime
    created_raw: str  # createdAt exactly as the record carries it
    langs: list[str]
    images: int = 0
    video: bool = False
    reply_to: SimPost | None = None
    quote_of: SimPost | None = None
    likes: list[str] = field(default_factory=list)  # dids
    reposts: list[str] = field(default_factory=list)
    reply_count: int = 0
    quote_count: int = 0
    version: int = 0
    deleted: bool = False

    @property
    def sort_at(self) -> datetime:
        return min(self.created_at, self.indexed_at)

    @property
    def text(self) -> str:
        return "".join(s.display for s in self.segments)

    @property
    def cid(self) -> str:
        digest = hashlib.sha256(f"{self.uri}|{self.version}|{self.text}".encode()).digest()
        return "bafyrei" + base64.b32encode(digest).decode().lower().rstrip("=")[:52]

    def own_tags(self) -> set[str]:
        tags = {_norm(s.value) for s in self.segments if s.kind == "tag"}
        return tags | {_norm(t) for t in self.record_tags}

    def facets(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = []
        offset = 0
        for seg in self.segments:
            size = len(seg.display.encode("utf-8"))
            if seg.kind != "text":
                feature: dict[str, Any] = {"$type": f"app.bsky.richtext.facet#{seg.kind}"}
                feature[{"tag": "tag", "link": "uri", "mention": "did"}[seg.kind]] = seg.value
                result.append(
                    {
                        "$type": "app.bsky.richtext.facet",
                        "index": {"byteStart": offset, "byteEnd": offset + size},
                        "features": [feature],
                    }
                )
            offset += size
        return result


class BlueskySim:
    """A seeded Bluesky PDS + AppView; see the module docstring for what it serves."""

    style: RateLimitStyle = "bluesky"

    def __init__(
        self,
        seed: int = 0,
        posts: int = 200,
        clock: SimClock | None = None,
        ignore_tag_param: bool = False,
        app_password: str = "app-pass-1234",
        cursor_cap: int = 10_000,
        span_days: float = 20.0,
        access_ttl_s: float = 7200.0,
    ) -> None:
        self.seed = seed
        self.clock = clock or SimClock()
        self.ignore_tag_param = ignore_tag_param
        self.app_password = app_password
        self.cursor_cap = cursor_cap
        self.access_ttl_s = access_ttl_s
        self.people = people(seed)
        self.fans = [
            f"did:plc:fan{hashlib.sha256(f'{seed}-fan-{i}'.encode()).hexdigest()[:21]}" for i in range(40)
        ]
        self._by_handle = {p.bluesky_handle: p for p in self.people}
        self._by_did = {p.bluesky_did: p for p in self.people}
        self._lock = threading.RLock()
        self._rng = random.Random(f"bluesky-{seed}")
        self._posts: dict[str, SimPost] = {}
        self._ordered: list[SimPost] | None = None  # cache, newest sortAt first
        self._access: dict[str, tuple[str, float]] = {}  # token -> (did, exp epoch)
        self._refresh: dict[str, str] = {}
        self._serial = 0
        now = self.clock.now()
        start = now - timedelta(days=span_days)
        step = (now - start) / max(1, posts)
        for i in range(posts):
            moment = start + step * i + timedelta(milliseconds=self._rng.randrange(0, 900))
            self._seed_post(moment, i)

    # --- seeding ----------------------------------------------------------------------------

    def _seed_post(self, moment: datetime, index: int) -> SimPost:
        rng = self._rng
        author = rng.choice(self.people)
        roll = rng.random()
        record_tags: list[str] = []
        segments: list[Segment]
        if roll < 0.08:  # untagged chatter
            text, _ = post_text(rng, tagged=False)
            segments = [Segment("text", text)]
        elif roll < 0.14:  # decoys: the word appears, but not as the post's own tag
            segments = self._decoy(rng)
        else:
            event = rng.choice(EVENT_TAGS) if rng.random() < 0.5 else None
            text, tags = post_text(rng, event_tag=event, short=rng.random() < 0.15)
            body = text.split(" #")[0]
            segments = [Segment("text", body)]
            if rng.random() < 0.2:
                segments.append(Segment("text", " " + rng.choice(EXTRA_TEXTS)))
            if rng.random() < 0.2:
                url = f"https://news.example.org/story/{rng.randrange(10**6)}?ref=bsky"
                segments += [Segment("text", " "), Segment("link", url[8:30] + "…", url)]
            if rng.random() < 0.15:
                other = rng.choice(self.people)
                segments += [
                    Segment("text", " with "),
                    Segment("mention", "@" + other.bluesky_handle, other.bluesky_did),
                ]
            if rng.random() < 0.12:  # programme tag only in record.tags (no hashtag in text)
                record_tags = [tags[0]]
                tags = tags[1:]
            for tag in tags:
                segments += [Segment("text", " "), Segment("tag", "#" + tag, tag)]
        created = moment
        indexed = moment + timedelta(milliseconds=rng.randrange(50, 4000))
        created_raw = _iso(created)
        fmt = rng.random()
        if fmt < 0.05:  # some clients write microseconds and an explicit offset
            created_raw = created.isoformat(timespec="microseconds")
        elif fmt < 0.08:  # a skewed client clock: createdAt in the future, sortAt = indexedAt
            created = indexed + timedelta(hours=rng.randrange(1, 5))
            created_raw = _iso(created)
        post = self._make(author, segments, record_tags, created, indexed, created_raw, index)
        if rng.random() < 0.15:
            post.images = rng.randrange(1, 5)
        elif rng.random() < 0.04:
            post.video = True
        earlier = [p for p in list(self._posts.values())[-30:] if p is not post]
        if earlier and rng.random() < 0.1:
            post.reply_to = rng.choice(earlier)
            post.reply_to.reply_count += 1
        elif earlier and rng.random() < 0.06:
            post.quote_of = rng.choice(earlier)
            post.quote_of.quote_count += 1
        post.likes = rng.sample(self._likers(author), rng.randrange(0, 12))
        post.reposts = rng.sample(self._likers(author), rng.randrange(0, 4))
        return post

    def _decoy(self, rng: random.Random) -> list[Segment]:
        kind = rng.randrange(3)
        body = rng.choice(["Report out now", "Notes from the plenary", "Read the summary"])
        if kind == 0:  # the word inside a link
            url = f"https://iucncec.example.org/news/{rng.randrange(1000)}"
            return [Segment("text", body + " "), Segment("link", url[8:], url)]
        if kind == 1:  # a different, longer tag
            return [Segment("text", body + " "), Segment("tag", "#IUCNcec2025", "IUCNcec2025")]
        return [Segment("text", body + " #NatureForAll (typed, but no facet)")]

    def _likers(self, author: Person) -> list[str]:
        return [p.bluesky_did for p in self.people if p is not author][:20] + self.fans

    def _make(
        self,
        author: Person,
        segments: list[Segment],
        record_tags: list[str],
        created: datetime,
        indexed: datetime,
        created_raw: str,
        index: int,
    ) -> SimPost:
        self._serial += 1
        rkey = _tid(created, self._serial)
        uri = f"at://{author.bluesky_did}/app.bsky.feed.post/{rkey}"
        while uri in self._posts:
            self._serial += 1
            rkey = _tid(created, self._serial)
            uri = f"at://{author.bluesky_did}/app.bsky.feed.post/{rkey}"
        post = SimPost(
            uri=uri,
            rkey=rkey,
            author=author,
            segments=segments,
            record_tags=record_tags,
            created_at=created,
            indexed_at=indexed,
            created_raw=created_raw,
            langs=["en"],
        )
        self._posts[uri] = post
        self._ordered = None
        return post

    # --- mutators (tests and the demo) ------------------------------------------------------

    def add_post(
        self,
        *,
        author: int = 0,
        text: str = "A new post",
        tags: tuple[str, ...] = ("iucncec",),
        record_tags: tuple[str, ...] = (),
        created_at: datetime | None = None,
        indexed_at: datetime | None = None,
        images: int = 0,
        segments: list[Segment] | None = None,
    ) -> str:
        """Publish a post (hashtags appended as tag facets); return its uri."""
        with self._lock:
            created = created_at or self.clock.now()
            indexed = indexed_at or max(created, self.clock.now())
            segs = list(segments) if segments is not None else [Segment("text", text)]
            for tag in tags:
                segs += [Segment("text", " "), Segment("tag", "#" + tag, tag)]
            post = self._make(
                self.people[author % len(self.people)],
                segs,
                list(record_tags),
                created,
                indexed,
                _iso(created),
                len(self._posts),
            )
            post.images = images
            return post.uri

    def delete(self, uri: str) -> None:
        with self._lock:
            self._posts[uri].deleted = True
            self._ordered = None

    def edit(self, uri: str, text: str | None = None, remove_tag: str | None = None) -> str:
        """Edit a post in place (same uri, new cid); return the new cid."""
        with self._lock:
            post = self._posts[uri]
            if text is not None:
                post.segments = [Segment("text", text)] + [s for s in post.segments if s.kind == "tag"]
            if remove_tag is not None:
                gone = _norm(remove_tag)
                post.segments = [s for s in post.segments if not (s.kind == "tag" and _norm(s.value) == gone)]
                post.record_tags = [t for t in post.record_tags if _norm(t) != gone]
            post.version += 1
            return post.cid

    def post(self, uri: str) -> SimPost:
        with self._lock:
            return self._posts[uri]

    def live_posts(self) -> list[SimPost]:
        with self._lock:
            return [p for p in self._posts.values() if not p.deleted]

    def truth(self) -> set[str]:
        with self._lock:
            return {p.uri for p in self._posts.values() if not p.deleted and p.own_tags() & FOLLOWED}

    def tick(self, seconds: float) -> None:
        """Advance the clock: about one new post a minute, engagement grows, rare edits."""
        with self._lock:
            start = self.clock.now()
            self.clock.advance(seconds)
            count = int(seconds // 60) + (1 if self._rng.random() < (seconds % 60) / 60 else 0)
            for i in range(count):
                moment = start + timedelta(seconds=seconds * (i + 1) / (count + 1))
                self._seed_post(moment, len(self._posts))
            recent = [p for p in list(self._posts.values())[-200:] if not p.deleted]
            for _ in range(int(seconds // 30) + 1):
                if recent:
                    target = self._rng.choice(recent)
                    pool = [d for d in self._likers(target.author) if d not in target.likes]
                    if pool:
                        target.likes.append(self._rng.choice(pool))
                    if self._rng.random() < 0.3:
                        pool = [d for d in self._likers(target.author) if d not in target.reposts]
                        if pool:
                            target.reposts.append(self._rng.choice(pool))
            self._ordered = None

    # --- views ------------------------------------------------------------------------------

    def _profile(self, person: Person) -> dict[str, Any]:
        return {
            "did": person.bluesky_did,
            "handle": person.bluesky_handle,
            "displayName": person.name,
            "labels": [],
            "avatar": f"https://cdn.bsky.test/avatar/{person.bluesky_did}.jpg",
            "createdAt": "2023-05-01T10:00:00.000Z",
        }

    def _fan_profile(self, did: str) -> dict[str, Any]:
        person = self._by_did.get(did)
        if person:
            return self._profile(person)
        return {"did": did, "handle": f"{did[-8:]}.fans.test", "labels": []}

    def _images(self, post: SimPost) -> tuple[dict[str, Any], dict[str, Any]]:
        imgs = [
            {
                "alt": f"photo {i + 1}",
                "aspectRatio": {"width": 4, "height": 3},
                "image": {
                    "$type": "blob",
                    "ref": {"$link": f"bafkrei{post.rkey}{i}"},
                    "mimeType": "image/jpeg",
                    "size": 123456,
                },
            }
            for i in range(post.images)
        ]
        view = [
            {
                "thumb": f"https://cdn.bsky.test/img/{post.rkey}/{i}_thumb.jpg",
                "fullsize": f"https://cdn.bsky.test/img/{post.rkey}/{i}.jpg",
                "alt": f"photo {i + 1}",
                "aspectRatio": {"width": 4, "height": 3},
            }
            for i in range(post.images)
        ]
        return (
            {"$type": "app.bsky.embed.images", "images": imgs},
            {"$type": "app.bsky.embed.images#view", "images": view},
        )

    def _media(self, post: SimPost) -> tuple[dict[str, Any], dict[str, Any]] | None:
        if post.images:
            return self._images(post)
        if post.video:
            return (
                {
                    "$type": "app.bsky.embed.video",
                    "video": {
                        "$type": "blob",
                        "ref": {"$link": f"bafkreivid{post.rkey}"},
                        "mimeType": "video/mp4",
                        "size": 2_000_000,
                    },
                },
                {
                    "$type": "app.bsky.embed.video#view",
                    "cid": f"bafkreivid{post.rkey}",
                    "playlist": f"https://video.bsky.test/{post.rkey}/playlist.m3u8",
                },
            )
        return None

    def _embeds(self, post: SimPost) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        media = self._media(post)
        if post.quote_of is None:
            return media if media else (None, None)
        quoted = post.quote_of
        strong = {"uri": quoted.uri, "cid": quoted.cid}
        if quoted.deleted:
            record_view: dict[str, Any] = {
                "$type": "app.bsky.embed.record#viewNotFound",
                "uri": quoted.uri,
                "notFound": True,
            }
        else:
            record_view = {
                "$type": "app.bsky.embed.record#viewRecord",
                "uri": quoted.uri,
                "cid": quoted.cid,
                "author": self._profile(quoted.author),
                "value": self._record(quoted),
                "indexedAt": _iso(quoted.indexed_at),
            }
        if media is None:
            return (
                {"$type": "app.bsky.embed.record", "record": strong},
                {"$type": "app.bsky.embed.record#view", "record": record_view},
            )
        return (
            {
                "$type": "app.bsky.embed.recordWithMedia",
                "media": media[0],
                "record": {"$type": "app.bsky.embed.record", "record": strong},
            },
            {
                "$type": "app.bsky.embed.recordWithMedia#view",
                "media": media[1],
                "record": {"$type": "app.bsky.embed.record#view", "record": record_view},
            },
        )

    def _record(self, post: SimPost) -> dict[str, Any]:
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": post.text,
            "createdAt": post.created_raw,
            "langs": post.langs,
        }
        facets = post.facets()
        if facets:
            record["facets"] = facets
        if post.record_tags:
            record["tags"] = post.record_tags
        if post.reply_to is not None:
            parent = post.reply_to
            root = parent
            while root.reply_to is not None:
                root = root.reply_to
            record["reply"] = {
                "root": {"uri": root.uri, "cid": root.cid},
                "parent": {"uri": parent.uri, "cid": parent.cid},
            }
        if post.quote_of is not None or post.images or post.video:
            record["embed"] = self._embeds(post)[0]
        record["via"] = "SimClient"  # third-party clients add fields: keep them
        return record

    def post_view(self, post: SimPost) -> dict[str, Any]:
        view: dict[str, Any] = {
            "uri": post.uri,
            "cid": post.cid,
            "author": self._profile(post.author),
            "record": self._record(post),
            "replyCount": post.reply_count,
            "repostCount": len(post.reposts),
            "likeCount": len(post.likes),
            "quoteCount": post.quote_count,
            "bookmarkCount": 0,
            "indexedAt": _iso(post.indexed_at),
            "labels": [],
        }
        embed_view = self._embeds(post)[1]
        if embed_view is not None:
            view["embed"] = embed_view
        return view

    def _sorted(self) -> list[SimPost]:
        if self._ordered is None:
            live = [p for p in self._posts.values() if not p.deleted]
            self._ordered = sorted(live, key=lambda p: (p.sort_at, p.uri), reverse=True)
        return self._ordered

    # --- sessions ---------------------------------------------------------------------------

    def _issue(self, did: str) -> dict[str, Any]:
        now = time.time()  # the SDK compares exp with the wall clock, so use it here too
        exp = now + self.access_ttl_s
        header = _b64(json.dumps({"typ": "at+jwt", "alg": "ES256K"}).encode())

        def jwt(scope: str, expires: float) -> str:
            payload = {
                "scope": scope,
                "sub": did,
                "iat": int(now),
                "exp": int(expires),
                "aud": "did:web:sim.bsky.test",
                "jti": secrets.token_hex(8),
            }
            return f"{header}.{_b64(json.dumps(payload).encode())}.{_b64(secrets.token_bytes(16))}"

        access = jwt("com.atproto.appPass", exp)
        refresh = jwt("com.atproto.refresh", now + 90 * 86400)
        self._access[access] = (did, exp)
        self._refresh[refresh] = did
        person = self._by_did[did]
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "did": did,
            "handle": person.bluesky_handle,
            "active": True,
        }

    def _did_doc(self, request: Request, did: str) -> dict[str, Any]:
        host = request.headers.get("host", "127.0.0.1")
        endpoint = f"{request.url.scheme}://{host}{request.scope.get('root_path', '')}"
        return {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": did,
            "alsoKnownAs": [f"at://{self._by_did[did].bluesky_handle}"],
            "verificationMethod": [],
            "service": [
                {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": endpoint}
            ],
        }

    def _bearer(self, request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None

    def _viewer(self, request: Request) -> str | None | Response:
        """The did of the session, None when anonymous, or an error response for a bad token."""
        token = self._bearer(request)
        if token is None:
            return None
        entry = self._access.get(token)
        if entry is None:
            return _error(401, "InvalidToken", "Token could not be verified")
        if entry[1] < time.time():
            return _error(400, "ExpiredToken", "Token has expired")
        return entry[0]

    # --- XRPC -------------------------------------------------------------------------------

    def asgi(self) -> ASGIApp:
        async def xrpc(request: Request) -> Response:
            nsid = request.path_params["nsid"]
            handler = self._handlers().get(nsid)
            if handler is None:
                return _error(501, "MethodNotImplemented", f"Method not implemented: {nsid}")
            body: dict[str, Any] = {}
            if request.method == "POST":
                raw = await request.body()
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        return _error(400, "InvalidRequest", "Request body is not JSON")
            with self._lock:
                return handler(request, body)

        return Starlette(routes=[Route("/xrpc/{nsid}", xrpc, methods=["GET", "POST"])])

    def _handlers(self) -> dict[str, Callable[[Request, dict[str, Any]], Response]]:
        return {
            "com.atproto.server.createSession": self._create_session,
            "com.atproto.server.refreshSession": self._refresh_session,
            "com.atproto.server.getSession": self._get_session,
            "com.atproto.identity.resolveHandle": self._resolve_handle,
            "app.bsky.actor.getProfile": self._get_profile,
            "app.bsky.feed.searchPosts": self._search_posts,
            "app.bsky.feed.getPosts": self._get_posts,
            "app.bsky.feed.getLikes": self._get_likes,
            "app.bsky.feed.getRepostedBy": self._get_reposted_by,
        }

    def _create_session(self, request: Request, body: dict[str, Any]) -> Response:
        if request.method != "POST":
            return _error(400, "InvalidRequest", "createSession is a procedure")
        identifier = str(body.get("identifier", "")).lower()
        person = self._by_handle.get(identifier) or self._by_did.get(identifier)
        if person is None or body.get("password") != self.app_password:
            return _error(401, "AuthenticationRequired", "Invalid identifier or password")
        session = self._issue(person.bluesky_did)
        session["didDoc"] = self._did_doc(request, person.bluesky_did)
        return JSONResponse(session)

    def _refresh_session(self, request: Request, body: dict[str, Any]) -> Response:
        token = self._bearer(request)
        did = self._refresh.pop(token, None) if token else None
        if did is None:
            return _error(400, "ExpiredToken", "Token has been revoked")
        session = self._issue(did)
        session["didDoc"] = self._did_doc(request, did)
        return JSONResponse(session)

    def _get_session(self, request: Request, body: dict[str, Any]) -> Response:
        viewer = self._viewer(request)
        if isinstance(viewer, Response):
            return viewer
        if viewer is None:
            return _error(401, "AuthenticationRequired", "Authentication Required")
        person = self._by_did[viewer]
        return JSONResponse(
            {
                "did": viewer,
                "handle": person.bluesky_handle,
                "active": True,
                "didDoc": self._did_doc(request, viewer),
            }
        )

    def _resolve_handle(self, request: Request, body: dict[str, Any]) -> Response:
        handle = request.query_params.get("handle", "").lower()
        person = self._by_handle.get(handle)
        if person is None:
            return _error(400, "InvalidRequest", "Unable to resolve handle")
        return JSONResponse({"did": person.bluesky_did})

    def _get_profile(self, request: Request, body: dict[str, Any]) -> Response:
        actor = request.query_params.get("actor", "").lower()
        person = self._by_handle.get(actor) or self._by_did.get(actor)
        if person is None:
            return _error(400, "InvalidRequest", "Profile not found")
        profile = self._profile(person)
        profile.update(
            followersCount=10,
            followsCount=20,
            postsCount=sum(1 for p in self._posts.values() if p.author is person and not p.deleted),
        )
        return JSONResponse(profile)

    def _matches(self, post: SimPost, q: str, tags: list[str]) -> bool:
        words = q.split()
        if self.ignore_tag_param:
            haystack = (post.text + " " + " ".join(post.record_tags)).casefold()
            return all(w.lstrip("#").casefold() in haystack for w in words)
        own = post.own_tags()
        if any(_norm(t) not in own for t in tags):
            return False
        for word in words:
            if word.startswith("#"):
                if _norm(word) not in own:
                    return False
            elif word.casefold() not in post.text.casefold():
                return False
        return True

    def _search_posts(self, request: Request, body: dict[str, Any]) -> Response:
        viewer = self._viewer(request)
        if isinstance(viewer, Response):
            return viewer
        if viewer is None:
            return _error(403, "Forbidden", "Search is not available to anonymous users")
        params = request.query_params
        q = params.get("q")
        if not q:
            return _error(400, "InvalidRequest", 'Error: Params must have the property "q"')
        try:
            limit = int(params.get("limit", "25"))
            offset = int(params.get("cursor") or "0")
            since = _parse_when(params["since"]) if params.get("since") else None
            until = _parse_when(params["until"]) if params.get("until") else None
        except ValueError:
            return _error(400, "InvalidRequest", "Invalid parameter")
        if not 1 <= limit <= 100:
            return _error(400, "InvalidRequest", "limit must be between 1 and 100")
        if offset < 0 or offset >= self.cursor_cap:
            return _error(400, "InvalidRequest", "cursor is out of range")
        tags = params.getlist("tag")
        hits = [
            p
            for p in self._sorted()
            if (since is None or p.sort_at >= since)
            and (until is None or p.sort_at < until)
            and self._matches(p, q, tags)
        ]
        page = hits[offset : offset + limit]
        faults, rng = current_faults(request.scope)
        items = [self.post_view(p) for p in page]
        if offset and faults.duplicate and rng.random() < faults.duplicate:
            previous = hits[max(0, offset - 3) : offset]
            items = [self.post_view(p) for p in previous] + items
        if faults.shuffle and rng.random() < faults.shuffle:
            rng.shuffle(items)
        result: dict[str, Any] = {"posts": items, "hitsTotal": len(hits)}
        following = offset + limit
        if following < len(hits) and following < self.cursor_cap:
            result["cursor"] = str(following)
        return JSONResponse(result)

    def _get_posts(self, request: Request, body: dict[str, Any]) -> Response:
        viewer = self._viewer(request)
        if isinstance(viewer, Response):
            return viewer
        uris = request.query_params.getlist("uris")
        if len(uris) > 25:
            return _error(400, "InvalidRequest", "uris must not have more than 25 elements")
        found = [self._posts.get(u) for u in uris]
        return JSONResponse({"posts": [self.post_view(p) for p in found if p is not None and not p.deleted]})

    def _actors(self, request: Request, attr: str) -> tuple[list[str], str | None] | Response:
        viewer = self._viewer(request)
        if isinstance(viewer, Response):
            return viewer
        params = request.query_params
        try:
            limit = int(params.get("limit", "50"))
            offset = int(params.get("cursor") or "0")
        except ValueError:
            return _error(400, "InvalidRequest", "Invalid parameter")
        if not 1 <= limit <= 100 or offset < 0:
            return _error(400, "InvalidRequest", "Invalid parameter")
        post = self._posts.get(params.get("uri", ""))
        dids: list[str] = getattr(post, attr) if post and not post.deleted else []
        following = offset + limit
        return dids[offset:following], str(following) if following < len(dids) else None

    def _get_likes(self, request: Request, body: dict[str, Any]) -> Response:
        result = self._actors(request, "likes")
        if isinstance(result, Response):
            return result
        dids, cursor = result
        now = _iso(self.clock.now())
        out: dict[str, Any] = {
            "uri": request.query_params.get("uri"),
            "likes": [{"indexedAt": now, "createdAt": now, "actor": self._fan_profile(d)} for d in dids],
        }
        if cursor:
            out["cursor"] = cursor
        return JSONResponse(out)

    def _get_reposted_by(self, request: Request, body: dict[str, Any]) -> Response:
        result = self._actors(request, "reposts")
        if isinstance(result, Response):
            return result
        dids, cursor = result
        out: dict[str, Any] = {
            "uri": request.query_params.get("uri"),
            "repostedBy": [self._fan_profile(d) for d in dids],
        }
        if cursor:
            out["cursor"] = cursor
        return JSONResponse(out)


def _error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


__all__ = ["BlueskySim", "Segment", "SimPost", "FOLLOWED", "PROGRAMME_TAGS"]
