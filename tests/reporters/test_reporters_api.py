"""Reporter identity and data through the HTTP API: profile and listing, accounts and verification
(against a simulated Mastodon server on loopback), claims, export and deletion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from app.audit.models import AuditEntry
from app.events.models import Event
from app.events.schemas import EventCreate
from app.events.service import create_event, register
from app.ingest.models import Post, PostClaim, Source
from app.ingest.repository import upsert_posts
from app.reporters import identity
from app.reporters.models import Account, Reporter
from app.scoring.leaderboard import event_leaderboard
from app.scoring.service import rescore_event, rescore_pending
from app.users.models import Role, User
from collectors.base import CollectedPost, Platform
from tests.reporters.reporters_helpers import PASSWORD, Mastodon

LONG = "Mangrove restoration panel: communities lead, scientists listen, funding follows the evidence."


def reporter_of(db: Session, user: User) -> Reporter:
    db.expire_all()
    reporter = db.exec(select(Reporter).where(Reporter.user_id == user.id)).one()
    return reporter


def add_source(db: Session, mastodon: Mastodon) -> Source:
    source = Source(platform="mastodon", url=mastodon.base_url, tags=["iucncec"], trusted=True, name="sim")
    db.add(source)
    db.commit()
    return source


def make_event(db: Session, slug: str = "wcc-test") -> Event:
    today = datetime.now(UTC).date()
    spec = EventCreate(
        slug=slug,
        name="Test Congress",
        start=today - timedelta(days=1),
        end=today + timedelta(days=1),
        timezone="UTC",
    )
    event = create_event(session=db, spec=spec)
    db.commit()
    return event


def collected(key: str, n: int, *, text: str = LONG, tags: tuple[str, ...] = ("iucncec",)) -> CollectedPost:
    return CollectedPost(
        platform=Platform.MASTODON,
        global_key=f"https://social9.example/users/x/statuses/{key}-{n}",
        local_id=f"{n}",
        url=f"https://social9.example/@x/{n}",
        author_key=key,
        author_name="X",
        created_at=datetime.now(UTC) - timedelta(minutes=n),
        text=f"{text} #{tags[0]} ({n})" if tags else f"{text} ({n})",
        tags=tags,
    )


def link(actor, account: str) -> dict:
    response = actor.client.post("/api/v1/me/accounts", json={"account": account})
    assert response.status_code == 201, response.text
    return response.json()


# --- profile and listing ---------------------------------------------------------------------


def test_profile_and_anonymous_listing_hide_the_name_in_public(login_as, db, api_client, assert_problem):
    ana = login_as(Role.REPORTER)
    response = ana.client.patch("/api/v1/me/profile", json={"name": "Ana Lima", "bio": "Mangroves."})
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Ana Lima"
    reporter = reporter_of(db, ana.user)
    event = make_event(db)
    register(session=db, reporter=reporter, event=event)
    rescore_event(db, event)
    db.commit()

    public = api_client.get(f"/api/v1/reporters/{reporter.id}")
    assert public.status_code == 200, public.text
    body = public.json()
    assert body["name"] == "Ana Lima"
    assert body["bio"] == "Mangroves."
    assert body["events"][0]["slug"] == "wcc-test"
    assert body["events"][0]["rank"] == 1
    assert "email" not in body
    items, _ = event_leaderboard(db, event)
    assert items[0].name == "Ana Lima"

    assert ana.client.patch("/api/v1/me/profile", json={"public_listing": False}).status_code == 200
    db.expire_all()
    assert_problem(api_client.get(f"/api/v1/reporters/{reporter.id}"), 404)
    items, _ = event_leaderboard(db, event)
    assert items[0].as_json()["reporter"] == {"id": reporter.id, "name": None}
    assert items[0].rank == 1
    assert_problem(ana.client.patch("/api/v1/me/profile", json={"name": ""}), 422)
    assert_problem(ana.client.patch("/api/v1/me/profile", json={"email": "x@y.z"}), 422)


def test_profile_routes_need_a_reporter(login_as, api_client, assert_problem):
    assert_problem(api_client.get("/api/v1/me/profile"), 401)
    judge = login_as(Role.JUDGE)
    assert_problem(judge.client.get("/api/v1/me/profile"), 403)
    assert_problem(api_client.get("/api/v1/reporters/999999"), 404)


# --- linking --------------------------------------------------------------------------------


def test_link_shows_code_and_how_to_post_it_and_a_clash_reveals_nobody(login_as, db, assert_problem):
    ana, bo = login_as(Role.REPORTER), login_as(Role.REPORTER)
    account = link(ana, "mastodon:@Ana@Social.Example")
    assert account["state"] == "pending"
    assert account["account"] == "mastodon:ana@social.example"
    code = account["verification_code"]
    assert code.startswith("BIE-")
    assert len(code) == 13
    assert f"Post this from the account, publicly, with #iucncec: {code}" in account["instructions"]

    clash = assert_problem(
        bo.client.post("/api/v1/me/accounts", json={"account": "mastodon:ana@social.example"}), 409
    )
    ana_reporter = reporter_of(db, ana.user)
    for secret in (ana.user.email, ana.user.name, str(ana_reporter.id)):
        assert secret not in clash["detail"]
    assert_problem(
        ana.client.post("/api/v1/me/accounts", json={"account": "mastodon:ana@social.example"}), 409
    )
    assert_problem(ana.client.post("/api/v1/me/accounts", json={"account": "myspace:ana"}), 422)
    assert_problem(ana.client.post("/api/v1/me/accounts", json={"account": "x:" + "a" * 30}), 422)

    listed = ana.client.get("/api/v1/me/accounts").json()
    assert listed["count"] == 1
    assert listed["data"][0]["verification_code"] == code
    assert_problem(bo.client.delete(f"/api/v1/me/accounts/{account['id']}"), 404)  # not bo's
    assert_problem(bo.client.post(f"/api/v1/me/accounts/{account['id']}/code"), 404)
    assert ana.client.delete(f"/api/v1/me/accounts/{account['id']}").status_code == 204
    assert link(bo, "mastodon:ana@social.example")["state"] == "pending"  # free again


def test_an_expired_link_does_not_hold_the_handle(login_as, db):
    ana, bo = login_as(Role.REPORTER), login_as(Role.REPORTER)
    account = link(ana, "bluesky:ana.bsky.social")
    row = db.get(Account, account["id"])
    row.code_expires_at = datetime.now(UTC) - timedelta(minutes=1)
    db.add(row)
    db.commit()
    taken = link(bo, "bluesky:ana.bsky.social")
    assert taken["verification_code"] != account["verification_code"]
    assert ana.client.get("/api/v1/me/accounts").json()["count"] == 0
    assert bo.client.get("/api/v1/me/accounts").json()["count"] == 1
    release = db.exec(select(AuditEntry).where(AuditEntry.action == "account.release")).one()
    assert release.actor_id == bo.user.id


def test_link_re_attributes_stored_posts_and_unlink_detaches_them(login_as, db):
    ana = login_as(Role.REPORTER)
    key = "mastodon:ana@social9.example"
    upsert_posts(db, source_id=None, posts=[collected(key, 1), collected(key, 2)], now=datetime.now(UTC))
    db.commit()
    assert {p.reporter_id for p in db.exec(select(Post).where(Post.author_key == key))} == {None}
    account = link(ana, key)
    db.expire_all()
    reporter = reporter_of(db, ana.user)
    posts = db.exec(select(Post).where(Post.author_key == key)).all()
    assert {(p.reporter_id, p.account_id) for p in posts} == {(reporter.id, account["id"])}
    assert ana.client.delete(f"/api/v1/me/accounts/{account['id']}").status_code == 204
    db.expire_all()
    assert {(p.reporter_id, p.account_id) for p in db.exec(select(Post).where(Post.author_key == key))} == {
        (None, None)
    }


# --- verification ---------------------------------------------------------------------------


def test_verify_now_with_the_post_url(login_as, db, mastodon_server, assert_problem):
    add_source(db, mastodon_server)
    ana = login_as(Role.REPORTER)
    account = link(ana, mastodon_server.account_key)
    code = account["verification_code"]
    verify = f"/api/v1/me/accounts/{account['id']}/verify"

    no_code = mastodon_server.post("Hello from the Congress #iucncec")
    problem = assert_problem(ana.client.post(verify, json={"url": no_code}), 422)
    assert f"does not contain the code {code}" in problem["detail"]
    someone_else = mastodon_server.post(f"Verifying {code} #iucncec", author=1)
    problem = assert_problem(ana.client.post(verify, json={"url": someone_else}), 422)
    assert "not by" in problem["detail"]
    private = mastodon_server.post(f"Verifying {code} #iucncec", visibility="private")
    assert_problem(ana.client.post(verify, json={"url": private}), 422)
    assert_problem(ana.client.post(verify, json={"url": "ftp://example.org/x"}), 422)

    good = mastodon_server.post(f"Verifying my account for BlogItEarnIt: {code}")  # verify-now needs no tag
    response = ana.client.post(verify, json={"url": good})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "verified"
    assert body["verified_method"] == "post"
    assert body["verification_code"] is None
    assert body["instructions"] is None
    entry = db.exec(
        select(AuditEntry).where(
            AuditEntry.action == "account.verify", AuditEntry.target_id == str(account["id"])
        )
    ).one()
    assert entry.detail["evidence"] == good
    assert entry.actor_id == ana.user.id
    assert_problem(ana.client.post(f"/api/v1/me/accounts/{account['id']}/code"), 409)


def test_an_expired_code_is_refused_until_a_new_one_is_issued(login_as, db, mastodon_server, assert_problem):
    add_source(db, mastodon_server)
    ana = login_as(Role.REPORTER)
    account = link(ana, mastodon_server.account_key)
    row = db.get(Account, account["id"])
    row.code_expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.add(row)
    db.commit()
    url = mastodon_server.post(f"Code {account['verification_code']} #iucncec")
    problem = assert_problem(
        ana.client.post(f"/api/v1/me/accounts/{account['id']}/verify", json={"url": url}), 422
    )
    assert "expired" in problem["detail"]

    fresh = ana.client.post(f"/api/v1/me/accounts/{account['id']}/code").json()
    assert fresh["verification_code"] != account["verification_code"]
    old = ana.client.post(f"/api/v1/me/accounts/{account['id']}/verify", json={"url": url})
    assert_problem(old, 422)  # the old code no longer works
    url = mastodon_server.post(f"Code {fresh['verification_code']} #iucncec")
    verified = ana.client.post(f"/api/v1/me/accounts/{account['id']}/verify", json={"url": url})
    assert verified.json()["state"] == "verified"


def test_staff_verify_and_reject_need_a_reason_and_are_audited(login_as, db, assert_problem):
    ana, staff = login_as(Role.REPORTER), login_as(Role.STAFF)
    account = link(ana, "x:ana_lima")
    path = f"/api/v1/accounts/{account['id']}"
    assert_problem(ana.client.post(f"{path}/verify", json={"reason": "me"}), 403)
    assert_problem(staff.client.post(f"{path}/verify", json={"reason": ""}), 422)
    assert_problem(staff.client.post(f"{path}/verify", json={"reason": "   "}), 422)
    assert_problem(staff.client.post("/api/v1/accounts/999999/verify", json={"reason": "x"}), 404)
    queue = staff.client.get("/api/v1/accounts", params={"state": "pending"}).json()
    assert account["id"] in [a["id"] for a in queue["data"]]
    assert all(a["verification_code"] is None for a in queue["data"])  # staff never see codes

    verified = staff.client.post(f"{path}/verify", json={"reason": "checked by video call"})
    assert verified.status_code == 200, verified.text
    assert verified.json()["verified_method"] == "staff"
    assert_problem(staff.client.post(f"{path}/verify", json={"reason": "again"}), 409)
    rejected = staff.client.post(f"{path}/reject", json={"reason": "impersonation report"})
    assert rejected.json()["state"] == "rejected"
    actions = {
        e.action: e
        for e in db.exec(
            select(AuditEntry).where(
                AuditEntry.target_type == "account", AuditEntry.target_id == str(account["id"])
            )
        )
    }
    assert actions["account.verify"].actor_role == "staff"
    assert actions["account.verify"].detail["evidence"] == "checked by video call"
    assert actions["account.reject"].detail["reason"] == "impersonation report"
    assert actions["account.reject"].address is not None
    assert_problem(ana.client.post(f"/api/v1/me/accounts/{account['id']}/code"), 409)


# --- claims ----------------------------------------------------------------------------------


def claim(actor, url: str, **extra) -> dict:
    response = actor.client.post("/api/v1/me/claims", json={"url": url, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def test_claims_accepted_and_rejected_with_reasons(login_as, db, mastodon_server, assert_problem):
    add_source(db, mastodon_server)
    ana = login_as(Role.REPORTER)
    make_event(db, "claims-event")
    account = link(ana, mastodon_server.account_key)
    tagged = mastodon_server.post(f"{LONG} #NatureForAll")

    unverified = claim(ana, tagged)
    assert unverified["state"] == "rejected"
    assert "not verified" in unverified["reason"]

    verify_url = mastodon_server.post(f"code {account['verification_code']}")
    assert (
        ana.client.post(f"/api/v1/me/accounts/{account['id']}/verify", json={"url": verify_url}).status_code
        == 200
    )

    accepted = claim(ana, tagged, event="claims-event")
    assert accepted["state"] == "accepted", accepted
    assert accepted["event"] == "claims-event"
    db.expire_all()
    post = db.get(Post, accepted["post_id"])
    reporter = reporter_of(db, ana.user)
    assert post.claimed_by == reporter.id
    assert post.reporter_id == reporter.id
    assert post.account_id == account["id"]

    no_tag = claim(ana, mastodon_server.post(LONG))
    assert no_tag["state"] == "rejected"
    assert "neither #iucncec nor #NatureForAll" in no_tag["reason"]
    wrong_author = claim(ana, mastodon_server.post(f"{LONG} #iucncec", author=1))
    assert wrong_author["state"] == "rejected"
    assert "not one of your linked accounts" in wrong_author["reason"]
    for target in (
        "http://127.0.0.1:9/internal",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x",
    ):
        refused = claim(ana, target)
        assert refused["state"] == "rejected", refused
        assert "refused" in refused["reason"]
    assert_problem(ana.client.post("/api/v1/me/claims", json={"url": "file:///etc/passwd"}), 422)
    assert_problem(ana.client.post("/api/v1/me/claims", json={"url": tagged, "event": "nope"}), 404)

    page = ana.client.get("/api/v1/me/claims", params={"limit": 2}).json()
    assert page["count"] == 7
    assert len(page["data"]) == 2
    assert page["data"][0]["id"] > page["data"][1]["id"]
    bo = login_as(Role.REPORTER)
    assert bo.client.get("/api/v1/me/claims").json() == {"data": [], "count": 0}


def test_claims_are_rate_limited_per_reporter(login_as, db, monkeypatch, assert_problem):
    monkeypatch.setattr(identity, "CLAIMS_PER_HOUR", 2)
    ana, bo = login_as(Role.REPORTER), login_as(Role.REPORTER)
    for _ in range(2):
        claim(ana, "http://127.0.0.1:9/x")
    problem = assert_problem(ana.client.post("/api/v1/me/claims", json={"url": "http://127.0.0.1:9/x"}), 429)
    assert "at most 2 claims an hour" in problem["detail"]
    claim(bo, "http://127.0.0.1:9/x")  # per reporter
    assert db.exec(select(PostClaim)).all().__len__() == 3


# --- export and deletion ------------------------------------------------------------------------


def scored_reporter(login_as, db) -> tuple[object, Reporter, Event, str]:
    """A reporter with a verified account, three counted posts, registered for an event."""
    ana, staff = login_as(Role.REPORTER), login_as(Role.STAFF)
    key = "mastodon:ana@social9.example"
    account = link(ana, key)
    staff.client.post(f"/api/v1/accounts/{account['id']}/verify", json={"reason": "known person"})
    reporter = reporter_of(db, ana.user)
    event = make_event(db)
    register(session=db, reporter=reporter, event=event)
    upsert_posts(db, source_id=None, posts=[collected(key, n) for n in range(1, 4)], now=datetime.now(UTC))
    while rescore_pending(db):
        pass
    rescore_event(db, event)
    db.commit()
    return ana, reporter, event, key


def test_export_holds_everything_about_the_reporter(login_as, db):
    ana, reporter, event, key = scored_reporter(login_as, db)
    claim(ana, "http://127.0.0.1:9/x")
    data = ana.client.get("/api/v1/me/export").json()
    assert data["profile"]["id"] == reporter.id
    assert data["profile"]["email"] == ana.user.email
    assert data["user"]["email"] == ana.user.email
    assert [a["account"] for a in data["accounts"]] == [key]
    assert data["registrations"][0]["event"] == event.slug
    assert len(data["posts"]) == 3
    verdict = data["posts"][0]["verdicts"][0]
    assert verdict["event"] == event.slug
    assert verdict["counted"] is True
    assert verdict["points"] > 0
    assert data["claims"][0]["state"] == "rejected"
    actions = {e["action"] for e in data["audit"]}
    assert {"reporter.create", "account.link", "account.verify"} <= actions
    staff_entry = next(e for e in data["audit"] if e["action"] == "account.verify")
    assert staff_entry["by_you"] is False
    assert staff_entry["address"] is None
    assert data["subsidies"] == []


def test_deletion_stops_posts_counting_and_signing_in(login_as, db, client_factory, assert_problem):
    ana, reporter, event, key = scored_reporter(login_as, db)
    bo = login_as(Role.REPORTER)
    register(session=db, reporter=reporter_of(db, bo.user), event=event)
    rescore_event(db, event)
    db.commit()
    items, total = event_leaderboard(db, event)
    assert [i.reporter_id for i in items] == [reporter.id, reporter_of(db, bo.user).id]
    assert items[0].score > 0

    email, name = ana.user.email, ana.user.name
    wrong = ana.client.request("DELETE", "/api/v1/me", json={"password": "not it"})
    assert_problem(wrong, 403)
    assert_problem(ana.client.request("DELETE", "/api/v1/me", json={}), 422)
    gone = ana.client.request("DELETE", "/api/v1/me", json={"password": PASSWORD})
    assert gone.status_code == 204, gone.text

    db.expire_all()
    items, total = event_leaderboard(db, event)
    assert total == 1
    assert [i.reporter_id for i in items] == [reporter_of(db, bo.user).id]
    assert db.exec(select(Post).where(Post.author_key == key)).all() == []
    assert db.exec(select(Account).where(Account.reporter_id == reporter.id)).all() == []
    row = db.get(Reporter, reporter.id)
    assert row.deleted_at is not None
    assert row.email is None
    assert row.name == "deleted reporter"
    assert_problem(ana.client.get("/api/v1/me/profile"), 401)  # session ended with the user
    login = client_factory().post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert_problem(login, 401)
    entry = db.exec(select(AuditEntry).where(AuditEntry.action == "reporter.delete")).one()
    assert entry.target_id == str(reporter.id)
    assert entry.detail == {"requested_by": "reporter"}
    assert email not in str(entry.detail)
    assert name not in str(entry.detail)
    assert all(email not in str(e.detail) for e in db.exec(select(AuditEntry)))
    assert_problem(client_factory().get(f"/api/v1/reporters/{reporter.id}"), 404)
    # the handle is free again for its real owner
    assert link(bo, key)["state"] == "pending"


def test_staff_delete_a_reporter_on_request(login_as, db, assert_problem):
    ana, staff = login_as(Role.REPORTER), login_as(Role.STAFF)
    reporter = reporter_of(db, ana.user)
    assert_problem(ana.client.delete(f"/api/v1/reporters/{reporter.id}"), 403)
    assert staff.client.delete(f"/api/v1/reporters/{reporter.id}").status_code == 204
    assert_problem(staff.client.delete(f"/api/v1/reporters/{reporter.id}"), 404)
    entry = db.exec(select(AuditEntry).where(AuditEntry.action == "reporter.delete")).one()
    assert entry.actor_id == staff.user.id
    assert entry.actor_role == "staff"
    assert entry.detail == {"requested_by": "staff"}
    db.expire_all()
    assert db.get(User, ana.user.id).is_active is False


@pytest.mark.parametrize("path", ["/api/v1/me/export", "/api/v1/me/accounts", "/api/v1/me/claims"])
def test_me_routes_need_sign_in(api_client, assert_problem, path):
    assert_problem(api_client.get(path), 401)
