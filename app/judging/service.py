"""Judging (DESIGN §7): freeze, prize categories, shortlists, blind workspaces, scores, results.

The order of things: staff **freeze** an event (scores brought up to date, then a snapshot with its
content hash); categories get their **shortlists** from the frozen snapshot (at the freeze, or when a
category is created afterwards), staff add or remove entries; judges **score** entries on the rubric
or declare a **conflict**; staff **preview** and **publish** results. Everything a judge reads comes
from the snapshot, never from live posts, so later edits or deletions do not change what is judged.

Errors: NotFound (404, also for what the caller may not see), Conflict (409, wrong moment: not frozen,
frozen twice, already published, scores exist), Forbidden (403, recused judge), InvalidInput (422).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.audit import service as audit
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.types import utcnow
from app.events.models import Event
from app.judging import repository as repo
from app.judging.frozen import (
    CATEGORY_KINDS,
    FrozenView,
    PostExtras,
    ReporterExtras,
    blind_text,
    build_snapshot,
    compare,
    recompute,
)
from app.judging.models import (
    Freeze,
    JudgeConflict,
    JudgeScore,
    PrizeCategory,
    RubricCriterion,
    ShortlistEntry,
)
from app.reporters.models import Reporter
from app.scoring import service as scoring
from app.users.models import User
from scoring.judging import JudgeScore as PureJudgeScore
from scoring.judging import RubricCriterion as PureCriterion
from scoring.judging import aggregate_judging
from scoring.snapshot import snapshot_hash

MAX_ENTRY_POSTS = 20  # frozen posts shown per entry in a workspace


# --- freeze ---------------------------------------------------------------------------------------


def judging_deadline(event: Event) -> datetime:
    """When an event may be frozen without a reason: its judging deadline, else the window's end."""
    return event.judging_deadline or event.window_end_at


