"""Judging routes (DESIGN §7): freeze, categories, shortlists, judge workspace and scores, results."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status
from sqlmodel import Session

from app.core.api import IdPath, ListResponse, Page
from app.core.deps import (
    CurrentJudge,
    CurrentStaff,
    OptionalUser,
    SessionDep,
    actor,
    is_staff,
    require_roles,
)
from app.core.errors import NotFound
from app.events import service as events_service
from app.events.models import Event
from app.events.schemas import SLUG_RE
from app.judging import repository as repo
from app.judging import service
from app.judging.models import Freeze, JudgeScore, PrizeCategory
from app.judging.schemas import (
    CategoryCreate,
    CategoryPublic,
    CategoryResults,
    CategoryUpdate,
    ConflictIn,
    ConflictPublic,
    EntryPublic,
    FreezePublic,
    FreezeRequest,
    FreezeVerificationPublic,
    PublishedResults,
    ScorePublic,
    ScoresIn,
    ShortlistAdd,
    WorkspaceCategory,
)
from app.users.models import Role, User

router = APIRouter(tags=["judging"])

Slug = Annotated[str, Path(max_length=64, description="The event's slug, e.g. wcc2025.")]
CategorySlug = Annotated[str, Path(max_length=64, description="The category's slug, e.g. best-article.")]
# Recording one judge's own judgement: the judge role only (staff run judging but do not score).
JudgeOnly = Annotated[User, Depends(require_roles(Role.JUDGE))]

Responses = dict[int | str, dict[str, Any]]

R401: Responses = {401: {"description": "Not signed in."}}
R403: Responses = {403: {"description": "The caller's role may not do this."}}
R404: Responses = {404: {"description": "No such event, category or entry, or not visible to the caller."}}
R409: Responses = {
    409: {"description": "Not at this stage: not frozen, already frozen or already published."}
}
R422: Responses = {422: {"description": "Invalid input."}}


def _event(session: Session, slug: str, user: User | None) -> Event:
    """The event, or 404 — also when it is unpublished and the caller is not staff."""
    if not SLUG_RE.match(slug.lower()):
        raise NotFound("event", slug)
    event = events_service.get_by_slug(session=session, slug=slug)
    if event is None or (not event.published and not is_staff(user)):
        raise NotFound("event", slug)
    return event


def _category(session: Session, event: Event, slug: str) -> PrizeCategory:
    return service.require_category(session=session, event=event, slug=slug)


def _freeze_public(event: Event, freeze: Freeze) -> FreezePublic:
    return FreezePublic(
        event=event.slug,
        content_hash=freeze.content_hash,
        frozen_at=freeze.frozen_at,
        rules_version=freeze.rules_version,
        reporters=len(freeze.snapshot.get("leaderboard", [])),
        posts=len(freeze.snapshot.get("posts", [])),
    )


def _category_public(session: Session, event: Event, category: PrizeCategory) -> CategoryPublic:
    criteria = repo.criteria_of(session, category.id or 0)
    return CategoryPublic.model_validate({**service.category_json(category, criteria), "event": event.slug})


def _entry_context(session: Session, entry_id: int, user: User) -> service.EntryContext:
    context = service.entry_context(session=session, entry_id=entry_id)
    if not context.event.published and not is_staff(user):
        raise NotFound("shortlist entry", entry_id)
    return context


def _score_public(score: JudgeScore) -> ScorePublic:
    return ScorePublic(
        entry_id=score.entry_id,
        criterion_id=score.criterion_id,
        score=score.score,
        comment=score.comment,
        scored_at=score.scored_at,
    )


# --- freeze ---------------------------------------------------------------------------------------


@router.post(
    "/events/{slug}/freeze",
    status_code=status.HTTP_201_CREATED,
    response_model=FreezePublic,
    responses={**R401, **R403, **R404, **R409, **R422},
)
def freeze(
    slug: Slug, staff: CurrentStaff, session: SessionDep, body: FreezeRequest | None = None
) -> FreezePublic:
    """Freeze the event's scores once (staff; before the judging deadline only with a reason)."""
    event = _event(session, slug, staff)
    frozen = service.freeze_event(
        session=session, event=event, reason=body.reason if body else None, **actor(staff)
    )
    return _freeze_public(event, frozen)


