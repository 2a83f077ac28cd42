"""The staff console over HTTP (no browser): who may see it, every section, actions and their errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from app.audit.models import AuditEntry
from app.ingest import service as ingest_service
from app.ingest.models import Post, Source
from app.reporters import service as reporters_service
from app.reporters.models import Account
from app.subsidies import service as subsidies
from app.subsidies.models import Subsidy
from app.users.models import Role
from tests.web.conftest import PASSWORD, form_token
from tests.web.test_web_staff_seed import make_user, past_event, reporter_with_posts, rescore
from tests.web.web_factories import add_post, make_event, make_reporter

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def log_in(client, email):
    token = form_token(client, "/login")
    response = client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def staff_client(web_client_factory, web_db):
    staff = make_user(web_db, role=Role.STAFF, email="sam.staff@example.org", name="Sam Staff")
    web_db.commit()
    client = log_in(web_client_factory(), "sam.staff@example.org")
    client.user = staff
    return client


def token_of(client, path):
    match = TOKEN_RE.search(client.get(path).text)
    assert match, path
    return match.group(1)


def audit_actions(db, prefix):
    rows = db.exec(select(AuditEntry).where(AuditEntry.action.startswith(prefix))).all()
    return [(row.action, row.actor_role, row.address, row.detail) for row in rows]


# --- who may see the console --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/staff", "/staff/sources", "/staff/runs", "/staff/moderation", "/staff/accounts", "/staff/audit"],
)
def test_console_pages_need_staff(web_client_factory, web_db, path):
    make_user(web_db, role=Role.REPORTER, email="rita@example.org", name="Rita")
    make_user(web_db, role=Role.JUDGE, email="jo@example.org", name="Jo")
    make_user(web_db, role=Role.ADMIN, email="ada@example.org", name="Ada")
    web_db.commit()

    anonymous = web_client_factory().get(path)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"/login?next={path}"
    for email in ("rita@example.org", "jo@example.org"):
        refused = log_in(web_client_factory(), email).get(path)
        assert refused.status_code == 404  # the console is not advertised to other roles
        assert "Staff console" not in refused.text
    admin = log_in(web_client_factory(), "ada@example.org").get(path)
    assert admin.status_code == 200
    assert 'href="/staff"' in admin.text  # the console is in the admin's navigation


def test_actions_need_the_session_csrf_token(staff_client, web_db):
    source = ingest_service.add_source(
        session=web_db, platform="mastodon", url="https://social.example", tags=["iucncec"]
    )
    web_db.commit()
    response = staff_client.post(f"/staff/sources/{source.id}/collect", data={"csrf_token": "forged"})
    assert response.status_code == 403
    assert audit_actions(web_db, "source.") == []


def test_unknown_things_are_404_pages(staff_client):
    for path in ("/staff/events/nope", "/staff/events/nope/subsidies", "/staff/events/nope/judging"):
        assert staff_client.get(path).status_code == 404
    token = token_of(staff_client, "/staff/sources")
    assert staff_client.post("/staff/sources/999999/collect", data={"csrf_token": token}).status_code == 404
    assert staff_client.post("/staff/posts/0/exclude", data={"csrf_token": token}).status_code == 422
    assert staff_client.get("/staff/audit?since=yesterday").status_code == 422
    assert staff_client.get("/staff/moderation?platform=myspace").status_code == 422
    assert staff_client.get("/staff/runs?page=0").status_code == 422


# --- sources and runs --------------------------------------------------------------------------------------


def test_sources_show_health_in_words_and_collect_now_schedules_and_audits(staff_client, web_db):
    healthy = ingest_service.add_source(
        session=web_db, platform="mastodon", url="https://ok.example", tags=["iucncec"], name="Healthy one"
    )
    failing = ingest_service.add_source(
        session=web_db, platform="mastodon", url="https://down.example", tags=["iucncec"], name="Failing one"
    )
    healthy.health, healthy.last_success_at = "ok", datetime.now(UTC)
    healthy.next_run_at = datetime.now(UTC) + timedelta(hours=1)
    failing.health, failing.consecutive_failures = "failing", 3
    failing.last_error = "server answered 503 <Service Unavailable>"
    failing.next_run_at = datetime.now(UTC) + timedelta(hours=2)
    web_db.add_all([healthy, failing])
    web_db.commit()

    page = staff_client.get("/staff/sources")
    assert page.status_code == 200
    assert 'class="health health-ok">OK<' in page.text
    assert 'class="health health-failing">Failing<' in page.text
    assert "failing (3 failures in a row)" in page.text
    assert "server answered 503 &lt;Service Unavailable&gt;" in page.text

    token = token_of(staff_client, "/staff/sources")
    done = staff_client.post(
        f"/staff/sources/{failing.id}/collect", data={"csrf_token": token, "back": "/staff/sources?page=1"}
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/staff/sources?page=1&done=collect"
    assert "next tick" in staff_client.get(done.headers["location"]).text
    web_db.expire_all()
    assert web_db.get(Source, failing.id).next_run_at <= datetime.now(UTC)
    [(action, role, address, _)] = audit_actions(web_db, "source.collect_now")
    assert (action, role, address) == ("source.collect_now", "staff", "198.51.100.20")


def test_collect_now_on_a_disabled_source_explains_why(staff_client, web_db):
    source = ingest_service.add_source(
        session=web_db, platform="mastodon", url="https://off.example", tags=["iucncec"]
    )
    source.enabled = False
    web_db.add(source)
    web_db.commit()
    token = token_of(staff_client, "/staff/sources")
    refused = staff_client.post(f"/staff/sources/{source.id}/collect", data={"csrf_token": token})
    assert refused.status_code == 409
    assert f"source {source.id} is disabled: enable it first" in refused.text
    assert audit_actions(web_db, "source.") == []


def test_runs_filter_by_status(staff_client, web_db):
    source = ingest_service.add_source(
        session=web_db, platform="mastodon", url="https://runs.example", tags=["iucncec"]
    )
    from app.ingest.models import CollectorRun

    web_db.add(CollectorRun(source_id=source.id, status="ok", requests=3, new_posts=7))
    web_db.add(CollectorRun(source_id=source.id, status="failed", error="timed out after 30 s"))
    web_db.commit()
    everything = staff_client.get("/staff/runs")
    assert "timed out after 30 s" in everything.text
    assert "2 items" in everything.text
    failed = staff_client.get(f"/staff/runs?status=failed&source_id={source.id}")
    assert "1 item" in failed.text
    assert "timed out" in failed.text


# --- moderation -----------------------------------------------------------------------------------------


def test_excluding_needs_a_reason_shown_next_to_the_post(staff_client, web_db):
    event = make_event(web_db, slug="mod-event")
    make_reporter(web_db, name="Ana Post", account="mastodon:ana@mod.example", event=event)
    key = add_post(web_db, author_key="mastodon:ana@mod.example")
    rescore_event = __import__("app.scoring.service", fromlist=["rescore_event"]).rescore_event
    rescore_event(web_db, event)
    web_db.commit()
    post = web_db.exec(select(Post).where(Post.global_key == key)).one()

    queue = staff_client.get("/staff/moderation?event=mod-event")
    assert "Ana Post" in queue.text
    assert "Counted:" in queue.text
    token = TOKEN_RE.search(queue.text).group(1)
    back = "/staff/moderation?event=mod-event&page=1"

    missing = staff_client.post(
        f"/staff/posts/{post.id}/exclude", data={"csrf_token": token, "reason": "   ", "back": back}
    )
    assert missing.status_code == 422
    assert f'id="reason-{post.id}-error">Give a reason' in missing.text
    assert not web_db.get(Post, post.id).excluded

    excluded = staff_client.post(
        f"/staff/posts/{post.id}/exclude",
        data={"csrf_token": token, "reason": "Spam\x00 link", "back": back},
    )
    assert excluded.status_code == 303
    assert excluded.headers["location"] == "/staff/moderation?event=mod-event&page=1&done=excluded"
    web_db.expire_all()
    assert web_db.get(Post, post.id).excluded_reason == "Spam link"
    assert "Reason: Spam link" in staff_client.get(excluded.headers["location"]).text

    again = staff_client.post(
        f"/staff/posts/{post.id}/exclude", data={"csrf_token": token, "reason": "twice", "back": back}
    )
    assert again.status_code == 409
    assert "is already excluded" in again.text

    restored = staff_client.post(
        f"/staff/posts/{post.id}/restore", data={"csrf_token": token, "reason": "Not spam", "back": back}
    )
    assert restored.status_code == 303
    assert [a for a, *_ in audit_actions(web_db, "post.")] == ["post.exclude", "post.restore"]


# --- accounts -----------------------------------------------------------------------------------------------


def test_staff_verify_a_pending_account_with_a_reason(staff_client, web_db):
    reporter = reporters_service.add_reporter(
        session=web_db, name="Pia Pending", email=None, accounts=["x:pia_reports"]
    )
    web_db.commit()
    account = web_db.exec(select(Account).where(Account.reporter_id == reporter.id)).one()

    queue = staff_client.get("/staff/accounts")
    assert "Pia Pending" in queue.text
    assert "x:pia_reports" in queue.text
    assert "BIE-" not in queue.text  # staff never see verification codes
    token = TOKEN_RE.search(queue.text).group(1)
    refused = staff_client.post(f"/staff/accounts/{account.id}/verify", data={"csrf_token": token})
    assert refused.status_code == 422
    assert "Give a reason" in refused.text
    verified = staff_client.post(
        f"/staff/accounts/{account.id}/verify",
        data={"csrf_token": token, "reason": "Checked the profile", "back": "/staff/accounts?state=pending"},
    )
    assert verified.status_code == 303
    web_db.expire_all()
    assert web_db.get(Account, account.id).state == "verified"
    assert "No accounts in this state." in staff_client.get("/staff/accounts").text


# --- audit log ----------------------------------------------------------------------------------------------


def test_audit_log_filters_by_action_prefix_and_date(staff_client, web_db):
    source = ingest_service.add_source(
        session=web_db, platform="mastodon", url="https://audit.example", tags=["iucncec"]
    )
    web_db.commit()
    token = token_of(staff_client, "/staff/sources")
    staff_client.post(f"/staff/sources/{source.id}/collect", data={"csrf_token": token})

    page = staff_client.get("/staff/audit?action=source.")
    assert "source.collect_now" in page.text
    assert "user.create" not in page.text
    today = datetime.now(UTC).date()
    assert "source.collect_now" in staff_client.get(f"/staff/audit?since={today}&until={today}").text
    earlier = today - timedelta(days=3)
    assert "No entries match." in staff_client.get(f"/staff/audit?until={earlier}").text
    assert staff_client.get("/staff/audit?since=2025-10-09T00:00:00").status_code == 422  # no offset
    assert staff_client.get("/staff/audit?until=9999-12-31").status_code == 422
    assert staff_client.get("/staff/audit?action=source.%00&target_id=%00").status_code == 200


# --- eligibility, subsidies, budget -------------------------------------------------------------------------


def _budget_left(html):
    match = re.search(r'id="budget-left" class="budget-left">([^<]+)<', html)
    assert match, "no budget figure on the page"
    return match.group(1)


def test_subsidy_queue_approve_updates_budget_left_and_refuses_overdrafts(staff_client, web_db):
    event = past_event(web_db, slug="forum-subsidies", budget="400")
    ana = reporter_with_posts(web_db, event, name="Ana Eligible", handle="anaelig")
    bo = reporter_with_posts(web_db, event, name="Bo Eligible", handle="boelig")
    reporter_with_posts(web_db, event, name="Cy Short", handle="cyshort", posts=2, article=False)
    rescore(web_db, event)
    web_db.commit()
    path = "/staff/events/forum-subsidies/subsidies"

    page = staff_client.get(path)
    assert _budget_left(page.text) == "400.00 CHF"
    assert "2 of 3 registered reporters meet every criterion." in page.text
    assert "3 more posts" in page.text  # Cy's missing posts, in words
    token = TOKEN_RE.search(page.text).group(1)

    proposed = staff_client.post(f"{path}/propose", data={"csrf_token": token, "back": path})
    assert proposed.status_code == 303
    assert "2 subsidies proposed." in staff_client.get(proposed.headers["location"]).text
    [ana_subsidy] = web_db.exec(select(Subsidy).where(Subsidy.reporter_id == ana.id)).all()
    [bo_subsidy] = web_db.exec(select(Subsidy).where(Subsidy.reporter_id == bo.id)).all()
    assert ana_subsidy.amount == Decimal("250.00")

    approved = staff_client.post(f"{path}/{ana_subsidy.id}/approve", data={"csrf_token": token, "back": path})
    assert approved.status_code == 303
    assert _budget_left(staff_client.get(path).text) == "150.00 CHF"

    over = staff_client.post(f"{path}/{bo_subsidy.id}/approve", data={"csrf_token": token, "back": path})
    assert over.status_code == 409
    assert "budget exceeded: 150.00 CHF left, and this subsidy is 250.00 CHF" in over.text
    assert _budget_left(over.text) == "150.00 CHF"

    no_reason = staff_client.post(
        f"{path}/{bo_subsidy.id}/approve", data={"csrf_token": token, "amount": "150", "back": path}
    )
    assert no_reason.status_code == 422
    assert "a reason is required to change the amount" in no_reason.text
    bad_amount = staff_client.post(
        f"{path}/{bo_subsidy.id}/approve", data={"csrf_token": token, "amount": "lots", "back": path}
    )
    assert bad_amount.status_code == 422
    assert f'id="f-amount-{bo_subsidy.id}-error">Enter an amount' in bad_amount.text

    lowered = staff_client.post(
        f"{path}/{bo_subsidy.id}/approve",
        data={"csrf_token": token, "amount": "150.00", "reason": "what is left", "back": path},
    )
    assert lowered.status_code == 303
    assert _budget_left(staff_client.get(path).text) == "0.00 CHF"

    reject_without_reason = staff_client.post(
        f"{path}/{ana_subsidy.id}/revoke", data={"csrf_token": token, "back": path}
    )
    assert reject_without_reason.status_code == 422
    assert f'id="revoke-reason-{ana_subsidy.id}-error">Give a reason' in reject_without_reason.text
    assert staff_client.post(f"{path}/{ana_subsidy.id}/refund", data={"csrf_token": token}).status_code == 404
    actions = [a for a, *_ in audit_actions(web_db, "subsidy.")]
    assert actions.count("subsidy.approve") == 2


def test_own_subsidy_is_refused_with_a_clear_message_and_the_attempt_is_audited(staff_client, web_db):
    event = past_event(web_db, slug="forum-own")
    reporter_with_posts(web_db, event, name="Sam Staff", handle="samstaff", user_id=staff_client.user.id)
    rescore(web_db, event)
    [subsidy] = subsidies.propose_subsidies(session=web_db, event=event, actor=None)
    web_db.commit()
    path = "/staff/events/forum-own/subsidies"

    refused = staff_client.post(
        f"{path}/{subsidy.id}/approve", data={"csrf_token": token_of(staff_client, path), "back": path}
    )
    assert refused.status_code == 403
    assert "you cannot approve your own subsidy: another staff member must decide" in refused.text
    assert _budget_left(refused.text) == "1,000.00 CHF"
    web_db.expire_all()
    assert web_db.get(Subsidy, subsidy.id).state == "proposed"
    assert [a for a, *_ in audit_actions(web_db, "subsidy.self")] == ["subsidy.self_decision_refused"]


def test_event_page_links_the_csv_exports_that_staff_can_download(staff_client, web_db):
    past_event(web_db, slug="forum-export")
    web_db.commit()
    page = staff_client.get("/staff/events/forum-export")
    for name in ("posts", "leaderboard", "subsidies"):
        link = f"/api/v1/events/forum-export/{name}.csv"
        assert f'href="{link}"' in page.text
        download = staff_client.get(link)
        assert download.status_code == 200, name
        assert download.headers["content-type"].startswith("text/csv")
    assert "Budget left" in page.text