def freeze_event(
    *,
    session: Session,
    event: Event,
    actor_id: int | None = None,
    actor_role: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> Freeze:
    """Re-score the event, store its snapshot and hash once, and build the categories' shortlists."""
    assert event.id is not None
    now = now or utcnow()
    if repo.freeze_of(session, event.id) is not None:
        raise Conflict(f"event {event.slug} is already frozen; a freeze cannot be repeated")
    reason = (reason or "").strip() or None
    deadline = judging_deadline(event)
    early = now < deadline
    if early and reason is None:
        raise Conflict(
            f"the judging deadline of {event.slug} is {deadline.isoformat()}; "
            "freezing earlier needs a reason (staff decision, audited)"
        )
    scoring.rescore_event(session, event, now)
    snapshot = event_snapshot(session=session, event=event)
    freeze = Freeze(
        event_id=event.id,
        rules_version=event.rules_version,
        frozen_at=now,
        frozen_by=actor_id,
        content_hash=snapshot_hash(snapshot),
        snapshot=snapshot,
    )
    try:
        with session.begin_nested():
            session.add(freeze)
            session.flush()
    except IntegrityError:
        raise Conflict(f"event {event.slug} was frozen by someone else just now") from None
    audit.record(
        session=session,
        action="judging.freeze",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="event",
        target_id=event.id,
        detail={
            "event": event.slug,
            "content_hash": freeze.content_hash,
            "rules_version": freeze.rules_version,
            "early": early,
            "deadline": deadline.isoformat(),
            "reason": reason,
            "posts": len(snapshot["posts"]),
            "reporters": len(snapshot["leaderboard"]),
        },
    )
    categories, _ = repo.categories_of(session, event.id)
    for category in categories:
        generate_shortlist(
            session=session, category=category, freeze=freeze, actor_id=actor_id, actor_role=actor_role
        )
    return freeze


def event_snapshot(*, session: Session, event: Event) -> dict[str, Any]:
    """The snapshot document of the event's current facts (posts, reporters) and their scoring."""
    rules = scoring.rules_for(session, event.rules_version)
    rules_sha = repo.rules_sha256(session, event.rules_version) or ""
    reporter_ids = repo.involved_reporter_ids(session, event)
    reporters = scoring.reporter_facts(session, event, reporter_ids)
    posts_by_reporter = scoring.post_facts(session, event, reporter_ids)
    posts = [p for rid in reporters for p in posts_by_reporter.get(rid, [])]
    handles = repo.handles_by_reporter(session, reporter_ids)
    earlier = repo.earlier_registrations(session, event, reporter_ids)
    display = repo.post_display(session, [p.post_id for p in posts])
    return build_snapshot(
        rules=rules,
        rules_sha256=rules_sha,
        event=scoring.event_spec(event),
        reporters=list(reporters.values()),
        posts=posts,
        reporter_extras={
            rid: ReporterExtras(tuple(handles.get(rid, ())), earlier.get(rid, 0)) for rid in reporters
        },
        post_extras={pid: PostExtras(url, name) for pid, (url, name) in display.items()},
    )


def get_freeze(*, session: Session, event: Event) -> Freeze | None:
    assert event.id is not None
    return repo.freeze_of(session, event.id)


def require_freeze(*, session: Session, event: Event) -> Freeze:
    freeze = get_freeze(session=session, event=event)
    if freeze is None:
        raise Conflict(f"event {event.slug} is not frozen yet: staff freeze it first")
    return freeze


@dataclass(frozen=True, slots=True)
class FreezeVerification:
    """The outcome of recomputing a freeze from its snapshot alone."""

    content_hash: str  # as stored when frozen
    snapshot_hash: str  # of the snapshot as stored now
    recomputed_hash: str  # of the snapshot rebuilt from its facts by the pure scoring
    rules_version: str
    rules_unchanged: bool
    differences: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return (
            self.rules_unchanged
            and not self.differences
            and self.content_hash == self.snapshot_hash == self.recomputed_hash
        )


def verify_freeze(
    *, session: Session, freeze: Freeze, actor_id: int | None = None, actor_role: str | None = None
) -> FreezeVerification:
    """Recompute verdicts and leaderboard from the snapshot alone and compare them and the hash."""
    stored = freeze.snapshot
    rules_sha = repo.rules_sha256(session, freeze.rules_version)
    rules_unchanged = rules_sha is not None and rules_sha == stored.get("rules", {}).get("sha256")
    try:
        rules = scoring.rules_for(session, freeze.rules_version)
        rebuilt = recompute(stored, rules)
    except (KeyError, TypeError, ValueError) as exc:  # a snapshot edited into something unreadable
        outcome = FreezeVerification(
            content_hash=freeze.content_hash,
            snapshot_hash=snapshot_hash(stored),
            recomputed_hash="",
            rules_version=freeze.rules_version,
            rules_unchanged=rules_unchanged,
            differences=(f"the snapshot cannot be read back: {type(exc).__name__}: {exc}",),
        )
    else:
        comparison = compare(stored, rebuilt)
        outcome = FreezeVerification(
            content_hash=freeze.content_hash,
            snapshot_hash=comparison.stored_hash,
            recomputed_hash=comparison.recomputed_hash,
            rules_version=freeze.rules_version,
            rules_unchanged=rules_unchanged,
            differences=comparison.differences,
        )
    audit.record(
        session=session,
        action="judging.freeze.verify",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="freeze",
        target_id=freeze.id,
        detail={"ok": outcome.ok, "differences": list(outcome.differences[:5])},
    )
    return outcome


# --- categories -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CriterionSpec:
    name: str
    description: str = ""
    weight: int = 1


@dataclass(frozen=True, slots=True)
class CategorySpec:
    slug: str
    name: str
    description: str = ""
    kind: str = "overall"
    shortlist_size: int = 10
    auto_weight_percent: int = 30
    blind: bool = False
    criteria: tuple[CriterionSpec, ...] = ()


def _check_category(spec: CategorySpec) -> None:
    if spec.kind not in CATEGORY_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(CATEGORY_KINDS)}, got {spec.kind!r}")
    if not spec.criteria:
        raise InvalidInput("a category needs at least one rubric criterion")
    names = [c.name.strip().casefold() for c in spec.criteria]
    if len(set(names)) != len(names):
        raise InvalidInput("rubric criterion names must be different")


def _store_criteria(session: Session, category: PrizeCategory, criteria: Sequence[CriterionSpec]) -> None:
    assert category.id is not None
    for old in repo.criteria_of(session, category.id):
        session.delete(old)
    session.flush()
    for criterion in criteria:
        session.add(
            RubricCriterion(
                category_id=category.id,
                name=criterion.name,
                description=criterion.description,
                weight=criterion.weight,
            )
        )
    session.flush()