@router.get("/events/{slug}/freeze", response_model=FreezePublic, responses={**R404})
def get_freeze(slug: Slug, session: SessionDep, user: OptionalUser) -> FreezePublic:
    """The freeze's hash, time and rule set (staff and judges; everyone once results are published)."""
    event = _event(session, slug, user)
    frozen = service.get_freeze(session=session, event=event)
    privileged = user is not None and user.role in (Role.STAFF, Role.ADMIN, Role.JUDGE)
    if frozen is None or not (privileged or service.results_published(session=session, event=event)):
        raise NotFound("freeze of event", slug)
    return _freeze_public(event, frozen)


@router.get(
    "/events/{slug}/freeze/verify",
    response_model=FreezeVerificationPublic,
    responses={**R401, **R403, **R404},
)
def verify_freeze(slug: Slug, staff: CurrentStaff, session: SessionDep) -> FreezeVerificationPublic:
    """Recompute the frozen verdicts and leaderboard from the snapshot alone and compare hashes (staff)."""
    event = _event(session, slug, staff)
    frozen = service.get_freeze(session=session, event=event)
    if frozen is None:
        raise NotFound("freeze of event", slug)
    outcome = service.verify_freeze(session=session, freeze=frozen, **actor(staff))
    return FreezeVerificationPublic(
        ok=outcome.ok,
        content_hash=outcome.content_hash,
        snapshot_hash=outcome.snapshot_hash,
        recomputed_hash=outcome.recomputed_hash,
        rules_version=outcome.rules_version,
        rules_unchanged=outcome.rules_unchanged,
        differences=list(outcome.differences),
    )


@router.get("/events/{slug}/freeze/snapshot", responses={**R401, **R403, **R404})
def freeze_snapshot(slug: Slug, staff: CurrentStaff, session: SessionDep) -> dict[str, Any]:
    """The whole frozen snapshot document, whose canonical JSON hashes to content_hash (staff)."""
    event = _event(session, slug, staff)
    frozen = service.get_freeze(session=session, event=event)
    if frozen is None:
        raise NotFound("freeze of event", slug)
    return frozen.snapshot


# --- categories -----------------------------------------------------------------------------------


@router.post(
    "/events/{slug}/categories",
    status_code=status.HTTP_201_CREATED,
    response_model=CategoryPublic,
    responses={**R401, **R403, **R404, **R409, **R422},
)
def create_category(
    slug: Slug, body: CategoryCreate, staff: CurrentStaff, session: SessionDep
) -> CategoryPublic:
    """Create a prize category with its rubric (staff); after the freeze its shortlist is built at once."""
    event = _event(session, slug, staff)
    spec = service.CategorySpec(
        slug=body.slug,
        name=body.name,
        description=body.description,
        kind=body.kind,
        shortlist_size=body.shortlist_size,
        auto_weight_percent=body.auto_weight_percent,
        blind=body.blind,
        criteria=tuple(service.CriterionSpec(c.name, c.description, c.weight) for c in body.criteria),
    )
    category = service.create_category(session=session, event=event, spec=spec, **actor(staff))
    return _category_public(session, event, category)


@router.get(
    "/events/{slug}/categories",
    response_model=ListResponse[CategoryPublic],
    responses={**R401, **R403, **R404},
)
def list_categories(
    slug: Slug, user: CurrentJudge, session: SessionDep, page: Page
) -> ListResponse[CategoryPublic]:
    """The event's prize categories with their rubrics (staff and judges)."""
    event = _event(session, slug, user)
    rows, total = repo.categories_of(session, event.id or 0, offset=page.offset, limit=page.limit)
    return ListResponse(data=[_category_public(session, event, c) for c in rows], count=total)


@router.get(
    "/events/{slug}/categories/{category}",
    response_model=CategoryPublic,
    responses={**R401, **R403, **R404},
)
def get_category(
    slug: Slug, category: CategorySlug, user: CurrentJudge, session: SessionDep
) -> CategoryPublic:
    """One prize category (staff and judges)."""
    event = _event(session, slug, user)
    return _category_public(session, event, _category(session, event, category))


@router.patch(
    "/events/{slug}/categories/{category}",
    response_model=CategoryPublic,
    responses={**R401, **R403, **R404, **R409, **R422},
)
def update_category(
    slug: Slug, category: CategorySlug, body: CategoryUpdate, staff: CurrentStaff, session: SessionDep
) -> CategoryPublic:
    """Change a category (staff): the kind only before the freeze, the rubric only before any score."""
    event = _event(session, slug, staff)
    found = _category(session, event, category)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude_none=True)
    if body.criteria is not None:
        changes["criteria"] = [service.CriterionSpec(c.name, c.description, c.weight) for c in body.criteria]
    service.update_category(session=session, event=event, category=found, changes=changes, **actor(staff))
    return _category_public(session, event, found)


