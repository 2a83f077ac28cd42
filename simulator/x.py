"""A simulated X (Twitter) API v2: recent search, tweet lookup, liking users and retweeters.

Mount with ``Simulator.add("/x", XSim(...))`` so the API base is ``http://127.0.0.1:PORT/x``:

    GET /2/tweets/search/recent     query (#tag, plain words, OR, -is:retweet, is:reply, …),
                                    since_id, until_id, next_token, max_results 10–100,
                                    tweet.fields, expansions=author_id[,attachments.media_keys],
                                    user.fields; newest first; 7-day window
    GET /2/tweets?ids=              lookup of ≤ 100 ids; missing ones come back in ``errors``
    GET /2/tweets/{id}              single lookup
    GET /2/tweets/{id}/liking_users and /retweeted_by
                                    users, max_results ≤ 100, pagination_token

Every call needs ``Authorization: Bearer {bearer_token}`` (401 otherwise). Rate limits use the
``x`` style of ``FaultMiddleware`` (``x-rate-limit-*`` headers, 429 with an epoch reset). The
``duplicate`` knob makes a next-token page repeat items of the previous page; ``shuffle`` puts a
page's items out of order.

Ground truth: ids of the live tweets inside the 7-day search window that ``truth_query`` (by
default the collector's default query, ``#iucncec -is:retweet``) matches.
"""

from __future__ import annotations

import base64
import random
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator.core import ASGIApp, RateLimitStyle, current_faults
from simulator.world import EVENT_TAGS, Person, SimClock, people, post_text

TWITTER_EPOCH_MS = 1288834974657
SEARCH_WINDOW = timedelta(days=7)
DEFAULT_FIELDS = ("id", "text", "edit_history_tweet_ids")
ALL_TWEET_FIELDS = frozenset(
    {
        "created_at",
        "public_metrics",
        "entities",
        "referenced_tweets",
        "attachments",
        "author_id",
        "lang",
        "conversation_id",
        "possibly_sensitive",
        "source",
        "reply_settings",
    }
)


@dataclass
class Tweet:
    id: int
    author: Person
    created_at: datetime
    text: str
    hashtags: list[str]
    urls: list[dict[str, Any]]
    kind: str  # "post", "retweeted", "quoted", "replied_to"
    referenced: int | None
    media_keys: list[str]
    lang: str
    likers: list[str] = field(default_factory=list)  # user ids
    retweeters: list[str] = field(default_factory=list)
    replies: int = 0
    quotes: int = 0
    deleted: bool = False


def snowflake(moment: datetime, sequence: int) -> int:
    """A tweet id as X makes them: milliseconds since X's epoch, then a sequence."""
    ms = int(moment.timestamp() * 1000) - TWITTER_EPOCH_MS
    return (ms << 22) | (sequence & 0x3FFFFF)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _entities_for(text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    hashtags = [{"start": m.start(), "end": m.end(), "tag": m.group(1)} for m in re.finditer(r"#(\w+)", text)]
    mentions = [
        {"start": m.start(), "end": m.end(), "username": m.group(1)} for m in re.finditer(r"@(\w+)", text)
    ]
    return hashtags, mentions


class _Query:
    """A small subset of X's search query language."""

    def __init__(self, query: str) -> None:
        self.text = query
        tokens = re.findall(r'-?"[^"]*"|[()]|-?\S+', query.replace("(", " ( ").replace(")", " ) "))
        tokens = [t for t in tokens if t not in ("(", ")")]
        self.any_of = "OR" in tokens
        self.positive: list[str] = []
        self.negative: list[str] = []
        for token in tokens:
            if token == "OR":
                continue
            if token.startswith("-"):
                self.negative.append(token[1:].strip('"').casefold())
            else:
                self.positive.append(token.strip('"').casefold())

    @staticmethod
    def _term(term: str, tweet: Tweet) -> bool:
        if term.startswith("#"):
            return term[1:] in {h.casefold() for h in tweet.hashtags}
        if term.startswith("is:"):
            kind = {"retweet": "retweeted", "quote": "quoted", "reply": "replied_to"}
            return tweet.kind == kind.get(term[3:], "?")
        if term.startswith("from:"):
            return tweet.author.x_username.casefold() == term[5:].lstrip("@")
        if term.startswith("lang:"):
            return tweet.lang == term[5:]
        if term == "has:media":
            return bool(tweet.media_keys)
        if term == "has:links":
            return bool(tweet.urls)
        if term.startswith("has:hashtags"):
            return bool(tweet.hashtags)
        return term in tweet.text.casefold()

    def matches(self, tweet: Tweet) -> bool:
        if any(self._term(t, tweet) for t in self.negative):
            return False
        operators = [t for t in self.positive if not t.startswith("#") and ":" in t]
        terms = [t for t in self.positive if t not in operators]
        if not all(self._term(t, tweet) for t in operators):
            return False
        if not terms:
            return True
        found = (self._term(t, tweet) for t in terms)
        return any(found) if self.any_of else all(found)


def _problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {
            "title": title,
            "detail": detail,
            "status": status,
            "type": f"https://api.twitter.com/2/problems/{title.lower()}",
            **extra,
        },
        status_code=status,
    )


