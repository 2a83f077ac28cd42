"""Security test harness: a realistic world seen by six callers, with secrets planted to catch leaks.

The API fixtures (``db``, ``login_as``, ``client_factory`` …) are tests/api/conftest.py's, re-exported.

``security_world`` builds, on the rolled-back test connection:
- ``wcc2025`` (published, fee/budget in CHF) with reporters *ana* (the ``reporter`` caller) and *bo*
  (the ``other`` caller), each with a verified Mastodon account, a pending account (its one-time code is
  a secret of its owner), counted posts (raw payloads carry a sentinel), a stored verdict, a proposed
  subsidy of a distinctive amount and an API token;
- ``hidden2025``, an unpublished event (its existence must not leak);
- a freeze of wcc2025, a prize category with its shortlist, and scores by a second judge whose
  comment must stay private before publication;
- a Mastodon source with ``token_env``;
- logged-in browser sessions (cookie + CSRF token) for reporter, other, judge, staff and admin, and
  an anonymous client holding the anonymous form cookie.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session, select

from app.core.security import sha256_hex
from app.events import service as events_service
from app.events.models import Event
from app.ingest import repository as ingest_repo
from app.ingest import service as ingest_service
from app.judging import service as judging
from app.judging.models import PrizeCategory, RubricCriterion, ShortlistEntry
from app.reporters import identity
from app.reporters import service as reporters_service
from app.reporters.models import Account, Reporter
from app.scoring import service as scoring_service
from app.subsidies.models import Subsidy
from app.users import auth
from app.users.models import Role, User
from collectors.base import CollectedPost, Platform, PostKind
from tests.api.conftest import (  # noqa: F401  (fixtures re-exported for tests/security)
    PASSWORD,
    Actor,
    api_app,
    api_client,
    api_connection,
    api_settings,
    assert_problem,
    client_factory,
    db,
    fast_password_hashing,
    login_as,
    make_user,
)

ROLES = ("anonymous", "reporter", "other", "judge", "staff", "admin")
NOW = datetime(2025, 11, 20, tzinfo=UTC)  # after wcc2025's coverage window
RAW_SENTINEL = "RAW-PAYLOAD-SENTINEL-7f3a"
JUDGE2_COMMENT = "JUDGE-TWO-PRIVATE-COMMENT-91c2"
TEXTS = [
    "Mangrove restoration panel with fishers from the Sundarbans was inspiring",
    "Youth delegates demand a seat at the table for biodiversity finance decisions",
    "Indigenous rangers explained how camera traps help monitor snow leopards",
    "The Red List update shows freshwater species need urgent attention now",
    "Peatlands store more carbon than all forests combined, protect them",
    "Ocean literacy side event had standing room only this morning in hall B",
]
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Caller:
    """One of the six callers: a client and the cookies it must present (restored before each call)."""

    role: str
    client: Any
    user: User | None
    cookies: dict[str, str]
    csrf_token: str | None

    def reset(self) -> None:
        self.client.cookies.clear()
        for name, value in self.cookies.items():
            self.client.cookies.set(name, value)


@dataclass
class SecurityWorld:
    event: Event
    hidden: Event
    callers: dict[str, Caller]
    reporter_ids: dict[str, int]  # "reporter" (ana) and "other" (bo)
    verified_accounts: dict[str, int]
    pending_accounts: dict[str, int]
    codes: dict[str, str]  # role -> that reporter's pending verification code
    emails: dict[str, str]  # role -> email
    post_ids: dict[str, int]  # role -> one of their public counted posts
    subsidy_ids: dict[str, int]
    subsidy_amounts: dict[str, str]
    token_ids: dict[str, int]
    raw_tokens: dict[str, str]
    source_id: int
    category: str
    entry_id: int
    criterion_ids: list[int]
    judge2: User
    secrets: dict[str, str] = field(default_factory=dict)

    def token_hashes(self) -> list[str]:
        return [sha256_hex(raw) for raw in self.raw_tokens.values()]


def collected(n: int, handle: str, *, day: int, kind: PostKind = PostKind.POST) -> CollectedPost:
    return CollectedPost(
        platform=Platform.MASTODON,
        global_key=f"https://social.example/users/{handle}/statuses/{n}",
        local_id=str(n),
        url=f"https://social.example/@{handle}/{n}",
        author_key=f"mastodon:{handle}@social.example",
        author_name=handle.title(),
        created_at=datetime(2025, 10, day, 8, tzinfo=UTC) + timedelta(minutes=n),
        text=f"{TEXTS[n % len(TEXTS)]} #iucncec",
        html=f"<p>{TEXTS[n % len(TEXTS)]} #iucncec</p>",
        tags=("iucncec",),
        kind=kind,
        likes=n,
        version=f"v{n}",
        raw={"id": str(n), "secret": RAW_SENTINEL},
    )


def _make_event(session: Session, slug: str) -> Event:
    spec = events_service.parse_event(
        {
            "slug": slug,
            "name": f"Congress {slug}",
            "start": "2025-10-09",
            "end": "2025-10-15",
            "timezone": "Asia/Dubai",
            "fee": "500",
            "currency": "CHF",
            "subsidy_cap": "300",
            "budget": "5000",
        }
    )
    return events_service.create_event(session=session, spec=spec)


def _reporter_of(session: Session, user: User) -> Reporter:
    reporter = session.exec(select(Reporter).where(Reporter.user_id == user.id)).one()
    return reporter


def _login(client: Any, email: str) -> tuple[dict[str, str], str]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token = str(response.json()["csrf_token"])
    client.headers["X-CSRF-Token"] = token
    return dict(client.cookies.items()), token


def build_security_world(
    session: Session, new_user: Callable[..., User], new_client: Callable[..., Any]
) -> SecurityWorld:
    event = _make_event(session, "wcc2025")
    hidden = _make_event(session, "hidden2025")
    hidden.published = False
    session.add(hidden)

    users = {
        "reporter": new_user(Role.REPORTER, email="ana.private@mail.example", name="Ana Alvarez"),
        "other": new_user(Role.REPORTER, email="bo.private@mail.example", name="Bo Berg"),
        "judge": new_user(Role.JUDGE, email="judge.private@jury.example"),
        "staff": new_user(Role.STAFF, email="staff.private@cec.example"),
        "admin": new_user(Role.ADMIN, email="admin.private@cec.example"),
    }
    judge2 = new_user(Role.JUDGE, email="judge2.private@jury.example")
    handles = {"reporter": "ana", "other": "bo"}
    reporter_ids: dict[str, int] = {}
    verified: dict[str, int] = {}
    pending: dict[str, int] = {}
    codes: dict[str, str] = {}
    post_ids: dict[str, int] = {}
    subsidy_ids: dict[str, int] = {}
    amounts = {"reporter": "211.11", "other": "233.33"}
    token_ids: dict[str, int] = {}
    raw_tokens: dict[str, str] = {}
    for n, (role, handle) in enumerate(handles.items()):
        reporter = _reporter_of(session, users[role])
        assert reporter.id is not None
        reporter_ids[role] = reporter.id
        account = identity.link_account(
            session=session,
            reporter=reporter,
            account_text=f"mastodon:{handle}@social.example",
            actor_id=None,
            actor_role=None,
        )
        reporters_service.verify_account(session=session, account=account, method="staff")
        assert account.id is not None
        verified[role] = account.id
        waiting = identity.link_account(
            session=session,
            reporter=reporter,
            account_text=f"x:{handle}_pending",
            actor_id=None,
            actor_role=None,
        )
        assert waiting.id is not None
        assert waiting.verification_code
        pending[role] = waiting.id
        codes[role] = waiting.verification_code
        events_service.register(
            session=session,
            reporter=reporter,
            event=event,
            at=datetime(2025, 9, 1, tzinfo=UTC),
            channel="staff",
        )
        posts = [collected(10 * n + i, handle, day=10 + i) for i in range(3)]
        posts.append(collected(10 * n + 5, handle, day=12, kind=PostKind.ARTICLE))
        ingest_repo.upsert_posts(session, source_id=None, posts=posts, now=NOW)
        subsidy = Subsidy(
            event_id=event.id,  # type: ignore[arg-type]  # stored events have ids
            reporter_id=reporter.id,
            amount=Decimal(amounts[role]),
            currency="CHF",
        )
        session.add(subsidy)
        raw, token = auth.create_token(session=session, user=users[role], name="laptop", expires_at=None)
        raw_tokens[role] = raw
        assert token.id is not None
        token_ids[role] = token.id
        session.flush()
        assert subsidy.id is not None
        subsidy_ids[role] = subsidy.id
    for role, user in (("judge", users["judge"]), ("staff", users["staff"]), ("admin", users["admin"])):
        raw, token = auth.create_token(session=session, user=user, name="laptop", expires_at=None)
        raw_tokens[role] = raw
    scoring_service.rescore_event(session, event, now=NOW)
    from app.ingest.models import Post

    for role, handle in handles.items():
        post = session.exec(
            select(Post).where(Post.author_key == f"mastodon:{handle}@social.example")
        ).first()
        assert post is not None
        assert post.id is not None
        post_ids[role] = post.id

    source = ingest_service.add_source(
        session=session,
        platform="mastodon",
        url="https://social.example",
        tags=["iucncec"],
        token_env="BIE_SOCIAL_TOKEN",
    )
    assert source.id is not None

    judging.freeze_event(session=session, event=event, now=NOW + timedelta(days=30))
    category = judging.create_category(
        session=session,
        event=event,
        spec=judging.CategorySpec(
            slug="overall",
            name="Best overall coverage",
            kind="overall",
            shortlist_size=10,
            auto_weight_percent=30,
            blind=False,
            criteria=(judging.CriterionSpec("Insight", "", 2), judging.CriterionSpec("Craft", "", 1)),
        ),
        actor_id=None,
        actor_role="staff",
    )
    assert isinstance(category, PrizeCategory)
    assert category.id is not None
    criteria = session.exec(select(RubricCriterion).where(RubricCriterion.category_id == category.id)).all()
    criterion_ids = [c.id for c in criteria if c.id is not None]
    entry = session.exec(select(ShortlistEntry).where(ShortlistEntry.category_id == category.id)).first()
    assert entry is not None
    assert entry.id is not None
    judging.score_entry(
        session=session,
        entry_id=entry.id,
        judge=judge2,
        scores=[judging.ScoreInput(cid, 4, JUDGE2_COMMENT) for cid in criterion_ids],
    )
    session.commit()

    callers: dict[str, Caller] = {}
    anonymous = new_client()
    page = anonymous.get("/login")
    match = _CSRF_FIELD.search(page.text)
    assert match is not None, "the log-in page carries a form token"
    callers["anonymous"] = Caller(
        "anonymous", anonymous, None, dict(anonymous.cookies.items()), match.group(1)
    )
    for role, user in users.items():
        client = new_client()
        cookies, csrf = _login(client, user.email)
        callers[role] = Caller(role, client, user, cookies, csrf)
    return SecurityWorld(
        event=event,
        hidden=hidden,
        callers=callers,
        reporter_ids=reporter_ids,
        verified_accounts=verified,
        pending_accounts=pending,
        codes=codes,
        emails={role: user.email for role, user in users.items()} | {"judge2": judge2.email},
        post_ids=post_ids,
        subsidy_ids=subsidy_ids,
        subsidy_amounts=amounts,
        token_ids=token_ids,
        raw_tokens=raw_tokens,
        source_id=source.id,
        category=category.slug,
        entry_id=entry.id,
        criterion_ids=criterion_ids,
        judge2=judge2,
    )


@pytest.fixture
def security_world(
    db: Session,  # noqa: F811  (the fixture re-exported above)
    make_user: Callable[..., User],  # noqa: F811  (the fixture re-exported above)
    client_factory: Callable[..., Any],  # noqa: F811  (the fixture re-exported above)
) -> Iterator[SecurityWorld]:
    world = build_security_world(db, make_user, client_factory)
    # Each caller's client keeps one event-loop thread for all its requests (a TestClient used outside
    # ``with`` starts a new one per request: ~3 ms each, and the matrix makes ~1,600 calls). The app has
    # no lifespan work, so entering the client changes nothing else.
    with ExitStack() as clients:
        for caller in world.callers.values():
            clients.enter_context(caller.client)
        yield world


__all__ = ["ROLES", "Account", "Caller", "SecurityWorld"]