@router.delete(
    "/events/{slug}/categories/{category}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**R401, **R403, **R404, **R409},
)
def delete_category(slug: Slug, category: CategorySlug, staff: CurrentStaff, session: SessionDep) -> Response:
    """Delete a category before any judge scored it (staff)."""
    event = _event(session, slug, staff)
    found = _category(session, event, category)
    service.delete_category(session=session, event=event, category=found, **actor(staff))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- shortlists -----------------------------------------------------------------------------------


@router.get(
    "/events/{slug}/categories/{category}/shortlist",
    response_model=ListResponse[EntryPublic],
    response_model_exclude_none=True,
    responses={**R401, **R403, **R404},
)
def get_shortlist(
    slug: Slug, category: CategorySlug, user: CurrentJudge, session: SessionDep, page: Page
) -> ListResponse[EntryPublic]:
    """The shortlist (staff in full; judges see a blind category without identities)."""
    event = _event(session, slug, user)
    found = _category(session, event, category)
    entries = service.shortlist_view(
        session=session, event=event, category=found, user=user, staff=is_staff(user)
    )
    window = entries[page.offset : page.offset + page.limit]
    return ListResponse(data=[EntryPublic.model_validate(e) for e in window], count=len(entries))


@router.post(
    "/events/{slug}/categories/{category}/shortlist",
    status_code=status.HTTP_201_CREATED,
    response_model=EntryPublic,
    response_model_exclude_none=True,
    responses={**R401, **R403, **R404, **R409, **R422},
)
def add_to_shortlist(
    slug: Slug, category: CategorySlug, body: ShortlistAdd, staff: CurrentStaff, session: SessionDep
) -> EntryPublic:
    """Add a reporter of the frozen leaderboard to the shortlist, with a reason (staff)."""
    event = _event(session, slug, staff)
    found = _category(session, event, category)
    entry = service.add_to_shortlist(
        session=session,
        event=event,
        category=found,
        reporter_id=body.reporter_id,
        reason=body.reason,
        **actor(staff),
    )
    view = service.shortlist_view(session=session, event=event, category=found, user=staff, staff=True)
    return EntryPublic.model_validate(next(e for e in view if e["id"] == entry.id))


@router.post(
    "/events/{slug}/categories/{category}/shortlist/generate",
    response_model=ListResponse[EntryPublic],
    response_model_exclude_none=True,
    responses={**R401, **R403, **R404, **R409},
)
def generate_shortlist(
    slug: Slug, category: CategorySlug, staff: CurrentStaff, session: SessionDep
) -> ListResponse[EntryPublic]:
    """Add the top N of the frozen scores who are missing (after a size change or removals) (staff)."""
    event = _event(session, slug, staff)
    found = _category(session, event, category)
    frozen = service.require_freeze(session=session, event=event)
    service.generate_shortlist(session=session, category=found, freeze=frozen, **actor(staff))
    view = service.shortlist_view(session=session, event=event, category=found, user=staff, staff=True)
    return ListResponse(data=[EntryPublic.model_validate(e) for e in view], count=len(view))


@router.delete(
    "/events/{slug}/categories/{category}/shortlist/{entry_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**R401, **R403, **R404, **R409},
)
def remove_from_shortlist(
    slug: Slug,
    category: CategorySlug,
    entry_id: IdPath,
    staff: CurrentStaff,
    session: SessionDep,
    reason: Annotated[str | None, Query(max_length=1000, description="Why (audited).")] = None,
) -> Response:
    """Remove an entry (and its judge scores) from the shortlist (staff)."""
    event = _event(session, slug, staff)
    found = _category(session, event, category)
    entry = repo.entry_by_id(session, entry_id)
    if entry is None or entry.category_id != found.id:
        raise NotFound("shortlist entry", entry_id)
    reason = reason.replace("\x00", "") if reason else None  # the audit log stores it as JSON text
    service.remove_from_shortlist(session=session, category=found, entry=entry, reason=reason, **actor(staff))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- judges ---------------------------------------------------------------------------------------


@router.get(
    "/judging/workspace",
    response_model=ListResponse[WorkspaceCategory],
    response_model_exclude_none=True,
    responses={**R401, **R403, **R404},
)
def workspace(
    user: CurrentJudge,
    session: SessionDep,
    page: Page,
    event: Annotated[str | None, Query(max_length=64, description="Only this event (slug).")] = None,
) -> ListResponse[WorkspaceCategory]:
    """The judge's categories of frozen events: rubric, shortlisted entries (blind where set), progress."""
    found = _event(session, event, user) if event is not None else None
    blocks, total = service.workspace(
        session=session,
        judge=user,
        event=found,
        include_unpublished=is_staff(user),
        offset=page.offset,
        limit=page.limit,
    )
    data = [
        WorkspaceCategory.model_validate(
            {**block, "category": {**block["category"], "event": block["event"]}}
        )
        for block in blocks
    ]
    return ListResponse(data=data, count=total)