def create_category(
    *,
    session: Session,
    event: Event,
    spec: CategorySpec,
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> PrizeCategory:
    """Create a prize category with its rubric; after the freeze its shortlist is built at once."""
    assert event.id is not None
    _check_category(spec)
    if repo.category_by_slug(session, event.id, spec.slug) is not None:
        raise Conflict(f"event {event.slug} already has a category {spec.slug!r}")
    category = PrizeCategory(
        event_id=event.id,
        slug=spec.slug,
        name=spec.name,
        description=spec.description,
        kind=spec.kind,
        shortlist_size=spec.shortlist_size,
        auto_weight_percent=spec.auto_weight_percent,
        blind=spec.blind,
    )
    try:
        with session.begin_nested():
            session.add(category)
            session.flush()
    except IntegrityError:
        raise Conflict(f"event {event.slug} already has a category {spec.slug!r}") from None
    _store_criteria(session, category, spec.criteria)
    audit.record(
        session=session,
        action="judging.category.create",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="prize_category",
        target_id=category.id,
        detail={"event": event.slug, **_category_detail(category, spec.criteria)},
    )
    freeze = repo.freeze_of(session, event.id)
    if freeze is not None:
        generate_shortlist(
            session=session, category=category, freeze=freeze, actor_id=actor_id, actor_role=actor_role
        )
    return category


def _category_detail(category: PrizeCategory, criteria: Sequence[CriterionSpec] | None) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "slug": category.slug,
        "kind": category.kind,
        "shortlist_size": category.shortlist_size,
        "auto_weight_percent": category.auto_weight_percent,
        "blind": category.blind,
    }
    if criteria is not None:
        detail["criteria"] = [{"name": c.name, "weight": c.weight} for c in criteria]
    return detail


def _refuse_if_published(category: PrizeCategory) -> None:
    if category.published_at is not None:
        raise Conflict(f"the results of category {category.slug!r} are published; it can no longer change")


