"""A seeded generator of a realistic programme at scale: events, reporters with verified accounts,
registrations, posts on all four platforms and named engagement.

``python -m bench.generate --scale small --database sqlite:///tmp/x.db`` fills an empty, migrated
database. Rows go in with the driver's fastest bulk path (``executemany`` on SQLite, ``COPY`` on
PostgreSQL); events go through the events service so their coverage windows are the app's own.

The shape (per reporter, per post) follows what the programme sees: activity per reporter is
log-normal (a few prolific reporters, a long tail), the flagship event (a Congress, every reporter
registered) draws the most posts, 12 % of posts are cross-posts of the reporter's earlier text and
5 % near-copies, 8 % are too short, 5 % are reposts, a few are deleted, excluded, not public, outside
the window or untagged, and 5 % come from accounts that belong to no reporter.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text
from sqlmodel import Session

from app.events.models import Event
from app.events.schemas import EventCreate
from app.events.service import create_event


@dataclass(frozen=True)
class Scale:
    name: str
    posts: int
    reporters: int
    events: int


SCALES = {
    "tiny": Scale("tiny", posts=3_000, reporters=60, events=3),
    "small": Scale("small", posts=100_000, reporters=1_000, events=20),
    "full": Scale("full", posts=1_000_000, reporters=10_000, events=20),
}

FLAGSHIP_SLUG = "wcc-flagship"
STANDING_POSTS = 500  # the reporter whose standing the API benchmark reads has this many posts
ZONES = ("Asia/Dubai", "Europe/Zurich", "America/Bogota", "Africa/Nairobi", "Asia/Tokyo", "UTC")
MASTODON_SERVERS = tuple(f"social{n}.example" for n in range(30))
PLATFORM_SHARE = {"mastodon": 0.45, "bluesky": 0.30, "x": 0.20, "blog": 0.05}
PROGRAMME_TAGS = ("iucncec", "NatureForAll", "IUCNcec", "natureforall")
_SYLLABLES = (
    "ra", "mo", "ki", "ta", "lo", "ve", "sa", "ni", "po", "du", "me", "an", "ol", "ir", "us", "el",
    "ca", "re", "fo", "gu", "na", "ti", "be", "wa",
)  # fmt: skip
_WORDS_BASE = (
    "nature", "restoration", "wetlands", "forest", "ocean", "species", "youth", "panel", "congress",
    "biodiversity", "indigenous", "knowledge", "coral", "mangroves", "finance", "policy", "climate",
    "education", "community", "rangers", "protected", "areas", "grassland", "pollinators", "rivers",
)  # fmt: skip


@dataclass
class Generated:
    """What the benchmarks need to find in the generated data."""

    scale: str
    events: list[str]
    flagship: str
    reporters: int
    posts: int
    standing_reporter_id: int
    accounts: dict[int, list[tuple[int, str, str]]] = field(default_factory=dict, repr=False)

    def summary(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "events": len(self.events),
            "flagship": self.flagship,
            "reporters": self.reporters,
            "posts": self.posts,
            "standing_reporter_id": self.standing_reporter_id,
        }


def _vocabulary(rng: random.Random, size: int = 1500) -> list[str]:
    words = list(_WORDS_BASE)
    while len(words) < size:
        words.append("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return words


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return int(value)
    return value


def _postgres_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return value


def bulk_insert(engine: Engine, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert rows with the driver's fastest path; return how many (one transaction)."""
    count = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            names = ", ".join(columns)
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([_postgres_value(v) for v in row])
                    count += 1
            if "id" in columns:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
        else:
            cursor.execute("BEGIN")
            statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            chunk: list[list[Any]] = []
            for row in rows:
                chunk.append([_sqlite_value(v) for v in row])
                if len(chunk) >= 20_000:
                    cursor.executemany(statement, chunk)
                    count += len(chunk)
                    chunk = []
            if chunk:
                cursor.executemany(statement, chunk)
                count += len(chunk)
        raw.commit()
    finally:
        raw.close()
    return count


def _events(session: Session, scale: Scale) -> list[Event]:
    """``scale.events`` events every 18 days; the last one is the flagship (7 days, every reporter)."""
    events = []
    first = date(2025, 2, 3)
    for n in range(scale.events):
        flagship = n == scale.events - 1
        start = first + timedelta(days=18 * n)
        length = 7 if flagship else 2 + n % 5
        tag = f"EV{n:02d}" if n % 7 == 3 else None
        spec = EventCreate(
            slug=FLAGSHIP_SLUG if flagship else f"event-{n:02d}",
            name="World Conservation Congress (bench)" if flagship else f"Bench event {n}",
            start=start,
            end=start + timedelta(days=length - 1),
            timezone=ZONES[n % len(ZONES)],
            tag=tag,
            require_tag=tag is not None,
            fee=None if n % 3 else 500,
            currency=None if n % 3 else "CHF",
            subsidy_cap=None if n % 3 else 300,
        )
        events.append(create_event(session=session, spec=spec))
    return events


