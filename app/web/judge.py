"""The judge workspace (shortlists per category, blind where set, the rubric form, conflicts) and the
public results page of an event.

Judges read only what ``app.judging.service`` gives them (``workspace``, ``shortlist_view`` with
``staff=False``), so a blind category shows no reporter name, handle, URL or score here. Staff may look
at the workspace (they see what a judge sees) but do not score: the forms post for the judge role only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session
from starlette.responses import Response

from app.core.api import IdPath
from app.core.deps import SessionDep
from app.core.errors import Forbidden, NotFound
from app.events.models import Event
from app.judging import repository as judging_repo
from app.judging import service as judging
from app.judging.models import RubricCriterion
from app.users.models import Role, User
from app.web import repository as web_repository
from app.web.i18n import t
from app.web.pages import CheckedForm, PageOptionalUser, PageRoute
from app.web.staff import (
    MAX_PAGE,
    PAGE_SIZE,
    attempt,
    check_reason,
    console_page,
    console_roles,
    done,
    form_text,
    int_param,
    notice_of,
    pages_of,
)
from app.web.templating import NAV_ITEMS, NavItem

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# Judges score; staff and admins may look (they see what a judge sees). Others: 404.
ConsoleJudge = Annotated[User, Depends(console_roles(Role.JUDGE, Role.STAFF, Role.ADMIN))]
SCORES = (1, 2, 3, 4, 5)
MAX_COMMENT = 2000

_JUDGE_NAV = NavItem("/judging", "nav.judging", frozenset({"judge"}))
if _JUDGE_NAV not in NAV_ITEMS:
    NAV_ITEMS.append(_JUDGE_NAV)


def _is_staff(user: User | None) -> bool:
    return user is not None and str(user.role) in (Role.STAFF, Role.ADMIN)


# --- the workspace ----------------------------------------------------------------------------------


@router.get("/judging")
def workspace_page(request: Request, judge: ConsoleJudge, session: SessionDep) -> Response:
    """The judge's prize categories of frozen events: rubric, shortlisted entries, own progress."""
    params = request.query_params
    page = int_param(params, "page", default=1, low=1, high=MAX_PAGE) or 1
    blocks, total = judging.workspace(
        session=session,
        judge=judge,
        include_unpublished=_is_staff(judge),
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    return console_page(
        request,
        "judge/workspace.html",
        blocks=blocks,
        total=total,
        page=page,
        pages=pages_of(total),
        can_score=str(judge.role) == Role.JUDGE,
        notice=None,
    )


# --- one entry ----------------------------------------------------------------------------------------


def _entry(session: Session, entry_id: int, user: User) -> tuple[judging.EntryContext, dict[str, Any]]:
    """The entry's context and its view as a judge reads it (404 for what the viewer may not see)."""
    context = judging.entry_context(session=session, entry_id=entry_id)
    if not context.event.published and not _is_staff(user):
        raise NotFound("shortlist entry", entry_id)
    if judging.get_freeze(session=session, event=context.event) is None:
        raise NotFound("shortlist entry", entry_id)
    # staff=False: staff looking at the workspace see what judges see (blind stays blind)
    views = judging.shortlist_view(
        session=session, event=context.event, category=context.category, user=user, staff=False
    )
    view = next((v for v in views if v["id"] == entry_id), None)
    if view is None:
        raise NotFound("shortlist entry", entry_id)
    return context, view


def _entry_page(
    request: Request,
    session: Session,
    entry_id: int,
    user: User,
    *,
    errors: dict[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context, view = _entry(session, entry_id, user)
    criteria = judging_repo.criteria_of(session, context.category.id or 0)
    assert user.id is not None
    own = {s.criterion_id: s for s in judging_repo.scores_of(session, entry_id=entry_id, judge_id=user.id)}
    shown: dict[str, str] = {}
    for criterion in criteria:
        score = own.get(criterion.id or 0)
        shown[f"score-{criterion.id}"] = str(score.score) if score else ""
        shown[f"comment-{criterion.id}"] = score.comment if score else ""
    shown.update(values or {})
    conflict = judging_repo.conflict_of(session, user.id, entry_id)
    return console_page(
        request,
        "judge/entry.html",
        status_code=status_code,
        event=context.event,
        category=context.category,
        entry=view,
        criteria=criteria,
        scores=SCORES,
        values=shown,
        errors=errors or {},
        conflict=conflict,
        complete=bool(criteria) and all(c.id in own for c in criteria),
        can_score=str(user.role) == Role.JUDGE,
        notice=None if errors else notice_of(request),
    )


@router.get("/judging/entries/{entry_id}")
def entry_page(request: Request, entry_id: IdPath, judge: ConsoleJudge, session: SessionDep) -> Response:
    """One shortlisted entry (blind where set) with the rubric form and the conflict declaration."""
    return _entry_page(request, session, entry_id, judge)


def _require_judge(user: User) -> None:
    if str(user.role) != Role.JUDGE:
        raise Forbidden(t("judge.only_judges"))


def scores_from_form(
    form: Mapping[str, str], criteria: list[RubricCriterion]
) -> tuple[list[judging.ScoreInput], dict[str, str], dict[str, str]]:
    """The rubric form's scores (every criterion 1–5, comments ≤ 2000), or the errors per field."""
    scores: list[judging.ScoreInput] = []
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for criterion in criteria:
        score_key, comment_key = f"score-{criterion.id}", f"comment-{criterion.id}"
        raw = form_text(form, score_key)
        comment = form_text(form, comment_key)
        values[score_key], values[comment_key] = raw[:4], comment
        if raw not in {str(s) for s in SCORES}:
            errors[score_key] = t("judge.score_missing", criterion=criterion.name)
        if len(comment) > MAX_COMMENT:
            errors[comment_key] = t("staff.too_long", max=MAX_COMMENT)
        if score_key not in errors and comment_key not in errors:
            scores.append(judging.ScoreInput(criterion_id=criterion.id or 0, score=int(raw), comment=comment))
    return scores, errors, values


@router.post("/judging/entries/{entry_id}/scores")
def score_entry(
    request: Request, entry_id: IdPath, judge: ConsoleJudge, session: SessionDep, form: CheckedForm
) -> Response:
    """Save the judge's 1–5 score on every rubric criterion, with optional comments (audited)."""
    context, _ = _entry(session, entry_id, judge)
    _require_judge(judge)
    criteria = judging_repo.criteria_of(session, context.category.id or 0)
    scores, errors, values = scores_from_form(form, criteria)
    if errors:
        return _entry_page(request, session, entry_id, judge, errors=errors, values=values, status_code=422)
    _, error = attempt(
        session, lambda: judging.score_entry(session=session, entry_id=entry_id, judge=judge, scores=scores)
    )
    if error is not None:
        if error.status == 404:
            raise error
        return _entry_page(
            request,
            session,
            entry_id,
            judge,
            errors={"form": error.detail},
            values=values,
            status_code=error.status,
        )
    return done(f"/judging/entries/{entry_id}", "scored")


@router.post("/judging/entries/{entry_id}/conflict")
def declare_conflict(
    request: Request, entry_id: IdPath, judge: ConsoleJudge, session: SessionDep, form: CheckedForm
) -> Response:
    """Declare a conflict with an entry: the judge is recused and their scores on it dropped (audited)."""
    _entry(session, entry_id, judge)
    _require_judge(judge)
    reason = form_text(form, "reason")
    problem = check_reason(reason, required=False)
    if problem is not None:
        return _entry_page(
            request,
            session,
            entry_id,
            judge,
            errors={"conflict_reason": problem},
            values={"conflict_reason": reason},
            status_code=422,
        )
    _, error = attempt(
        session,
        lambda: judging.declare_conflict(session=session, entry_id=entry_id, judge=judge, reason=reason),
    )
    if error is not None:
        if error.status == 404:
            raise error
        return _entry_page(
            request, session, entry_id, judge, errors={"form": error.detail}, status_code=error.status
        )
    return done(f"/judging/entries/{entry_id}", "conflict")


# --- public results ----------------------------------------------------------------------------------


def _event_or_404(session: Session, slug: str, user: User | None) -> Event:
    event = web_repository.visible_event(session, slug, staff=_is_staff(user))
    if event is None:
        raise NotFound("event", slug[:64])
    return event


@router.get("/events/{slug}/results")
def results_page(request: Request, slug: str, session: SessionDep, user: PageOptionalUser) -> Response:
    """The event's published prize results (anyone; nothing before staff publish a category)."""
    event = _event_or_404(session, slug, user)
    page = int_param(request.query_params, "page", default=1, low=1, high=MAX_PAGE) or 1
    categories, total = judging.published_results(
        session=session, event=event, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    freeze = judging.get_freeze(session=session, event=event) if categories else None
    return console_page(
        request,
        "judge/results.html",
        event=event,
        categories=categories,
        freeze=freeze,
        total=total,
        page=page,
        pages=pages_of(total),
    )