def update_category(
    *,
    session: Session,
    event: Event,
    category: PrizeCategory,
    changes: Mapping[str, Any],
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> PrizeCategory:
    """Change some fields; the kind only before the freeze, the rubric only before any judge scored."""
    assert category.id is not None
    assert event.id is not None
    _refuse_if_published(category)
    frozen = repo.freeze_of(session, event.id) is not None
    criteria_specs = changes.get("criteria")
    spec = CategorySpec(
        slug=changes.get("slug", category.slug),
        name=changes.get("name", category.name),
        description=changes.get("description", category.description),
        kind=changes.get("kind", category.kind),
        shortlist_size=changes.get("shortlist_size", category.shortlist_size),
        auto_weight_percent=changes.get("auto_weight_percent", category.auto_weight_percent),
        blind=changes.get("blind", category.blind),
        criteria=tuple(criteria_specs)
        if criteria_specs is not None
        else tuple(
            CriterionSpec(c.name, c.description, c.weight) for c in repo.criteria_of(session, category.id)
        ),
    )
    _check_category(spec)
    if spec.kind != category.kind and frozen:
        raise Conflict("the kind of a category cannot change after the freeze (its shortlist follows it)")
    if criteria_specs is not None and repo.category_has_scores(session, category.id):
        raise Conflict("judges have already scored this category; its rubric can no longer change")
    if spec.slug != category.slug and repo.category_by_slug(session, event.id, spec.slug) is not None:
        raise Conflict(f"event {event.slug} already has a category {spec.slug!r}")
    category.slug, category.name, category.description = spec.slug, spec.name, spec.description
    category.kind, category.shortlist_size = spec.kind, spec.shortlist_size
    category.auto_weight_percent, category.blind = spec.auto_weight_percent, spec.blind
    session.add(category)
    session.flush()
    if criteria_specs is not None:
        _store_criteria(session, category, spec.criteria)
    audit.record(
        session=session,
        action="judging.category.update",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="prize_category",
        target_id=category.id,
        detail={
            "event": event.slug,
            "changed": sorted(changes),
            **_category_detail(category, spec.criteria if criteria_specs is not None else None),
        },
    )
    return category


def delete_category(
    *,
    session: Session,
    event: Event,
    category: PrizeCategory,
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> None:
    """Delete a category, its rubric and shortlist; refused once judges scored it or it is published."""
    assert category.id is not None
    _refuse_if_published(category)
    if repo.category_has_scores(session, category.id):
        raise Conflict("judges have already scored this category; it can no longer be deleted")
    audit.record(
        session=session,
        action="judging.category.delete",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="prize_category",
        target_id=category.id,
        detail={"event": event.slug, "slug": category.slug},
    )
    for entry in repo.shortlist_of(session, category.id):
        session.delete(entry)
    for criterion in repo.criteria_of(session, category.id):
        session.delete(criterion)
    session.flush()
    session.delete(category)
    session.flush()


def require_category(*, session: Session, event: Event, slug: str) -> PrizeCategory:
    assert event.id is not None
    category = repo.category_by_slug(session, event.id, slug.lower())
    if category is None:
        raise NotFound("category", slug)
    return category


# --- shortlists -----------------------------------------------------------------------------------


def _blind_order(category_id: int, reporter_id: int) -> str:
    # Entries are stored in an order unrelated to rank, so entry ids do not hint at the leaderboard.
    return hashlib.sha256(f"{category_id}:{reporter_id}".encode()).hexdigest()


def generate_shortlist(
    *,
    session: Session,
    category: PrizeCategory,
    freeze: Freeze,
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> list[ShortlistEntry]:
    """Add the category's top N candidates of the frozen snapshot who are not on it yet."""
    assert category.id is not None
    _refuse_if_published(category)
    view = FrozenView(freeze.snapshot)
    top = view.candidates(category.kind)[: category.shortlist_size]
    present = {e.reporter_id for e in repo.shortlist_of(session, category.id)}
    added = []
    for candidate in sorted(top, key=lambda c: _blind_order(category.id or 0, c.reporter_id)):
        if candidate.reporter_id in present:
            continue
        entry = ShortlistEntry(
            category_id=category.id,
            reporter_id=candidate.reporter_id,
            post_id=candidate.post_id,
            auto_score=candidate.auto_score,
        )
        session.add(entry)
        added.append(entry)
    session.flush()
    audit.record(
        session=session,
        action="judging.shortlist.generate",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="prize_category",
        target_id=category.id,
        detail={
            "kind": category.kind,
            "size": category.shortlist_size,
            "added_reporters": sorted(e.reporter_id for e in added),
        },
    )
    return added


def add_to_shortlist(
    *,
    session: Session,
    event: Event,
    category: PrizeCategory,
    reporter_id: int,
    reason: str,
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> ShortlistEntry:
    """Staff addition: any reporter on the frozen leaderboard, with a reason (audited)."""
    assert category.id is not None
    _refuse_if_published(category)
    freeze = require_freeze(session=session, event=event)
    if not reason.strip():
        raise InvalidInput("a staff addition needs a reason")
    candidate = FrozenView(freeze.snapshot).candidate(reporter_id, category.kind)
    if candidate is None:
        raise InvalidInput(f"reporter {reporter_id} is not on the frozen leaderboard of {event.slug}")
    if repo.shortlisted(session, category.id, reporter_id) is not None:
        raise Conflict(f"reporter {reporter_id} is already on the shortlist of {category.slug!r}")
    entry = ShortlistEntry(
        category_id=category.id,
        reporter_id=reporter_id,
        post_id=candidate.post_id,
        auto_score=candidate.auto_score,
        added_by=actor_id,
    )
    try:
        with session.begin_nested():
            session.add(entry)
            session.flush()
    except IntegrityError:
        raise Conflict(f"reporter {reporter_id} is already on the shortlist of {category.slug!r}") from None
    audit.record(
        session=session,
        action="judging.shortlist.add",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="shortlist_entry",
        target_id=entry.id,
        detail={"category": category.slug, "reporter_id": reporter_id, "reason": reason.strip()},
    )
    return entry


def remove_from_shortlist(
    *,
    session: Session,
    category: PrizeCategory,
    entry: ShortlistEntry,
    reason: str | None = None,
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> None:
    """Staff removal (its judge scores and conflicts go with it; audited)."""
    _refuse_if_published(category)
    if entry.category_id != category.id:
        raise NotFound("shortlist entry", entry.id)
    audit.record(
        session=session,
        action="judging.shortlist.remove",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="shortlist_entry",
        target_id=entry.id,
        detail={
            "category": category.slug,
            "reporter_id": entry.reporter_id,
            "reason": (reason or "").strip() or None,
            "scores_dropped": len(repo.scores_in(session, [entry.id or 0])),
        },
    )
    for score in repo.scores_in(session, [entry.id or 0]):
        session.delete(score)
    session.flush()
    session.delete(entry)
    session.flush()


# --- what judges see ------------------------------------------------------------------------------


def entry_view(
    *,
    entry: ShortlistEntry,
    category: PrizeCategory,
    view: FrozenView,
    reporters: Mapping[int, Reporter],
    blind: bool,
) -> dict[str, Any]:
    """One entry as a judge reads it; blind: no identity (see docs/judging.md for what is hidden)."""
    frozen_reporter = view.reporters.get(entry.reporter_id, {})
    handles = list(frozen_reporter.get("handles", ())) + list(
        frozen_reporter.get("verified_account_keys", ())
    )
    pairs = view.counted_posts(entry.reporter_id, category.kind)
    if entry.post_id is not None:
        pairs.sort(key=lambda pv: int(pv[0]["post_id"]) != entry.post_id)  # featured post first (stable)
    posts = []
    for post, verdict in pairs[:MAX_ENTRY_POSTS]:
        item: dict[str, Any] = {
            "platform": post["platform"],
            "kind": post["kind"],
            "day": verdict["day"],
            "tags": list(post["tags"]),
            "media_count": post["media_count"],
        }
        if blind:
            names = [*handles, *([post["author_name"]] if post.get("author_name") else [])]
            item["text"] = blind_text(post["text"], names)
        else:
            item.update(
                text=post["text"],
                post_id=post["post_id"],
                url=post.get("url"),
                author_key=post["account_key"],
                author_name=post.get("author_name"),
                created_at=post["created_at"],
                likes=post["likes"],
                reposts=post["reposts"],
                replies=post["replies"],
                points=int(verdict["points"]) / 1000,
            )
        posts.append(item)
    data: dict[str, Any] = {
        "id": entry.id,
        "posts": posts,
        "posts_total": len(pairs),
    }
    if not blind:
        reporter = reporters.get(entry.reporter_id)
        leaderboard = view.leaderboard.get(entry.reporter_id, {})
        data.update(
            reporter={
                "id": entry.reporter_id,
                "name": reporter.name if reporter else frozen_reporter.get("name"),
            },
            handles=sorted(set(frozen_reporter.get("handles", ()))),
            auto_score=entry.auto_score / 1000,
            auto_score_thousandths=entry.auto_score,
            rank=leaderboard.get("rank"),
            added_by_staff=entry.added_by is not None,
        )
    return data


def _reporters(session: Session, reporter_ids: Sequence[int]) -> dict[int, Reporter]:
    found = {}
    for rid in set(reporter_ids):
        reporter = session.get(Reporter, rid)
        if reporter is not None:
            found[rid] = reporter
    return found


def shortlist_view(
    *, session: Session, event: Event, category: PrizeCategory, user: User, staff: bool
) -> list[dict[str, Any]]:
    """The shortlist as the caller may read it: staff in full, judges masked when the category is blind."""
    assert category.id is not None
    entries = repo.shortlist_of(session, category.id)
    freeze = get_freeze(session=session, event=event)
    if freeze is None:
        return []
    view = FrozenView(freeze.snapshot)
    blind = category.blind and not staff
    reporters = {} if blind else _reporters(session, [e.reporter_id for e in entries])
    if blind:
        entries.sort(key=lambda e: e.id or 0)
    else:
        entries.sort(key=lambda e: (-e.auto_score, view.leaderboard.get(e.reporter_id, {}).get("rank", 0)))
    return [
        entry_view(entry=e, category=category, view=view, reporters=reporters, blind=blind) for e in entries
    ]


def workspace(
    *,
    session: Session,
    judge: User,
    event: Event | None = None,
    include_unpublished: bool = False,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    """A judge's categories of frozen events with shortlisted entries, conflicts and own progress."""
    assert judge.id is not None
    events = [event] if event is not None else _frozen_events(session, include_unpublished)
    blocks: list[tuple[Event, PrizeCategory, Freeze]] = []
    for item in events:
        assert item.id is not None
        freeze = repo.freeze_of(session, item.id)
        if freeze is None:
            continue
        categories, _ = repo.categories_of(session, item.id)
        blocks.extend((item, c, freeze) for c in categories)
    total = len(blocks)
    page = blocks[offset : offset + limit]
    category_ids = [c.id for _, c, _ in page if c.id is not None]
    criteria = repo.criteria_by_category(session, category_ids)
    shortlists = repo.shortlists_of(session, category_ids)
    entry_ids = [e.id for entries in shortlists.values() for e in entries if e.id is not None]
    conflicts = {entry for judge_id, entry in repo.conflicts_in(session, entry_ids) if judge_id == judge.id}
    scored: dict[int, set[int]] = defaultdict(set)
    for score in repo.scores_in(session, entry_ids):
        if score.judge_id == judge.id:
            scored[score.entry_id].add(score.criterion_id)
    views: dict[int, FrozenView] = {}
    data = []
    for item, category, freeze in page:
        assert category.id is not None
        view = views.setdefault(freeze.id or 0, FrozenView(freeze.snapshot))
        entries = shortlists.get(category.id, [])
        reporters = {} if category.blind else _reporters(session, [e.reporter_id for e in entries])
        rubric = criteria.get(category.id, [])
        rubric_ids = {c.id for c in rubric}
        entry_blocks = []
        for entry in sorted(entries, key=lambda e: e.id or 0):
            block = entry_view(
                entry=entry, category=category, view=view, reporters=reporters, blind=category.blind
            )
            block["conflict"] = entry.id in conflicts
            block["scored"] = bool(rubric_ids) and rubric_ids <= scored.get(entry.id or 0, set())
            entry_blocks.append(block)
        data.append(
            {
                "event": item.slug,
                "category": category_json(category, rubric),
                "published": category.published_at is not None,
                "entries": entry_blocks,
            }
        )
    return data, total


def _frozen_events(session: Session, include_unpublished: bool) -> list[Event]:
    events = repo.frozen_events(session)
    return [e for e in events if include_unpublished or e.published]


def category_json(category: PrizeCategory, criteria: Sequence[RubricCriterion]) -> dict[str, Any]:
    return {
        "id": category.id,
        "slug": category.slug,
        "name": category.name,
        "description": category.description,
        "kind": category.kind,
        "shortlist_size": category.shortlist_size,
        "auto_weight_percent": category.auto_weight_percent,
        "blind": category.blind,
        "criteria": [
            {"id": c.id, "name": c.name, "description": c.description, "weight": c.weight} for c in criteria
        ],
        "published_at": category.published_at,
    }


# --- judges' own acts -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntryContext:
    entry: ShortlistEntry
    category: PrizeCategory
    event: Event


def entry_context(*, session: Session, entry_id: int) -> EntryContext:
    """The entry with its category and event (404 when any is missing)."""
    entry = repo.entry_by_id(session, entry_id)
    category = session.get(PrizeCategory, entry.category_id) if entry is not None else None
    event = session.get(Event, category.event_id) if category is not None else None
    if entry is None or category is None or event is None:
        raise NotFound("shortlist entry", entry_id)
    return EntryContext(entry, category, event)


def _judgeable(session: Session, context: EntryContext) -> PrizeCategory:
    """The category locked for this judging act, which must fall after the freeze and before publication."""
    assert context.event.id is not None
    assert context.category.id is not None
    require_freeze(session=session, event=context.event)
    category = repo.lock_category(session, context.category.id) or context.category
    _refuse_if_published(category)
    return category


def declare_conflict(
    *,
    session: Session,
    entry_id: int,
    judge: User,
    reason: str = "",
    actor_role: str | None = None,
) -> tuple[JudgeConflict, bool]:
    """Recuse the judge from the entry (their scores on it are dropped); return it and whether new."""
    assert judge.id is not None
    context = entry_context(session=session, entry_id=entry_id)
    _judgeable(session, context)
    existing = repo.conflict_of(session, judge.id, entry_id)
    if existing is not None:
        return existing, False
    conflict = JudgeConflict(judge_id=judge.id, entry_id=entry_id, reason=reason.strip())
    try:
        with session.begin_nested():
            session.add(conflict)
            session.flush()
    except IntegrityError:
        found = repo.conflict_of(session, judge.id, entry_id)
        if found is None:
            raise
        return found, False
    dropped = repo.delete_scores(session, entry_id=entry_id, judge_id=judge.id)
    audit.record(
        session=session,
        action="judging.conflict",
        actor_id=judge.id,
        actor_role=actor_role or str(judge.role),
        target_type="shortlist_entry",
        target_id=entry_id,
        detail={"category_id": context.category.id, "reason": conflict.reason, "scores_dropped": dropped},
    )
    return conflict, True


@dataclass(frozen=True, slots=True)
class ScoreInput:
    criterion_id: int
    score: int
    comment: str = ""


def score_entry(
    *,
    session: Session,
    entry_id: int,
    judge: User,
    scores: Sequence[ScoreInput],
    actor_role: str | None = None,
) -> list[JudgeScore]:
    """Upsert the judge's 1–5 scores per criterion on a shortlisted entry; return all their scores on it."""
    assert judge.id is not None
    context = entry_context(session=session, entry_id=entry_id)
    category = _judgeable(session, context)
    if repo.conflict_of(session, judge.id, entry_id) is not None:
        raise Forbidden("you declared a conflict with this entry and are recused from scoring it")
    criteria = {c.id: c for c in repo.criteria_of(session, category.id or 0)}
    if not scores:
        raise InvalidInput("give at least one criterion score")
    seen: set[int] = set()
    for item in scores:
        if item.criterion_id not in criteria:
            raise InvalidInput(f"criterion {item.criterion_id} is not in the rubric of {category.slug!r}")
        if item.criterion_id in seen:
            raise InvalidInput(f"criterion {item.criterion_id} is scored twice")
        if isinstance(item.score, bool) or not 1 <= item.score <= 5:
            raise InvalidInput(f"criterion {item.criterion_id}: a score is 1 to 5, got {item.score!r}")
        seen.add(item.criterion_id)
    existing = {s.criterion_id: s for s in repo.scores_of(session, entry_id=entry_id, judge_id=judge.id)}
    now = utcnow()
    for item in scores:
        row = existing.get(item.criterion_id)
        if row is None:
            row = JudgeScore(
                entry_id=entry_id,
                judge_id=judge.id,
                criterion_id=item.criterion_id,
                score=item.score,
                comment=item.comment,
            )
        else:
            row.score, row.comment = item.score, item.comment
        row.scored_at = now
        session.add(row)
    session.flush()
    audit.record(
        session=session,
        action="judging.score",
        actor_id=judge.id,
        actor_role=actor_role or str(judge.role),
        target_type="shortlist_entry",
        target_id=entry_id,
        detail={"category_id": category.id, "scores": {str(i.criterion_id): i.score for i in scores}},
    )
    return repo.scores_of(session, entry_id=entry_id, judge_id=judge.id)


def own_scores(*, session: Session, entry_id: int, judge: User) -> list[JudgeScore]:
    """The judge's own scores on an entry (never anyone else's)."""
    assert judge.id is not None
    entry_context(session=session, entry_id=entry_id)
    return repo.scores_of(session, entry_id=entry_id, judge_id=judge.id)


# --- results --------------------------------------------------------------------------------------


def compute_results(*, session: Session, event: Event, category: PrizeCategory) -> dict[str, Any]:
    """Combine normalised judge scores with the automatic score (staff form: with per-judge scores)."""
    assert category.id is not None
    freeze = require_freeze(session=session, event=event)
    rubric_rows = repo.criteria_of(session, category.id)
    entries = repo.shortlist_of(session, category.id)
    entry_by_id = {e.id: e for e in entries if e.id is not None}
    conflicts = repo.conflicts_in(session, list(entry_by_id))
    grouped: dict[tuple[int, int], dict[str, int]] = defaultdict(dict)
    for score in repo.scores_in(session, list(entry_by_id)):
        if (score.judge_id, score.entry_id) in conflicts:
            continue  # recused: left out of the entry and of that judge's normalisation
        grouped[(score.judge_id, score.entry_id)][str(score.criterion_id)] = score.score
    rubric_keys = {str(c.id) for c in rubric_rows}
    complete = []
    incomplete = []
    for (judge_id, entry_id), marks in sorted(grouped.items()):
        if set(marks) == rubric_keys:
            complete.append(PureJudgeScore(judge_id=judge_id, entry_id=entry_id, scores=marks))
        else:
            incomplete.append(
                {"judge_id": judge_id, "entry_id": entry_id, "missing": len(rubric_keys - set(marks))}
            )
    base: dict[str, Any] = {
        "event": event.slug,
        "category": category.slug,
        "kind": category.kind,
        "freeze_hash": freeze.content_hash,
        "automatic_weight_percent": category.auto_weight_percent,
        "computed_at": utcnow().isoformat(),
        "incomplete": incomplete,
        "conflicts": len(conflicts),
    }
    if not entries or not rubric_rows:
        return {**base, "entries": [], "ties": []}
    judged = aggregate_judging(
        rubric=[PureCriterion(key=str(c.id), weight=Decimal(c.weight), label=c.name) for c in rubric_rows],
        automatic_scores={e.id: e.auto_score for e in entries if e.id is not None},
        judge_scores=complete,
        automatic_weight=Decimal(category.auto_weight_percent) / 100,
    )
    reporters = _reporters(session, [e.reporter_id for e in entries])
    rows = []
    for result in judged:
        entry = entry_by_id[result.entry_id]
        reporter = reporters.get(entry.reporter_id)
        public_name = reporter.name if reporter is not None and reporter.public_listing else None
        rows.append(
            {
                "entry_id": result.entry_id,
                "position": result.position,
                "shared_rank": result.shared_rank,
                "tied": result.tied,
                "combined": str(result.combined),
                "judge_component": str(result.judge_component),
                "automatic_component": str(result.automatic_component),
                "automatic_score": result.automatic_score / 1000,
                "automatic_score_thousandths": result.automatic_score,
                "judge_count": result.judge_count,
                "reporter": {"id": entry.reporter_id, "name": public_name},
                "post_id": entry.post_id,
                "judge_scores": [{"judge_id": j, "score": str(s)} for j, s in result.judge_entry_scores],
            }
        )
    ties: dict[Decimal, list[int]] = defaultdict(list)
    for result in judged:
        if result.tied:
            ties[result.combined].append(result.entry_id)
    return {**base, "entries": rows, "ties": list(ties.values())}


def preview_results(
    *,
    session: Session,
    event: Event,
    category: PrizeCategory,
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> dict[str, Any]:
    """Staff preview (published results as stored; otherwise computed now, not stored). Audited."""
    results = category.results if category.published_at is not None else None
    if results is None:
        results = compute_results(session=session, event=event, category=category)
    audit.record(
        session=session,
        action="judging.results.preview",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="prize_category",
        target_id=category.id,
        detail={"published": category.published_at is not None},
    )
    return results


def publish_results(
    *,
    session: Session,
    event: Event,
    category: PrizeCategory,
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> PrizeCategory:
    """Compute, store and publish a category's results once (staff; audited)."""
    assert category.id is not None
    category = repo.lock_category(session, category.id) or category
    _refuse_if_published(category)
    results = compute_results(session=session, event=event, category=category)
    if not results["entries"]:
        raise Conflict(f"category {category.slug!r} has no shortlisted entries to publish")
    if not any(row["judge_count"] for row in results["entries"]):
        raise Conflict(f"no judge has scored category {category.slug!r} yet")
    if not repo.mark_published(session, category, by=actor_id, results=results):
        raise Conflict(f"the results of category {category.slug!r} were published by someone else just now")
    audit.record(
        session=session,
        action="judging.results.publish",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="prize_category",
        target_id=category.id,
        detail={
            "event": event.slug,
            "category": category.slug,
            "winners": [r["entry_id"] for r in results["entries"] if r["shared_rank"] == 1],
            "ties": results["ties"],
        },
    )
    return category


PUBLIC_RESULT_KEYS = (
    "entry_id",
    "position",
    "shared_rank",
    "tied",
    "combined",
    "judge_component",
    "automatic_component",
    "automatic_score",
    "automatic_score_thousandths",
    "judge_count",
    "reporter",
    "post_id",
)


def public_results(category: PrizeCategory) -> dict[str, Any]:
    """Published results without any judge's individual scores or the incomplete list."""
    results = category.results or {}
    return {
        "category": {"slug": category.slug, "name": category.name, "kind": category.kind},
        "published_at": category.published_at,
        "freeze_hash": results.get("freeze_hash"),
        "automatic_weight_percent": results.get("automatic_weight_percent"),
        "entries": [{k: row.get(k) for k in PUBLIC_RESULT_KEYS} for row in results.get("entries", [])],
        "ties": results.get("ties", []),
    }


def published_results(
    *, session: Session, event: Event, offset: int = 0, limit: int = 50
) -> tuple[list[dict[str, Any]], int]:
    assert event.id is not None
    categories, total = repo.published_categories(session, event.id, offset=offset, limit=limit)
    return [public_results(c) for c in categories], total


def results_published(*, session: Session, event: Event) -> bool:
    assert event.id is not None
    return repo.any_published(session, event.id)
