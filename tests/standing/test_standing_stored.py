"""The standing read from stored verdicts equals the standing scored live, and is used only when current."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete
from sqlmodel import Session

from app.core.db import table
from app.events import service as events_service
from app.ingest import repository as repo
from app.scoring import service as scoring
from app.scoring import standing
from app.scoring.models import PostVerdict
from collectors.base import CollectedPost, PostKind, Visibility
from tests.standing.standing_seed import LONG, NOW, Seeded, collected

WORDS = "mangrove reef ranger finance youth delegate species panel river forest wetland coral".split()


def _text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14)))


def _near_copy(text: str) -> str:
    """One more word on a long text: a Jaccard index of shingles at or above 0.9."""
    return f"{text} now"


def _posts(rng: random.Random, handle: str, count: int) -> list[CollectedPost]:
    """Posts of every kind the rules tell apart: several a day (the daily cap), exact and near copies
    (duplicates), too short, untagged, reposts, private, outside the window, liked or not."""
    made: list[CollectedPost] = []
    for n in range(count):
        roll = rng.random()
        if made and roll < 0.2:
            text = rng.choice(made).text.split(" #")[0]  # an exact copy of an earlier post
        elif made and roll < 0.3:
            text = _near_copy(rng.choice(made).text.split(" #")[0])
        elif roll < 0.38:
            text = "Short"
        else:
            text = f"{rng.choice(LONG)} {_text(rng)}"
        post = collected(
            f"{handle}-{n}",
            handle,
            day=rng.choice([5, 9, 10, 10, 10, 11, 11, 12, 15, 29]),
            hour=rng.randint(0, 23),
            text=text,
            tags=rng.choice([("iucncec",), ("NatureForAll",), ()]) if rng.random() < 0.1 else ("iucncec",),
            kind=PostKind.REPOST if rng.random() < 0.05 else PostKind.POST,
            visibility=Visibility.UNLISTED if rng.random() < 0.05 else Visibility.PUBLIC,
            likes=rng.choice([0, 0, 1, 3, 12, 40]),
        )
        made.append(replace(post, media_count=1 if rng.random() < 0.2 else 0))
    return made


def _both(db: Session, seeded: Seeded, reporter_id: int, **page: Any) -> tuple[Any, Any]:
    event = seeded.event
    stored = standing.standing_detail(session=db, event=event, reporter_id=reporter_id, **page)
    live = standing.standing_detail(session=db, event=event, reporter_id=reporter_id, live=True, **page)
    return stored.model_dump(), live.model_dump()


@pytest.mark.parametrize("seed", range(4))
def test_stored_standing_equals_the_live_one(db: Session, seeded: Seeded, seed: int) -> None:
    rng = random.Random(seed)
    posts = _posts(rng, "ana", 60) + _posts(rng, "bo", 25)
    repo.upsert_posts(db, source_id=None, posts=posts, now=NOW)
    if seed % 2:  # an unregistered reporter keeps verdicts (every one "not registered") but no entry
        events_service.withdraw(session=db, reporter=seeded.bo_reporter, event=seeded.event)
    scoring.rescore_all(db)
    db.commit()

    for reporter in (seeded.ana_reporter, seeded.bo_reporter):
        assert reporter.id is not None
        found = standing.reporter_standing(session=db, event=seeded.event, reporter_id=reporter.id)
        assert found.stored, "nothing is queued: the stored verdicts must be read"
        for page in ({}, {"limit": 200}, {"counted": True}, {"counted": False, "limit": 7, "offset": 3}):
            stored, live = _both(db, seeded, reporter.id, **page)
            assert stored == live
        summary = standing.standing_summary(session=db, event=seeded.event, reporter_id=reporter.id)
        assert summary.model_dump() == {k: v for k, v in live.items() if k in summary.model_dump()}

    ana_id = seeded.ana_reporter.id or 0
    lines = standing.standing_detail(session=db, event=seeded.event, reporter_id=ana_id, limit=200).posts.data
    # the seed makes the cases the stored path must re-derive
    assert any(line.duplicate_of is not None for line in lines)
    assert any((line.daily_rank or 0) > 5 for line in lines)


def test_a_queued_reporter_is_scored_live(db: Session, seeded: Seeded) -> None:
    ana_id = seeded.ana_reporter.id or 0
    scoring.rescore_all(db)  # empties the queue the seed's registrations filled
    db.flush()
    before = standing.standing_detail(session=db, event=seeded.event, reporter_id=ana_id)
    assert standing.reporter_standing(session=db, event=seeded.event, reporter_id=ana_id).stored

    # a new post queues ana in score_dirty (no re-score yet): her page shows it at once
    new = collected("a-new", "ana", day=13, text=LONG[3] + " on the last panel")
    repo.upsert_posts(db, source_id=None, posts=[new], now=NOW + timedelta(hours=1))
    db.flush()
    assert not standing.reporter_standing(session=db, event=seeded.event, reporter_id=ana_id).stored
    after = standing.standing_detail(session=db, event=seeded.event, reporter_id=ana_id)
    assert after.posts.count == before.posts.count + 1
    assert after.score_thousandths > before.score_thousandths

    scoring.rescore_pending(db)
    db.flush()
    assert standing.reporter_standing(session=db, event=seeded.event, reporter_id=ana_id).stored
    rescored = standing.standing_detail(session=db, event=seeded.event, reporter_id=ana_id)
    for part in ("score_thousandths", "breakdown", "posts", "eligibility"):
        assert getattr(rescored, part) == getattr(after, part)


def test_an_entry_that_disagrees_with_the_verdicts_is_not_trusted(db: Session, seeded: Seeded) -> None:
    """A read that straddles a re-score's commit sees the verdicts of one run and the entry of another."""
    ana_id = seeded.ana_reporter.id or 0
    scoring.rescore_all(db)
    db.flush()
    live = standing.standing_detail(session=db, event=seeded.event, reporter_id=ana_id, live=True)
    verdicts = table(PostVerdict)
    db.execute(
        delete(verdicts).where(
            verdicts.c.post_id == seeded.post_id("ana_day10"), verdicts.c.event_id == seeded.event.id
        )
    )
    db.flush()
    assert not standing.reporter_standing(session=db, event=seeded.event, reporter_id=ana_id).stored
    assert standing.standing_detail(session=db, event=seeded.event, reporter_id=ana_id) == live
