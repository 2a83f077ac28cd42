"""The subsidy API: who may see and do what, problem answers, money as strings, the finance CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, col, select

from app.audit.models import AuditEntry
from app.events.models import Event
from app.reporters import service as reporters_service
from app.reporters.models import Reporter
from app.subsidies.models import Subsidy, SubsidyState
from app.users.models import Role, User
from tests.api.conftest import Actor
from tests.subsidies.subsidies_factories import (
    ELIGIBLE,
    Numbers,
    make_event,
    make_reporter,
    make_subsidy,
    store_scores,
)

API = "/api/v1"
Login = Callable[..., Actor]
Problem = Callable[..., dict[str, Any]]


def reporter_of(db: Session, user: User) -> Reporter:
    reporter = db.exec(select(Reporter).where(Reporter.user_id == user.id)).one()
    return reporter


def enrol(db: Session, event: Event, reporter: Reporter, numbers: Numbers | None = ELIGIBLE) -> None:
    """Give a signed-up reporter a verified account, a timely registration and stored scores."""
    from datetime import UTC, datetime

    from app.events import service as events_service

    spec = reporters_service.parse_account(f"mastodon:user{reporter.id}@social.example")
    reporters_service.add_account(session=db, reporter=reporter, spec=spec, verified=True)
    events_service.register(
        session=db, reporter=reporter, event=event, at=datetime(2025, 9, 1, tzinfo=UTC), channel="staff"
    )
    if numbers is not None:
        assert reporter.id is not None
        store_scores(db, event, reporter.id, numbers)


@pytest.fixture
def event(db: Session) -> Event:
    event = make_event(db, slug="wcc2025", budget="600")
    db.commit()
    return event


@pytest.fixture
def staff(login_as: Login) -> Actor:
    return login_as(Role.STAFF)


# --- eligibility --------------------------------------------------------------------------------


def test_staff_list_eligibility_with_numbers_words_and_potential_subsidy(
    db: Session, event: Event, staff: Actor
) -> None:
    ana = make_reporter(db, event, name="Ana")
    make_reporter(db, event, name="Bo", numbers=Numbers(posts=3, event_days=1, articles=0))
    make_reporter(db, None, name="Not registered")
    db.commit()

    response = staff.client.get(f"{API}/events/wcc2025/eligibility")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 2
    first, second = body["data"]
    assert first["reporter"] == {"id": ana.id, "name": "Ana"}
    assert first["eligible"] is True
    assert (first["currency"], first["subsidy"], first["potential_subsidy"]) == ("CHF", "250.00", "250.00")
    assert [c["code"] for c in first["criteria"]] == [
        "registered_in_time",
        "verified_account",
        "posts",
        "event_days",
        "blog_articles",
    ]
    assert all(c["met"] and c["missing"] is None for c in first["criteria"])
    assert second["eligible"] is False
    assert second["subsidy"] is None
    assert second["potential_subsidy"] == "250.00"
    criteria = {c["code"]: c for c in second["criteria"]}
    assert criteria["posts"] == {
        "code": "posts",
        "met": False,
        "actual": 3,
        "required": 5,
        "words": "3 of 5 posts",
        "missing": "2 more posts",
    }
    assert criteria["event_days"]["words"] == "1 of 2 days"
    assert criteria["blog_articles"]["missing"] == "1 more blog article"

    only_not = staff.client.get(f"{API}/events/wcc2025/eligibility", params={"eligible": "false", "limit": 1})
    assert only_not.json()["count"] == 1
    assert only_not.json()["data"][0]["reporter"]["name"] == "Bo"
    page_two = staff.client.get(f"{API}/events/wcc2025/eligibility", params={"offset": 1, "limit": 1}).json()
    assert [r["reporter"]["name"] for r in page_two["data"]] == ["Bo"]
    assert page_two["count"] == 2


def test_eligibility_list_is_for_staff_only(
    event: Event, login_as: Login, api_client: Any, assert_problem: Problem
) -> None:
    assert_problem(api_client.get(f"{API}/events/wcc2025/eligibility"), 401)
    reporter = login_as(Role.REPORTER)
    assert_problem(reporter.client.get(f"{API}/events/wcc2025/eligibility"), 403)
    judge = login_as(Role.JUDGE)
    assert_problem(judge.client.get(f"{API}/events/wcc2025/eligibility"), 403)
    staff = login_as(Role.STAFF)
    assert_problem(staff.client.get(f"{API}/events/nope-2031/eligibility"), 404)
    assert_problem(staff.client.get(f"{API}/events/NOT A SLUG!/eligibility"), 404)
    assert_problem(staff.client.get(f"{API}/events/wcc2025/eligibility", params={"limit": 0}), 422)


def test_a_reporter_sees_their_own_eligibility(
    db: Session, event: Event, login_as: Login, assert_problem: Problem
) -> None:
    actor = login_as(Role.REPORTER)
    me = reporter_of(db, actor.user)
    enrol(db, event, me, Numbers(posts=4))
    make_reporter(db, event, name="Someone else")
    db.commit()

    response = actor.client.get(f"{API}/events/wcc2025/eligibility/me")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["reporter"]["id"] == me.id
    assert body["eligible"] is False
    posts = next(c for c in body["criteria"] if c["code"] == "posts")
    assert (posts["words"], posts["missing"]) == ("4 of 5 posts", "1 more post")
    assert body["current_subsidy"] is None
    assert "Someone else" not in response.text

    # staff without a reporter profile have no "me"; unpublished events do not exist for reporters
    staff = login_as(Role.STAFF)
    assert_problem(staff.client.get(f"{API}/events/wcc2025/eligibility/me"), 403)
    event.published = False
    db.add(event)
    db.commit()
    assert_problem(actor.client.get(f"{API}/events/wcc2025/eligibility/me"), 404)


# --- proposals and decisions --------------------------------------------------------------------


def test_propose_then_decide_through_the_api(
    db: Session, event: Event, staff: Actor, login_as: Login
) -> None:
    reporters = [make_reporter(db, event, name=f"R{i}") for i in range(3)]
    make_reporter(db, event, numbers=Numbers(posts=1))
    db.commit()

    proposed = staff.client.post(f"{API}/events/wcc2025/subsidies/propose")
    assert proposed.status_code == 200, proposed.text
    body = proposed.json()
    assert body["count"] == 3
    assert {s["reporter"]["id"] for s in body["data"]} == {r.id for r in reporters}
    assert {(s["state"], s["amount"], s["currency"]) for s in body["data"]} == {("proposed", "250.00", "CHF")}
    again = staff.client.post(f"{API}/events/wcc2025/subsidies/propose").json()
    assert again == {"data": [], "count": 0}

    ids = sorted(s["id"] for s in body["data"])
    approved = staff.client.post(f"{API}/subsidies/{ids[0]}/approve", json={"reason": "all good"})
    assert approved.status_code == 200, approved.text
    detail = approved.json()
    assert detail["state"] == "approved"
    assert detail["decided_by"] == {"id": staff.user.id, "name": staff.user.name}
    assert [(t["from_state"], t["to_state"], t["amount"]) for t in detail["transitions"]] == [
        (None, "proposed", "250.00"),
        ("proposed", "approved", "250.00"),
    ]
    overridden = staff.client.post(
        f"{API}/subsidies/{ids[1]}/approve", json={"amount": "100.50", "reason": "partial attendance"}
    )
    assert overridden.status_code == 200, overridden.text
    assert overridden.json()["amount"] == "100.50"

    listing = staff.client.get(f"{API}/events/wcc2025/subsidies", params={"state": "approved"}).json()
    assert listing["count"] == 2
    assert {s["id"] for s in listing["data"]} == set(ids[:2])
    assert all(s["decided_by"]["id"] == staff.user.id for s in listing["data"])
    assert staff.client.get(f"{API}/events/wcc2025/subsidies").json()["count"] == 3

    budget = staff.client.get(f"{API}/events/wcc2025/budget").json()
    assert budget == {
        "event": "wcc2025",
        "currency": "CHF",
        "budget": "600.00",
        "proposed": "250.00",
        "approved": "350.50",
        "paid": "0.00",
        "committed": "350.50",
        "left": "249.50",
    }
    paid = staff.client.post(f"{API}/subsidies/{ids[0]}/pay")
    assert paid.json()["state"] == "paid"
    assert paid.json()["paid_at"] is not None


def test_problem_answers_for_illegal_moves_missing_reasons_bad_amounts_and_budget(
    db: Session, event: Event, staff: Actor, assert_problem: Problem
) -> None:
    first = make_subsidy(db, event, make_reporter(db, event), amount="250")
    second = make_subsidy(db, event, make_reporter(db, event), amount="250")
    third = make_subsidy(db, event, make_reporter(db, event), amount="250")
    db.commit()
    post = staff.client.post

    body = assert_problem(post(f"{API}/subsidies/{first.id}/pay"), 409, code="conflict")
    assert body["detail"] == f"subsidy {first.id} is proposed: only a approved subsidy can be paid"
    body = assert_problem(post(f"{API}/subsidies/{first.id}/reject", json={}), 422)
    assert body["detail"] == "a reason is required to reject a subsidy"
    assert_problem(post(f"{API}/subsidies/{first.id}/reject", json={"reason": "   "}), 422)
    assert_problem(post(f"{API}/subsidies/{first.id}/approve", json={"amount": "99"}), 422)  # no reason
    assert_problem(post(f"{API}/subsidies/{first.id}/approve", json={"amount": "99.999", "reason": "x"}), 422)
    assert_problem(post(f"{API}/subsidies/{first.id}/approve", json={"amount": "-5", "reason": "x"}), 422)
    assert_problem(post(f"{API}/subsidies/{first.id}/approve", json={"amount": "1e30", "reason": "x"}), 422)
    assert_problem(post(f"{API}/subsidies/{first.id}/approve", json={"amount": "NaN", "reason": "x"}), 422)
    assert_problem(post(f"{API}/subsidies/{first.id}/approve", json={"amount": [1], "reason": "x"}), 422)
    assert_problem(post(f"{API}/subsidies/{first.id}/approve", json={"reason": "x" * 2001}), 422)
    assert_problem(post(f"{API}/subsidies/{first.id}/approve", json={"reason": "nul\u0000"}), 422)
    assert_problem(post(f"{API}/subsidies/{first.id}/approve", json={"unknown": 1}), 422)
    assert_problem(post(f"{API}/subsidies/{first.id}/pay", json={"amount": "10"}), 422)
    assert_problem(post(f"{API}/subsidies/{first.id}/approve", content=b"{not json"), 422)
    assert_problem(post(f"{API}/subsidies/0/approve"), 422)
    assert_problem(post(f"{API}/subsidies/99999999/approve"), 404)
    assert_problem(post(f"{API}/subsidies/99999999999999/approve"), 422)

    assert post(f"{API}/subsidies/{first.id}/approve").status_code == 200
    assert post(f"{API}/subsidies/{second.id}/approve").status_code == 200
    body = assert_problem(post(f"{API}/subsidies/{third.id}/approve"), 409)
    assert body["detail"] == "budget exceeded: 100.00 CHF left, and this subsidy is 250.00 CHF"
    body = assert_problem(post(f"{API}/subsidies/{first.id}/approve"), 409)
    assert "is approved: only a proposed subsidy can be approved" in body["detail"]
    revoked = post(f"{API}/subsidies/{second.id}/revoke", json={"reason": "double booking"})
    assert revoked.json()["state"] == "proposed"
    assert post(f"{API}/subsidies/{third.id}/approve").status_code == 200
    assert_problem(post(f"{API}/events/wcc2025/subsidies", params={"state": "lost"}), 405)
    assert_problem(staff.client.get(f"{API}/events/wcc2025/subsidies", params={"state": "lost"}), 422)


def test_reporters_and_judges_cannot_decide_and_cookies_need_the_csrf_token(
    db: Session, event: Event, login_as: Login, assert_problem: Problem
) -> None:
    subsidy = make_subsidy(db, event, make_reporter(db, event))
    db.commit()
    for role in (Role.REPORTER, Role.JUDGE):
        actor = login_as(role)
        for action in ("approve", "reject", "revoke", "pay"):
            assert_problem(
                actor.client.post(f"{API}/subsidies/{subsidy.id}/{action}", json={"reason": "x"}), 403
            )
        assert_problem(actor.client.post(f"{API}/events/wcc2025/subsidies/propose"), 403)
    staff = login_as(Role.STAFF)
    del staff.client.headers["X-CSRF-Token"]
    assert_problem(staff.client.post(f"{API}/subsidies/{subsidy.id}/approve"), 403, code="csrf")
    token_staff = login_as(Role.STAFF, via="token")
    assert token_staff.client.post(f"{API}/subsidies/{subsidy.id}/approve").status_code == 200
    db.expire_all()
    assert db.get(Subsidy, subsidy.id).state == SubsidyState.APPROVED


def test_staff_cannot_decide_their_own_subsidy_and_the_attempt_is_audited(
    db: Session, event: Event, make_user: Callable[..., User], login_as: Login, assert_problem: Problem
) -> None:
    user = make_user(Role.STAFF)
    own = make_subsidy(db, event, make_reporter(db, event, user_id=user.id))
    db.commit()
    actor = login_as(Role.STAFF, user=user)
    body = assert_problem(actor.client.post(f"{API}/subsidies/{own.id}/approve"), 403, code="forbidden")
    assert body["detail"] == "you cannot approve your own subsidy: another staff member must decide"
    assert_problem(
        actor.client.post(f"{API}/subsidies/{own.id}/approve", json={"amount": "10", "reason": "x"}), 403
    )

    db.expire_all()
    assert db.get(Subsidy, own.id).state == SubsidyState.PROPOSED
    refused = db.exec(
        select(AuditEntry)
        .where(AuditEntry.action == "subsidy.self_decision_refused")
        .order_by(col(AuditEntry.id))
    ).all()
    assert [(r.actor_id, r.actor_role, r.target_id, r.address) for r in refused] == [
        (user.id, "staff", str(own.id), "198.51.100.7")
    ] * 2
    # a colleague may, and that is audited as the decision
    colleague = login_as(Role.STAFF)
    assert colleague.client.post(f"{API}/subsidies/{own.id}/approve").status_code == 200
    db.expire_all()
    decision = db.exec(select(AuditEntry).where(AuditEntry.action == "subsidy.approve")).one()
    assert (decision.actor_id, decision.target_id, decision.address) == (
        colleague.user.id,
        str(own.id),
        "198.51.100.7",
    )


# --- reading one subsidy, and one's own ---------------------------------------------------------


def test_a_reporter_sees_only_their_own_subsidies_without_staff_details(
    db: Session, event: Event, staff: Actor, login_as: Login, api_client: Any, assert_problem: Problem
) -> None:
    ana = login_as(Role.REPORTER)
    bo = login_as(Role.REPORTER)
    ana_subsidy = make_subsidy(db, event, reporter_of(db, ana.user))
    bo_subsidy = make_subsidy(db, event, reporter_of(db, bo.user), amount="120")
    db.commit()
    assert (
        staff.client.post(f"{API}/subsidies/{ana_subsidy.id}/approve", json={"reason": "ok"}).status_code
        == 200
    )

    mine = ana.client.get(f"{API}/subsidies/{ana_subsidy.id}")
    assert mine.status_code == 200, mine.text
    assert set(mine.json()) == {
        "id",
        "event",
        "reporter",
        "state",
        "amount",
        "currency",
        "proposed_at",
        "decided_at",
        "paid_at",
        "reason",
    }
    assert mine.json()["state"] == "approved"
    assert_problem(ana.client.get(f"{API}/subsidies/{bo_subsidy.id}"), 404)
    assert_problem(api_client.get(f"{API}/subsidies/{ana_subsidy.id}"), 401)
    assert_problem(ana.client.get(f"{API}/events/wcc2025/subsidies"), 403)
    assert_problem(ana.client.get(f"{API}/events/wcc2025/budget"), 403)
    assert_problem(ana.client.get(f"{API}/events/wcc2025/subsidies.csv"), 403)

    own_list = ana.client.get(f"{API}/me/subsidies").json()
    assert own_list["count"] == 1
    assert [s["id"] for s in own_list["data"]] == [ana_subsidy.id]
    assert "decided_by" not in own_list["data"][0]
    assert_problem(staff.client.get(f"{API}/me/subsidies"), 403)  # no reporter profile

    full = staff.client.get(f"{API}/subsidies/{ana_subsidy.id}").json()
    assert full["decided_by"]["id"] == staff.user.id
    assert [t["to_state"] for t in full["transitions"]] == ["proposed", "approved"]
    assert_problem(staff.client.get(f"{API}/subsidies/99999999"), 404)


# --- the finance CSV ----------------------------------------------------------------------------


def test_finance_csv_lists_every_subsidy_and_defuses_formulas(
    db: Session, event: Event, make_user: Callable[..., User], login_as: Login
) -> None:
    decider = make_user(Role.STAFF, name="@decider")
    evil = make_reporter(db, event, name='=HYPERLINK("http://evil.example","click")')
    plain = make_reporter(db, event, name="Ana Lopez")
    minus = make_reporter(db, event, name="-2+3")
    evil_subsidy = make_subsidy(db, event, evil)
    make_subsidy(db, event, plain, amount="99.5")
    make_subsidy(db, event, minus, amount="10")
    db.commit()
    staff = login_as(Role.STAFF, user=decider)
    assert staff.client.post(f"{API}/subsidies/{evil_subsidy.id}/approve").status_code == 200

    response = staff.client.get(f"{API}/events/wcc2025/subsidies.csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="subsidies-wcc2025.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [
        "subsidy_id",
        "reporter_id",
        "reporter",
        "event",
        "amount",
        "currency",
        "state",
        "decided_by",
        "decided_at",
    ]
    assert [(r["reporter"], r["amount"], r["currency"], r["state"], r["decided_by"]) for r in rows] == [
        ('\'=HYPERLINK("http://evil.example","click")', "250.00", "CHF", "approved", "'@decider"),
        ("Ana Lopez", "99.50", "CHF", "proposed", ""),
        ("'-2+3", "10.00", "CHF", "proposed", ""),
    ]
    assert rows[0]["decided_at"].endswith("+00:00")
    assert all(r["event"] == "wcc2025" for r in rows)
    db.expire_all()
    export = db.exec(select(AuditEntry).where(AuditEntry.action == "subsidy.export")).one()
    assert (export.actor_id, export.detail) == (decider.id, {"event": "wcc2025", "rows": 3, "format": "csv"})