@router.put(
    "/judging/entries/{entry_id}/scores",
    response_model=ListResponse[ScorePublic],
    responses={**R401, **R403, **R404, **R409, **R422},
)
def put_scores(
    entry_id: IdPath, body: ScoresIn, judge: JudgeOnly, session: SessionDep
) -> ListResponse[ScorePublic]:
    """Score a shortlisted entry 1–5 per rubric criterion (upsert; the judge's own scores come back)."""
    _entry_context(session, entry_id, judge)
    rows = service.score_entry(
        session=session,
        entry_id=entry_id,
        judge=judge,
        scores=[service.ScoreInput(s.criterion_id, s.score, s.comment) for s in body.scores],
    )
    return ListResponse(data=[_score_public(r) for r in rows], count=len(rows))


@router.get(
    "/judging/entries/{entry_id}/scores",
    response_model=ListResponse[ScorePublic],
    responses={**R401, **R403, **R404},
)
def get_scores(
    entry_id: IdPath, judge: JudgeOnly, session: SessionDep, page: Page
) -> ListResponse[ScorePublic]:
    """The judge's own scores on an entry (never another judge's)."""
    _entry_context(session, entry_id, judge)
    rows = service.own_scores(session=session, entry_id=entry_id, judge=judge)
    window = rows[page.offset : page.offset + page.limit]
    return ListResponse(data=[_score_public(r) for r in window], count=len(rows))


@router.post(
    "/judging/entries/{entry_id}/conflict",
    status_code=status.HTTP_201_CREATED,
    response_model=ConflictPublic,
    responses={200: {"description": "Already declared."}, **R401, **R403, **R404, **R409, **R422},
)
def declare_conflict(
    entry_id: IdPath,
    judge: JudgeOnly,
    session: SessionDep,
    response: Response,
    body: ConflictIn | None = None,
) -> ConflictPublic:
    """Declare a conflict of interest: the judge is recused from the entry (their scores on it dropped)."""
    _entry_context(session, entry_id, judge)
    conflict, new = service.declare_conflict(
        session=session, entry_id=entry_id, judge=judge, reason=body.reason if body else ""
    )
    if not new:
        response.status_code = status.HTTP_200_OK
    return ConflictPublic(
        entry_id=conflict.entry_id, reason=conflict.reason, declared_at=conflict.declared_at
    )


# --- results --------------------------------------------------------------------------------------


@router.get(
    "/events/{slug}/categories/{category}/results",
    response_model=CategoryResults,
    responses={**R401, **R403, **R404, **R409},
)
def preview_results(
    slug: Slug, category: CategorySlug, staff: CurrentStaff, session: SessionDep
) -> CategoryResults:
    """Preview a category's results with each judge's entry scores (staff; audited, not stored)."""
    event = _event(session, slug, staff)
    found = _category(session, event, category)
    results = service.preview_results(session=session, event=event, category=found, **actor(staff))
    return CategoryResults.model_validate({**results, "published_at": found.published_at})


@router.post(
    "/events/{slug}/categories/{category}/results",
    response_model=CategoryResults,
    responses={**R401, **R403, **R404, **R409},
)
def publish_results(
    slug: Slug, category: CategorySlug, staff: CurrentStaff, session: SessionDep
) -> CategoryResults:
    """Publish a category's results once (staff; audited); they become public."""
    event = _event(session, slug, staff)
    found = _category(session, event, category)
    published = service.publish_results(session=session, event=event, category=found, **actor(staff))
    return CategoryResults.model_validate({**published.results, "published_at": published.published_at})


@router.get("/events/{slug}/results", response_model=ListResponse[PublishedResults], responses={**R404})
def event_results(
    slug: Slug, session: SessionDep, user: OptionalUser, page: Page
) -> ListResponse[PublishedResults]:
    """Published prize results of the event (public; categories appear once staff publish them)."""
    event = _event(session, slug, user)
    rows, total = service.published_results(
        session=session, event=event, offset=page.offset, limit=page.limit
    )
    return ListResponse(data=[PublishedResults.model_validate(r) for r in rows], count=total)