def generate(engine: Engine, scale: Scale, *, seed: int = 0) -> Generated:
    """Fill an empty, migrated database with ``scale``'s programme (deterministic for a seed)."""
    rng = random.Random(f"bench-{seed}")
    vocabulary = _vocabulary(rng)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    with Session(engine) as session:
        events = _events(session, scale)
        session.commit()
        event_rows = [(e.id, e.slug, e.start_date, e.end_date, e.timezone, e.event_tag) for e in events]
    flagship_index = len(event_rows) - 1

    # --- reporters and accounts ----------------------------------------------------------------
    reporters = []
    accounts: list[tuple[Any, ...]] = []
    accounts_of: dict[int, list[tuple[int, str, str]]] = {}  # reporter -> (account id, platform, key)
    account_id = 0
    for rid in range(1, scale.reporters + 1):
        name = f"Reporter {rid}"
        reporters.append((rid, name, f"reporter{rid}@bench.example", rng.random() < 0.9, "", now))
        own = []
        wanted = ["mastodon"] + [
            p for p, share in (("bluesky", 0.7), ("x", 0.5), ("blog", 0.2)) if rng.random() < share
        ]
        for platform in wanted:
            account_id += 1
            handle = f"r{rid}"
            did = None
            if platform == "mastodon":
                key = f"mastodon:{handle}@{MASTODON_SERVERS[rid % len(MASTODON_SERVERS)]}"
                post_key = key
            elif platform == "bluesky":
                did = f"did:plc:bench{rid:08d}"
                key, post_key = f"bluesky:{handle}.bsky.test", f"bluesky:{did}"
            elif platform == "x":
                key = post_key = f"x:{handle}"
            else:
                key = post_key = f"blog:https://blog{rid}.example.org/feed/"
            verified = rid == 1 or rng.random() < 0.93
            accounts.append(
                (
                    account_id,
                    rid,
                    platform,
                    key,
                    handle,
                    did,
                    "verified" if verified else "pending",
                    now if verified else None,
                    "staff" if verified else None,
                    now,
                )
            )
            own.append((account_id, platform, post_key))
        accounts_of[rid] = own
    bulk_insert(
        engine, "reporters", ("id", "name", "email", "public_listing", "bio", "created_at"), reporters
    )
    bulk_insert(
        engine,
        "accounts",
        (
            "id",
            "reporter_id",
            "platform",
            "account_key",
            "handle",
            "did",
            "state",
            "verified_at",
            "verified_method",
            "created_at",
        ),
        accounts,
    )

    # --- registrations: every reporter for the flagship, plus 1-3 other events -------------------
    registered_events: dict[int, list[int]] = {}
    registrations = []
    for rid in range(1, scale.reporters + 1):
        others = rng.sample(range(flagship_index), k=min(flagship_index, rng.randint(1, 3)))
        chosen = sorted({flagship_index, *others})
        registered_events[rid] = chosen
        for index in chosen:
            start = event_rows[index][2]
            at = datetime(start.year, start.month, start.day, tzinfo=UTC) - timedelta(
                days=rng.randint(-2, 40)
            )
            registrations.append((event_rows[index][0], rid, at, "self"))
    bulk_insert(
        engine, "registrations", ("event_id", "reporter_id", "registered_at", "channel"), registrations
    )

    # --- posts ---------------------------------------------------------------------------------
    windows = []
    for _id, _slug, start, end, zone_name, _tag in event_rows:
        zone = ZoneInfo(zone_name)
        day0 = datetime(start.year, start.month, start.day, tzinfo=zone).astimezone(UTC)
        windows.append((day0, (end - start).days + 1))
    weights = [rng.lognormvariate(0.0, 1.0) for _ in range(scale.reporters)]
    weights[0] = 0.0  # reporter 1 gets exactly STANDING_POSTS posts, below
    standing_posts = min(STANDING_POSTS, scale.posts // 4)
    authors = [1] * standing_posts + rng.choices(
        range(1, scale.reporters + 1), weights=weights, k=scale.posts - standing_posts
    )
    last_text: dict[int, str] = {}
    engagement_rows: list[tuple[int, str, str, datetime]] = []
    any_keys = [acc[2] for own in accounts_of.values() for acc in own]

    def post_rows() -> Iterable[tuple[Any, ...]]:
        counter = 0
        for post_id, rid in enumerate(authors, start=1):
            counter += 1
            noise = rid != 1 and rng.random() < 0.05
            if noise:
                platform = rng.choices(list(PLATFORM_SHARE), weights=list(PLATFORM_SHARE.values()))[0]
                account: tuple[int, str, str] | None = None
                author_key = f"{platform}:noise{rng.randrange(500)}"
                reporter_id = None
                event_index = rng.randrange(len(event_rows))
            else:
                own = accounts_of[rid]
                account = rng.choices(own, weights=[PLATFORM_SHARE[a[1]] for a in own])[0]
                platform, author_key, reporter_id = account[1], account[2], rid
                event_index = (
                    flagship_index if rid == 1 or rng.random() < 0.4 else rng.choice(registered_events[rid])
                )
            day0, days = windows[event_index]
            where = rng.random()
            if where < 0.65:
                offset = timedelta(seconds=rng.uniform(0, days * 86400))
            elif where < 0.97:
                offset = timedelta(seconds=rng.uniform(-2 * 86400, (days + 14) * 86400))
            else:
                offset = timedelta(seconds=rng.uniform((days + 15) * 86400, (days + 17) * 86400))
            created = day0 + offset
            kind = "article" if platform == "blog" else "post"
            roll = rng.random()
            repost_of = None
            if kind == "post" and roll < 0.05:
                kind, repost_of = "repost", f"{platform}:original/{rng.randrange(scale.posts)}"
            elif kind == "post" and roll < 0.15:
                kind = "reply"
            elif kind == "post" and roll < 0.18:
                kind = "quote"
            if kind == "repost":
                body = ""
            elif reporter_id is not None and rid in last_text and rng.random() < 0.17:
                body = last_text[rid]  # a cross-post of an earlier text (exact, or a near-copy)
                if rng.random() < 0.3:
                    body = body + " " + rng.choice(vocabulary)
            elif rng.random() < 0.08:
                body = " ".join(rng.choices(vocabulary, k=rng.randint(1, 4)))
            else:
                body = " ".join(rng.choices(vocabulary, k=rng.randint(10, 40 if kind != "article" else 120)))
            if reporter_id is not None and body:
                last_text[rid] = body
            tags = []
            if rng.random() < 0.93:
                tags.append(rng.choice(PROGRAMME_TAGS))
            event_tag = event_rows[event_index][5]
            if event_tag and rng.random() < 0.8:
                tags.append(event_tag)
            link = f" https://news.example.org/story/{rng.randrange(10**6)}" if rng.random() < 0.2 else ""
            full_text = body + link + "".join(f" #{t}" for t in tags) if kind != "repost" else ""
            likes = int(rng.expovariate(1 / 8))
            reposts = int(rng.expovariate(1 / 3))
            replies = int(rng.expovariate(1 / 2))
            key = f"{platform}:{post_id}"
            if platform == "mastodon":
                global_key = f"https://{author_key.split('@')[-1]}/users/u/statuses/{post_id}"
            elif platform == "bluesky":
                global_key = f"at://{author_key.removeprefix('bluesky:')}/app.bsky.feed.post/{post_id:x}"
            elif platform == "x":
                global_key = str(10**15 + post_id)
            else:
                global_key = f"https://blog{rid}.example.org/?p={post_id}"
            raw = {
                "id": str(post_id),
                "uri": global_key,
                "created_at": created.isoformat(),
                "content": full_text,
                "account": {"acct": author_key, "display_name": f"Reporter {rid}"},
                "favourites_count": likes,
                "reblogs_count": reposts,
                "replies_count": replies,
            }
            if rng.random() < 0.1 and reporter_id is not None:
                for _ in range(rng.randint(1, 3)):
                    engaged = (
                        rng.choice(any_keys) if rng.random() < 0.5 else f"mastodon:fan{rng.randrange(999)}@x"
                    )
                    engagement_rows.append((post_id, engaged, "like", now))
            excluded = rng.random() < 0.002
            yield (
                post_id,
                platform,
                global_key,
                str(post_id),
                f"https://{platform}.example/{key}",
                author_key,
                f"Reporter {rid}",
                account[0] if account else None,
                reporter_id,
                created,
                created + timedelta(days=1) if rng.random() < 0.01 else None,
                now,
                now,
                full_text,
                f"<p>{full_text}</p>" if full_text else None,
                tags,
                rng.choice((1, 2, 4)) if rng.random() < 0.3 else 0,
                kind,
                "public" if rng.random() < 0.95 else rng.choice(("unlisted", "private", "direct")),
                likes,
                reposts,
                replies,
                "en",
                None,
                repost_of,
                raw,
                excluded,
                "off topic" if excluded else None,
                3,
                0,
            )

    count = bulk_insert(
        engine,
        "posts",
        (
            "id",
            "platform",
            "global_key",
            "local_id",
            "url",
            "author_key",
            "author_name",
            "account_id",
            "reporter_id",
            "created_at",
            "deleted_at",
            "first_seen_at",
            "last_seen_at",
            "text",
            "html",
            "tags",
            "media_count",
            "kind",
            "visibility",
            "likes",
            "reposts",
            "replies",
            "language",
            "version",
            "repost_of",
            "raw",
            "excluded",
            "excluded_reason",
            "recheck_stage",
            "missing_count",
        ),
        post_rows(),
    )
    bulk_insert(
        engine,
        "post_engagements",
        ("post_id", "account_key", "kind", "seen_at"),
        list({(r[0], r[1], r[2]): r for r in engagement_rows}.values()),
    )
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
    return Generated(
        scale=scale.name,
        events=[row[1] for row in event_rows],
        flagship=FLAGSHIP_SLUG,
        reporters=scale.reporters,
        posts=count,
        standing_reporter_id=1,
        accounts=accounts_of,
    )


def new_posts(engine: Engine, *, reporters: int, count: int, seed: int) -> list[tuple[int, datetime, int]]:
    """Insert ``count`` fresh, counting posts in the flagship's event days; return (reporter, instant,
    post id) of each, as ingest hands them to ``mark_new_posts``.

    Authors are drawn like the generator's (log-normal activity), so a burst of live coverage
    touches as many distinct reporters as it would in the field.
    """
    rng = random.Random(f"bench-new-{seed}")
    vocabulary = _vocabulary(random.Random("bench-0"))
    weights = [rng.lognormvariate(0.0, 1.0) for _ in range(reporters)]
    authors = rng.choices(range(1, reporters + 1), weights=weights, k=count)
    with Session(engine) as session:
        event = session.execute(
            text("SELECT first_instant_at, start_date, end_date FROM events WHERE slug = :s"),
            {"s": FLAGSHIP_SLUG},
        ).one()
        first_id = int(session.execute(text("SELECT coalesce(max(id), 0) FROM posts")).scalar_one()) + 1
        owned: dict[int, list[tuple[int, str, str]]] = {}
        for row in session.execute(
            text("SELECT id, reporter_id, platform, account_key, did FROM accounts WHERE state = 'verified'")
        ):
            key = f"bluesky:{row.did}" if row.did else row.account_key
            owned.setdefault(row.reporter_id, []).append((row.id, row.platform, key))
    day0 = event.first_instant_at
    if isinstance(day0, str):  # SQLite hands back text from a textual query
        day0 = datetime.fromisoformat(day0)
    day0 = day0 if day0.tzinfo else day0.replace(tzinfo=UTC)
    start, end = (
        d if isinstance(d, date) else date.fromisoformat(d) for d in (event.start_date, event.end_date)
    )
    days = (end - start).days + 1
    now = datetime.now(UTC)
    rows: list[tuple[Any, ...]] = []
    touched: list[tuple[int, datetime, int]] = []
    for n, rid in enumerate(authors):
        if rid not in owned:
            continue
        post_id = first_id + n
        account_id, platform, author_key = rng.choice(owned[rid])
        body = " ".join(rng.choices(vocabulary, k=rng.randint(10, 40)))
        created = day0 + timedelta(seconds=rng.uniform(0, days * 86400))
        touched.append((rid, created, post_id))
        rows.append(
            (
                post_id,
                platform,
                f"bench-new:{seed}:{post_id}",
                str(post_id),
                author_key,
                account_id,
                rid,
                created,
                now,
                now,
                body + " #iucncec",
                ["iucncec"],
                0,
                "article" if platform == "blog" else "post",
                "public",
                int(rng.expovariate(1 / 8)),
                0,
                0,
                {},
                False,
                0,
                0,
            )
        )
    bulk_insert(
        engine,
        "posts",
        (
            "id",
            "platform",
            "global_key",
            "local_id",
            "author_key",
            "account_id",
            "reporter_id",
            "created_at",
            "first_seen_at",
            "last_seen_at",
            "text",
            "tags",
            "media_count",
            "kind",
            "visibility",
            "likes",
            "reposts",
            "replies",
            "raw",
            "excluded",
            "recheck_stage",
            "missing_count",
        ),
        rows,
    )
    return touched


def main(argv: list[str] | None = None) -> int:
    import app.models  # noqa: F401  (registers every table)
    from app.core.db import make_engine
    from bench.common import emit

    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--database", required=True, help="an empty, migrated database URL")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    engine = make_engine(args.database)
    generated = generate(engine, SCALES[args.scale], seed=args.seed)
    engine.dispose()
    emit(generated.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