def _invalid(message: str) -> JSONResponse:
    return JSONResponse(
        {
            "errors": [{"message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
        status_code=400,
    )


def _encode_token(tweet_id: int) -> str:
    return base64.b32encode(f"before:{tweet_id}".encode()).decode().rstrip("=").lower()


def _decode_token(token: str) -> int | None:
    try:
        padded = token.upper() + "=" * (-len(token) % 8)
        text = base64.b32decode(padded).decode()
        return int(text.split(":", 1)[1]) if text.startswith("before:") else None
    except (ValueError, UnicodeDecodeError, IndexError):
        return None


class XSim:
    """Seeded tweets by the world's reporters, served through a subset of the X v2 API."""

    style: RateLimitStyle = "x"

    def __init__(
        self,
        seed: int = 0,
        posts: int = 200,
        clock: SimClock | None = None,
        bearer_token: str = "sim-x-token",
        *,
        truth_query: str = "#iucncec -is:retweet",
        tweet_interval_s: float = 30.0,
    ) -> None:
        self._lock = threading.RLock()
        self._rng = random.Random(f"x-{seed}")
        self._owns_clock = clock is None
        self.clock = clock or SimClock()
        self.bearer_token = bearer_token
        self.truth_query = truth_query
        self.tweet_interval_s = tweet_interval_s
        self.people = people(seed)
        self.users = {p.x_user_id: p for p in self.people}
        self.fans = [f"{90_000_000 + i}" for i in range(200)]  # engagement by non-reporters
        self.tweets: dict[int, Tweet] = {}
        self._sequence = 0
        self._pending_s = 0.0
        start = self.clock.now() - timedelta(days=5)
        span = timedelta(days=5) / max(1, posts)
        for n in range(posts):
            self._create(start + span * n)

    # --- world changes --------------------------------------------------------------------------

    def _next_id(self, moment: datetime) -> int:
        self._sequence += 1
        tweet_id = snowflake(moment, self._sequence)
        while tweet_id in self.tweets:
            self._sequence += 1
            tweet_id = snowflake(moment, self._sequence)
        return tweet_id

    def _create(
        self,
        moment: datetime,
        *,
        kind: str | None = None,
        tags: list[str] | None = None,
        author: Person | None = None,
    ) -> Tweet:
        rng = self._rng
        author = author or rng.choice(self.people)
        originals = [t for t in self.tweets.values() if t.kind == "post" and not t.deleted]
        if kind is None:
            roll = rng.random()
            kind = (
                "retweeted"
                if roll < 0.15
                else "quoted"
                if roll < 0.22
                else "replied_to"
                if roll < 0.30
                else "post"
            )
        if kind != "post" and not originals:
            kind = "post"
        referenced = rng.choice(originals) if kind != "post" else None
        urls: list[dict[str, Any]] = []
        media: list[str] = []
        if kind == "retweeted" and referenced is not None:
            prefix = f"RT @{referenced.author.x_username}: "
            full, cut = prefix + referenced.text, 140
            for link in referenced.urls:  # never cut a link in half
                if len(prefix) + link["start"] < cut < len(prefix) + link["end"]:
                    cut = len(prefix) + link["start"]
            text = full if len(full) <= cut else full[:cut].rstrip() + "…"
            hashtags = list(referenced.hashtags)
            for link in referenced.urls:  # the links that survived the truncation
                start = text.find(link["url"])
                if start >= 0:
                    urls.append({**link, "start": start, "end": start + len(link["url"])})
        else:
            if tags is None:
                body, hashtags = post_text(
                    rng,
                    event_tag=rng.choice(EVENT_TAGS) if rng.random() < 0.3 else None,
                    tagged=rng.random() < 0.8,
                    short=rng.random() < 0.1,
                )
            else:
                body, hashtags = post_text(rng, tagged=False)
                body += "".join(f" #{t}" for t in tags)
                hashtags = list(tags)
            if kind == "replied_to" and referenced is not None:
                body = f"@{referenced.author.x_username} {body}"
            text = body
            if rng.random() < 0.3:
                short = f"https://t.co/{rng.randrange(36**10):010x}"[:23]
                expanded = f"https://news.example.org/story/{rng.randrange(10**6)}"
                urls.append(
                    {
                        "start": len(text) + 1,
                        "end": len(text) + 1 + len(short),
                        "url": short,
                        "expanded_url": expanded,
                        "display_url": expanded.removeprefix("https://")[:25] + "…",
                    }
                )
                text = f"{text} {short}"
            if rng.random() < 0.35:
                media = [f"3_{rng.randrange(10**18)}" for _ in range(rng.choice([1, 1, 2, 4]))]
                pic = f"https://t.co/{rng.randrange(36**10):010x}"[:23]
                urls.append(
                    {
                        "start": len(text) + 1,
                        "end": len(text) + 1 + len(pic),
                        "url": pic,
                        "expanded_url": f"https://x.com/{author.x_username}/status/0/photo/1",
                        "display_url": "pic.x.com/abc",
                        "media_key": media[0],
                    }
                )
                text = f"{text} {pic}"
        # As X does, entities come from the text as posted (a truncated RT loses its tail).
        hashtags = [m.group(1) for m in re.finditer(r"#(\w+)", text)]
        tweet = Tweet(
            id=self._next_id(moment),
            author=author,
            created_at=moment,
            text=text,
            hashtags=hashtags,
            urls=urls,
            kind=kind,
            referenced=referenced.id if referenced else None,
            media_keys=media,
            lang=rng.choice(["en", "en", "en", "fr", "es"]),
        )
        likers = rng.sample(self.people, rng.randrange(0, 6)) if rng.random() < 0.6 else []
        tweet.likers = [p.x_user_id for p in likers if p.x_user_id != author.x_user_id]
        tweet.likers += rng.sample(self.fans, rng.randrange(0, 15))
        tweet.replies = rng.randrange(0, 4)
        self.tweets[tweet.id] = tweet
        if kind == "retweeted" and referenced is not None:
            if author.x_user_id not in referenced.retweeters:
                referenced.retweeters.append(author.x_user_id)
        elif kind == "quoted" and referenced is not None:
            referenced.quotes += 1
        elif kind == "replied_to" and referenced is not None:
            referenced.replies += 1
        return tweet

    def add_tweet(
        self, *, tags: list[str] | None = None, kind: str = "post", author: Person | None = None
    ) -> Tweet:
        """Post a tweet now (``tags`` default to ``["iucncec"]``)."""
        with self._lock:
            return self._create(self.clock.now(), kind=kind, tags=tags or ["iucncec"], author=author)

    def delete_tweet(self, tweet_id: int | str) -> None:
        with self._lock:
            self.tweets[int(tweet_id)].deleted = True

    def like(self, tweet_id: int | str, user_id: str) -> None:
        with self._lock:
            self.tweets[int(tweet_id)].likers.append(user_id)

    def tick(self, seconds: float) -> None:
        """Let time pass: a new tweet every ``tweet_interval_s``, likes grow, a few deletions."""
        with self._lock:
            if self._owns_clock:
                self.clock.advance(seconds)
            self._pending_s += seconds
            while self._pending_s >= self.tweet_interval_s:
                self._pending_s -= self.tweet_interval_s
                self._create(self.clock.now())
                live = [t for t in self.tweets.values() if not t.deleted]
                for tweet in self._rng.sample(live, min(3, len(live))):
                    tweet.likers.append(self._rng.choice(self.fans))
                if self._rng.random() < 0.03:
                    self._rng.choice(live).deleted = True

    # --- truth ----------------------------------------------------------------------------------

    def _searchable(self) -> list[Tweet]:
        floor = self.clock.now() - SEARCH_WINDOW
        return [t for t in self.tweets.values() if not t.deleted and t.created_at >= floor]

    def truth(self) -> set[str]:
        with self._lock:
            query = _Query(self.truth_query)
            return {str(t.id) for t in self._searchable() if query.matches(t)}

    # --- rendering ------------------------------------------------------------------------------

    def _user(self, user_id: str, fields: set[str]) -> dict[str, Any]:
        person = self.users.get(user_id)
        if person is None:
            user: dict[str, Any] = {
                "id": user_id,
                "name": f"Nature fan {user_id[-3:]}",
                "username": f"fan{user_id[-5:]}",
            }
        else:
            user = {"id": user_id, "name": person.name, "username": person.x_username}
        if "created_at" in fields:
            user["created_at"] = "2019-03-01T10:00:00.000Z"
        if "verified" in fields:
            user["verified"] = False
        return user

    def _tweet(self, tweet: Tweet, fields: set[str]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(tweet.id),
            "text": tweet.text,
            "edit_history_tweet_ids": [str(tweet.id)],
        }
        if "created_at" in fields:
            data["created_at"] = _iso(tweet.created_at)
        if "author_id" in fields:
            data["author_id"] = tweet.author.x_user_id
        if "lang" in fields:
            data["lang"] = tweet.lang
        if "conversation_id" in fields:
            data["conversation_id"] = str(tweet.referenced or tweet.id)
        if "public_metrics" in fields:
            data["public_metrics"] = {
                "retweet_count": len(tweet.retweeters),
                "reply_count": tweet.replies,
                "like_count": len(tweet.likers),
                "quote_count": tweet.quotes,
                "bookmark_count": 0,
                "impression_count": 40 + 7 * len(tweet.likers),
            }
        if "entities" in fields:
            hashtags, mentions = _entities_for(tweet.text)
            entities: dict[str, Any] = {}
            if hashtags:
                entities["hashtags"] = hashtags
            if mentions:
                entities["mentions"] = mentions
            if tweet.urls:
                entities["urls"] = [dict(u) for u in tweet.urls]
            if entities:
                data["entities"] = entities
        if "referenced_tweets" in fields and tweet.referenced is not None:
            data["referenced_tweets"] = [{"type": tweet.kind, "id": str(tweet.referenced)}]
        if "attachments" in fields and tweet.media_keys:
            data["attachments"] = {"media_keys": list(tweet.media_keys)}
        if "possibly_sensitive" in fields:
            data["possibly_sensitive"] = False
        return data

    def _render(self, tweets: list[Tweet], request: Request) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        params = request.query_params
        fields = {f for f in params.get("tweet.fields", "").split(",") if f}
        expansions = {e for e in params.get("expansions", "").split(",") if e}
        user_fields = {f for f in params.get("user.fields", "").split(",") if f}
        if "author_id" in expansions:
            fields.add("author_id")
        data = [self._tweet(t, fields) for t in tweets]
        includes: dict[str, Any] = {}
        if "author_id" in expansions and tweets:
            seen: dict[str, dict[str, Any]] = {}
            for t in tweets:
                seen.setdefault(t.author.x_user_id, self._user(t.author.x_user_id, user_fields))
            includes["users"] = list(seen.values())
        if "attachments.media_keys" in expansions:
            media = [{"media_key": k, "type": "photo"} for t in tweets for k in t.media_keys]
            if media:
                includes["media"] = media
        return data, includes

    # --- HTTP -----------------------------------------------------------------------------------

    def asgi(self) -> ASGIApp:
        routes = [
            Route("/2/tweets/search/recent", self._search),
            Route("/2/tweets", self._lookup),
            Route("/2/tweets/{id}/liking_users", self._liking_users),
            Route("/2/tweets/{id}/retweeted_by", self._retweeted_by),
            Route("/2/tweets/{id}", self._single),
        ]
        app: ASGIApp = Starlette(routes=routes)
        return app

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization", "") == f"Bearer {self.bearer_token}"

    @staticmethod
    def _unauthorised() -> Response:
        return JSONResponse(
            {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"},
            status_code=401,
        )

    async def _search(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._unauthorised()
        params = request.query_params
        query_text = params.get("query", "").strip()
        if not query_text:
            return _invalid("The `query` query parameter can not be empty")
        if len(query_text) > 512:
            return _invalid("The `query` query parameter is too long")
        try:
            max_results = int(params.get("max_results", "10"))
            since_id = int(params["since_id"]) if "since_id" in params else None
            until_id = int(params["until_id"]) if "until_id" in params else None
        except ValueError:
            return _invalid("A numeric parameter is not a number")
        if not 10 <= max_results <= 100:
            return _invalid(
                f"The `max_results` query parameter value [{max_results}] is not between 10 and 100"
            )
        before: int | None = until_id
        token = params.get("next_token") or params.get("pagination_token")
        if token:
            before = _decode_token(token)
            if before is None:
                return _invalid("The `next_token` query parameter value is invalid")
        faults, rng = current_faults(request.scope)
        with self._lock:
            query = _Query(query_text)
            found = [
                t
                for t in self._searchable()
                if query.matches(t)
                and (since_id is None or t.id > since_id)
                and (before is None or t.id < before)
                and (until_id is None or t.id < until_id)
            ]
            found.sort(key=lambda t: t.id, reverse=True)
            page = found[:max_results]
            more = len(found) > max_results
            served = list(page)
            if token and faults.duplicate and rng.random() < faults.duplicate and before:
                previous = sorted(
                    (t for t in self._searchable() if query.matches(t) and t.id >= before), key=lambda t: t.id
                )[:3]
                served = previous + served
            if faults.shuffle and rng.random() < faults.shuffle:
                rng.shuffle(served)
            data, includes = self._render(served, request)
        meta: dict[str, Any] = {"result_count": len(data)}
        if page:
            meta["newest_id"] = str(page[0].id)
            meta["oldest_id"] = str(page[-1].id)
        if more and page:
            meta["next_token"] = _encode_token(page[-1].id)
        body: dict[str, Any] = {"meta": meta}
        if data:
            body["data"] = data
        if includes:
            body["includes"] = includes
        return JSONResponse(body)

    async def _lookup(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._unauthorised()
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        if not ids:
            return _invalid("The `ids` query parameter can not be empty")
        if len(ids) > 100:
            return _invalid("The `ids` query parameter has more than 100 items")
        with self._lock:
            found: list[Tweet] = []
            errors: list[dict[str, Any]] = []
            for raw_id in ids:
                tweet = self.tweets.get(int(raw_id)) if raw_id.isdigit() else None
                if tweet is None or tweet.deleted:
                    errors.append(
                        {
                            "value": raw_id,
                            "detail": f"Could not find tweet with ids: [{raw_id}].",
                            "title": "Not Found Error",
                            "resource_type": "tweet",
                            "parameter": "ids",
                            "resource_id": raw_id,
                            "type": "https://api.twitter.com/2/problems/resource-not-found",
                        }
                    )
                else:
                    found.append(tweet)
            data, includes = self._render(found, request)
        body: dict[str, Any] = {}
        if data:
            body["data"] = data
        if includes:
            body["includes"] = includes
        if errors:
            body["errors"] = errors
        return JSONResponse(body)

    async def _single(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._unauthorised()
        raw_id = request.path_params["id"]
        with self._lock:
            tweet = self.tweets.get(int(raw_id)) if raw_id.isdigit() else None
            if tweet is None or tweet.deleted:
                return JSONResponse(
                    {
                        "errors": [
                            {
                                "value": raw_id,
                                "title": "Not Found Error",
                                "detail": f"Could not find tweet with id: [{raw_id}].",
                                "resource_type": "tweet",
                                "type": "https://api.twitter.com/2/problems/resource-not-found",
                            }
                        ]
                    }
                )
            data, includes = self._render([tweet], request)
        body: dict[str, Any] = {"data": data[0]}
        if includes:
            body["includes"] = includes
        return JSONResponse(body)

    async def _users_of(self, request: Request, attribute: str) -> Response:
        if not self._authorised(request):
            return self._unauthorised()
        raw_id = request.path_params["id"]
        params = request.query_params
        try:
            max_results = int(params.get("max_results", "100"))
        except ValueError:
            return _invalid("max_results is not a number")
        if not 1 <= max_results <= 100:
            return _invalid("The `max_results` query parameter value is not between 1 and 100")
        offset = 0
        token = params.get("pagination_token")
        if token:
            decoded = _decode_token(token)
            if decoded is None:
                return _invalid("The `pagination_token` query parameter value is invalid")
            offset = decoded
        with self._lock:
            tweet = self.tweets.get(int(raw_id)) if raw_id.isdigit() else None
            if tweet is None or tweet.deleted:
                return JSONResponse({"meta": {"result_count": 0}})
            user_ids: list[str] = list(getattr(tweet, attribute))
        user_fields = {f for f in params.get("user.fields", "").split(",") if f}
        chunk = user_ids[offset : offset + max_results]
        meta: dict[str, Any] = {"result_count": len(chunk)}
        if offset + max_results < len(user_ids):
            meta["next_token"] = _encode_token(offset + max_results)
        body: dict[str, Any] = {"meta": meta}
        if chunk:
            body["data"] = [self._user(u, user_fields) for u in chunk]
        return JSONResponse(body)

    async def _liking_users(self, request: Request) -> Response:
        return await self._users_of(request, "likers")

    async def _retweeted_by(self, request: Request) -> Response:
        return await self._users_of(request, "retweeters")
