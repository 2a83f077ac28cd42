"""Freeze: one per event, reproducible from its snapshot, deaf to later changes, tamper-evident."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlmodel import Session

from app.audit.models import AuditEntry
from app.core.db import table
from app.core.errors import Conflict
from app.ingest.models import Post
from app.judging import service as judging
from app.judging.models import Freeze
from app.scoring import service as scoring
from app.scoring.models import PostVerdict
from scoring.snapshot import snapshot_hash
from tests.judging.conftest import NOW, World, collected

FREEZES = table(Freeze)
POSTS = table(Post)


def test_freeze_stores_rules_posts_verdicts_leaderboard_and_hash(
    session: Session, world: World, freeze_now: Callable[..., Any]
) -> None:
    frozen = freeze_now(session, world.event, actor_id=None, actor_role="staff")
    snap = frozen.snapshot
    assert frozen.rules_version == "2026.1" == snap["rules"]["version"]
    assert frozen.content_hash == snapshot_hash(snap)
    assert len(snap["posts"]) == 7
    post = next(p for p in snap["posts"] if p["global_key"].endswith("/ana/statuses/2"))
    for key in ("url", "account_key", "author_name", "reporter_id", "created_at", "kind", "text", "tags"):
        assert key in post
    assert post["media_count"] == 1
    assert {v["post_id"] for v in snap["verdicts"]} == {p["post_id"] for p in snap["posts"]}
    assert all(v["counted"] for v in snap["verdicts"])
    # every registered reporter is ranked, dee (no posts) last
    ranks = {e["reporter_id"]: e["rank"] for e in snap["leaderboard"]}
    assert set(ranks) == set(world.reporters.values())
    assert ranks[world.rid("dee")] == 4
    # the frozen verdicts are the live ones of the re-score done just before
    live = dict(
        session.execute(
            select(table(PostVerdict).c.post_id, table(PostVerdict).c.points).where(
                table(PostVerdict).c.event_id == world.event.id
            )
        ).all()
    )
    assert live == {v["post_id"]: v["points"] for v in snap["verdicts"]}


def test_verify_recomputes_the_same_verdicts_leaderboard_and_hash(
    session: Session, world: World, freeze_now: Callable[..., Any]
) -> None:
    frozen = freeze_now(session, world.event)
    outcome = judging.verify_freeze(session=session, freeze=frozen)
    assert outcome.ok, outcome
    assert outcome.content_hash == outcome.snapshot_hash == outcome.recomputed_hash
    assert outcome.rules_unchanged


def test_changing_a_stored_post_afterwards_does_not_change_the_freeze(
    session: Session, world: World, freeze_now: Callable[..., Any]
) -> None:
    frozen = freeze_now(session, world.event)
    before = copy.deepcopy(frozen.snapshot)
    ana_posts = [p["post_id"] for p in before["posts"] if p["reporter_id"] == world.rid("ana")]
    # the post loses its hashtag and another is deleted; live scores change, the freeze does not
    session.execute(update(POSTS).where(POSTS.c.id == ana_posts[0]).values(text="edited away", tags=[]))
    session.execute(update(POSTS).where(POSTS.c.id == ana_posts[1]).values(deleted_at=NOW))
    scoring.rescore_event(session, world.event)
    session.expire_all()
    stored = session.get(Freeze, frozen.id)
    assert stored is not None
    assert stored.snapshot == before
    assert judging.verify_freeze(session=session, freeze=stored).ok
    live_reasons = session.execute(
        select(table(scoring.PostVerdict).c.reasons).where(
            table(scoring.PostVerdict).c.post_id == ana_posts[1]
        )
    ).scalar_one()
    assert "deleted" in live_reasons
    frozen_verdict = next(v for v in stored.snapshot["verdicts"] if v["post_id"] == ana_posts[1])
    assert frozen_verdict["counted"] is True


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda s: s["posts"][0].__setitem__("likes", 500), id="post-facts"),
        pytest.param(lambda s: s["verdicts"][0].__setitem__("points", 99_999), id="verdict"),
        pytest.param(lambda s: s["leaderboard"].reverse(), id="leaderboard"),
        pytest.param(lambda s: s["posts"].pop(), id="post-removed"),
        pytest.param(lambda s: s.pop("verdicts"), id="unreadable"),
    ],
)
def test_verify_detects_a_tampered_snapshot(
    session: Session, world: World, freeze_now: Callable[..., Any], tamper: Callable[[dict[str, Any]], Any]
) -> None:
    frozen = freeze_now(session, world.event)
    tampered = copy.deepcopy(frozen.snapshot)
    tamper(tampered)
    session.execute(update(FREEZES).where(FREEZES.c.id == frozen.id).values(snapshot=tampered))
    session.expire_all()
    stored = session.get(Freeze, frozen.id)
    assert stored is not None
    outcome = judging.verify_freeze(session=session, freeze=stored)
    assert not outcome.ok
    assert outcome.snapshot_hash != outcome.content_hash


def test_refreezing_is_refused(session: Session, world: World, freeze_now: Callable[..., Any]) -> None:
    freeze_now(session, world.event)
    with pytest.raises(Conflict, match="already frozen"):
        freeze_now(session, world.event)


def test_freezing_before_the_deadline_needs_a_reason_and_is_audited(session: Session, world: World) -> None:
    early = world.event.window_end_at - timedelta(days=1)
    with pytest.raises(Conflict, match="needs a reason"):
        judging.freeze_event(session=session, event=world.event, now=early)
    frozen = judging.freeze_event(
        session=session, event=world.event, now=early, reason="Congress ceremony moved", actor_role="staff"
    )
    entry = session.exec(
        select(AuditEntry).where(AuditEntry.action == "judging.freeze")  # type: ignore[arg-type]
    ).one()[0]
    assert entry.detail["early"] is True
    assert entry.detail["reason"] == "Congress ceremony moved"
    assert entry.detail["content_hash"] == frozen.content_hash
    assert entry.actor_role == "staff"


def test_freeze_brings_scores_up_to_date_first(
    session: Session, world: World, freeze_now: Callable[..., Any]
) -> None:
    # a post arrives and nothing re-scores it before the freeze: the freeze still counts it
    from app.ingest import repository as ingest_repo

    ingest_repo.upsert_posts(session, source_id=None, posts=[collected(8, "dee", day=12)], now=NOW)
    frozen = freeze_now(session, world.event)
    dee = next(e for e in frozen.snapshot["leaderboard"] if e["reporter_id"] == world.rid("dee"))
    assert dee["posts_counted"] == 1
