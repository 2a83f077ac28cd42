"""The reporter pages over HTTP (no browser): dashboard, registration, accounts, standing, claims,
profile, export and deletion — who may see what, CSRF, errors next to fields, no 500 on any input."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from app.audit.models import AuditEntry
from app.events.models import Event, Registration
from app.ingest.models import PostClaim
from app.ingest.repository import upsert_posts
from app.reporters import identity
from app.reporters import service as reporters_service
from app.reporters.models import Account, Reporter, VerificationState
from app.scoring.models import ScoreDirty
from app.scoring.standing import CriterionPublic, HistoryPoint
from app.users import service as users_service
from app.users.models import Role, User
from app.web import reporter as web_reporter
from app.web.i18n import MESSAGES
from collectors.base import CollectedPost, Platform
from scoring.eligibility import CriterionCode
from scoring.verdicts import Reason
from tests.web.conftest import PASSWORD, form_token
from tests.web.web_factories import add_post, make_event, make_reporter, rescore

HTML = "text/html; charset=utf-8"
_TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_reporter_user(db, *, email="rita@example.org", name="Rita Reporter", public=True):
    user = users_service.create_user(
        session=db, email=email, password=PASSWORD, role=Role.REPORTER, name=name
    )
    reporter = reporters_service.add_reporter(
        session=db, name=name, email=email, accounts=[], user_id=user.id, public_listing=public
    )
    db.commit()
    return user, reporter


def log_in(client, email, password=PASSWORD):
    token = form_token(client, "/login")
    response = client.post("/login", data={"csrf_token": token, "email": email, "password": password})
    assert response.status_code == 303, response.text
    return client


def token_of(client, path="/me"):
    match = _TOKEN_RE.search(client.get(path).text)
    assert match, f"no form on {path}"
    return match.group(1)


@pytest.fixture
def rita(web_db, web_client_factory):
    user, reporter = make_reporter_user(web_db)
    client = log_in(web_client_factory(), user.email)
    return client, reporter


def field_error(html: str, field_id: str) -> str | None:
    """The error text shown next to the field ``field_id`` (its aria-describedby error), if any."""
    match = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">([^<]*)</p>', html)
    return match.group(1) if match else None


# --- who may look -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/me", "/me/accounts", "/me/claims", "/me/profile", "/me/export"])
def test_anonymous_viewers_are_sent_to_log_in_and_back(web_client, path):
    response = web_client.get(path)

    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}"


def test_users_without_a_reporter_profile_get_a_403_page(web_db, web_client):
    users_service.create_user(session=web_db, email="sam@example.org", password=PASSWORD, role=Role.STAFF)
    web_db.commit()
    log_in(web_client, "sam@example.org")

    response = web_client.get("/me")

    assert response.status_code == 403
    assert response.headers["content-type"] == HTML
    assert "no reporter profile" in response.text
    assert 'href="/me"' not in response.text  # the navigation offers the dashboard to reporters only


def test_the_dashboard_shows_each_event_with_rank_movement_and_score(web_db, rita):
    client, reporter = rita
    event = make_event(web_db, slug="wcc", name="Congress")
    other = make_event(web_db, slug="forum", name="Ocean Forum")
    reporters_service.add_account(
        session=web_db, reporter=reporter, spec=reporters_service.parse_account("x:rita_r"), verified=True
    )
    web_reporter.events_service.register(session=web_db, reporter=reporter, event=event)
    make_reporter(web_db, name="Ana", account="x:ana_a", event=event)
    for _ in range(2):
        add_post(web_db, author_key="x:rita_r")
    add_post(web_db, author_key="x:ana_a")
    rescore(web_db, event)
    web_db.commit()

    body = client.get("/me").text

    row = re.search(r'<tr data-event="wcc">(.*?)</tr>', body, re.S).group(1)
    assert "1 of 2" in row  # rank of ranked reporters
    assert "4.000" in row  # 2 posts + 2 for one event day covered
    assert "registered" in row
    assert 'href="/me/events/wcc"' in row
    assert "Verified accounts: 1" in body
    # the other event is open: a register button for it, none for the one already joined
    assert 'action="/events/forum/registration"' in body
    assert 'action="/events/wcc/registration"' not in body
    assert other.slug == "forum"
    assert '<a href="/me" aria-current="page">My reporting</a>' in body


# --- registration -----------------------------------------------------------------------------------


def test_a_reporter_registers_from_the_event_page_and_withdraws(web_db, rita):
    client, reporter = rita
    make_event(web_db, slug="wcc", name="Congress")
    web_db.commit()

    page = client.get("/events/wcc").text
    assert 'action="/events/wcc/registration"' in page
    token = _TOKEN_RE.search(page).group(1)

    response = client.post("/events/wcc/registration", data={"csrf_token": token})

    assert response.status_code == 303
    assert response.headers["location"] == "/me/events/wcc?done=registered"
    assert "You are registered for Congress." in client.get(response.headers["location"]).text
    registration = web_db.exec(select(Registration).where(Registration.reporter_id == reporter.id)).one()
    assert registration.withdrawn_at is None
    assert web_db.exec(select(ScoreDirty).where(ScoreDirty.reporter_id == reporter.id)).first() is not None
    entry = web_db.exec(select(AuditEntry).where(AuditEntry.action == "registration.create")).one()
    assert entry.actor_role == "reporter"
    assert entry.address == "198.51.100.20"
    assert 'action="/events/wcc/withdrawal"' in client.get("/events/wcc").text

    again = client.post("/events/wcc/registration", data={"csrf_token": token})
    assert again.headers["location"] == "/me/events/wcc?done=already"

    gone = client.post("/events/wcc/withdrawal", data={"csrf_token": token})
    assert gone.headers["location"] == "/me/events/wcc?done=withdrawn"
    web_db.expire_all()
    assert web_db.get(Registration, registration.id).withdrawn_at is not None
    assert "you can register again" in client.get("/events/wcc").text
    twice = client.post("/events/wcc/withdrawal", data={"csrf_token": token})
    assert twice.headers["location"] == "/me/events/wcc?done=not_registered"


def test_registration_needs_the_csrf_token_an_open_deadline_and_a_visible_event(web_db, rita):
    client, reporter = rita
    closed = make_event(web_db, slug="closed", name="Closed forum")
    closed.registration_deadline = datetime.now(UTC) - timedelta(hours=1)
    make_event(web_db, slug="draft", name="Draft", published=False)
    make_event(web_db, slug="open", name="Open forum")
    web_db.add(closed)
    web_db.commit()
    token = token_of(client)

    assert client.post("/events/open/registration", data={"csrf_token": "forged"}).status_code == 403
    assert client.post("/events/open/registration", data={}).status_code == 403
    late = client.post("/events/closed/registration", data={"csrf_token": token})
    assert late.status_code == 409
    assert "Registration for this event is closed." in late.text
    assert "Registration for this event is closed." in client.get("/events/closed").text
    assert client.post("/events/draft/registration", data={"csrf_token": token}).status_code == 404
    assert client.post("/events/nope/registration", data={"csrf_token": token}).status_code == 404
    assert client.post("/events/%00/registration", data={"csrf_token": token}).status_code == 404
    assert web_db.exec(select(Registration)).all() == []


def test_anonymous_viewers_see_a_log_in_link_instead_of_the_register_button(web_db, web_client):
    make_event(web_db, slug="wcc", name="Congress")
    web_db.commit()

    page = web_client.get("/events/wcc").text

    assert 'href="/login?next=/events/wcc"' in page
    assert "/registration" not in page
    assert web_client.get("/events/wcc/registration").headers["location"] == "/events/wcc"


# --- accounts ---------------------------------------------------------------------------------------


def test_linking_an_account_shows_the_code_and_how_to_post_it(web_db, rita):
    client, reporter = rita
    token = token_of(client, "/me/accounts")

    response = client.post(
        "/me/accounts", data={"csrf_token": token, "platform": "mastodon", "handle": "@Rita@Social.Example"}
    )

    assert response.status_code == 303
    account = web_db.exec(select(Account).where(Account.reporter_id == reporter.id)).one()
    assert account.account_key == "mastodon:rita@social.example"
    assert (
        response.headers["location"] == f"/me/accounts?done=linked&account={account.id}#account-{account.id}"
    )
    page = client.get(f"/me/accounts?done=linked&account={account.id}").text
    assert "Mastodon @Rita@Social.Example is linked." in page
    assert f'<code class="code" data-code>{account.verification_code}</code>' in page
    assert f"Verifying my account for BlogItEarnIt: {account.verification_code} #iucncec" in page
    assert "contains the code and the tag #iucncec" in page
    assert f'action="/me/accounts/{account.id}/verify"' in page
    assert "Waiting for verification" in page


@pytest.mark.parametrize(
    ("platform", "handle", "field", "words"),
    [
        ("mastodon", "", "f-handle", "Enter the account to link."),
        ("mastodon", "not a handle", "f-handle", "a Mastodon account is user@server"),
        ("myspace", "rita", "f-platform", "Choose a platform."),
        ("x", "rita\x00", "f-handle", "control characters"),
        ("blog", "javascript:alert(1)", "f-handle", "must be an http(s) URL"),
        ("bluesky", "x" * 600, "f-handle", "cannot be linked"),
    ],
)
def test_bad_accounts_are_refused_next_to_the_field(web_db, rita, platform, handle, field, words):
    client, reporter = rita
    token = token_of(client, "/me/accounts")

    response = client.post("/me/accounts", data={"csrf_token": token, "platform": platform, "handle": handle})

    assert response.status_code == 422
    assert words in (field_error(response.text, field) or "")
    assert 'aria-invalid="true"' in response.text
    assert web_db.exec(select(Account)).all() == []


def test_a_handle_someone_else_holds_is_a_409_that_names_nobody(web_db, rita):
    client, _ = rita
    make_reporter(web_db, name="Holder Person", account="x:taken_one")
    web_db.commit()
    token = token_of(client, "/me/accounts")

    response = client.post("/me/accounts", data={"csrf_token": token, "platform": "x", "handle": "taken_one"})

    assert response.status_code == 409
    assert "already linked to another reporter profile" in field_error(response.text, "f-handle")
    assert "Holder Person" not in response.text


def test_verify_now_new_code_and_remove_act_only_on_own_accounts(web_db, rita):
    client, reporter = rita
    own = identity.link_account(
        session=web_db, reporter=reporter, account_text="x:rita_r", actor_id=None, actor_role="reporter"
    )
    someone = make_reporter(web_db, name="Ana", account="x:ana_a")
    theirs = web_db.exec(select(Account).where(Account.reporter_id == someone.id)).one()
    web_db.commit()
    token = token_of(client, "/me/accounts")
    old_code, own_id = own.verification_code, own.id

    for action in ("verify", "code", "remove"):
        foreign = client.post(
            f"/me/accounts/{theirs.id}/{action}",
            data={"csrf_token": token, "url": "https://x.com/a/status/1"},
        )
        assert foreign.status_code == 404, action
    assert client.post("/me/accounts/0/remove", data={"csrf_token": token}).status_code == 422
    assert client.post("/me/accounts/abc/remove", data={"csrf_token": token}).status_code == 422

    empty = client.post(f"/me/accounts/{own_id}/verify", data={"csrf_token": token, "url": " "})
    assert empty.status_code == 422
    assert (
        field_error(empty.text, f"f-url-{own_id}") == "Paste the address of the post that carries the code."
    )
    # X posts are read through a configured source or token; there is none: refused in words, no 500
    refused = client.post(
        f"/me/accounts/{own_id}/verify", data={"csrf_token": token, "url": "https://x.com/rita_r/status/1"}
    )
    assert refused.status_code == 422
    assert field_error(refused.text, f"f-url-{own_id}").startswith("Not verified: ")
    assert 'value="https://x.com/rita_r/status/1"' in refused.text

    renewed = client.post(f"/me/accounts/{own_id}/code", data={"csrf_token": token})
    assert renewed.status_code == 303
    web_db.expire_all()
    assert web_db.get(Account, own_id).verification_code not in (None, old_code)
    assert "has a new code" in client.get(renewed.headers["location"]).text

    removed = client.post(f"/me/accounts/{own_id}/remove", data={"csrf_token": token})
    assert removed.headers["location"] == "/me/accounts?done=removed"
    web_db.expire_all()
    assert web_db.get(Account, own_id) is None
    assert web_db.get(Account, theirs.id) is not None
    assert "No account linked yet." in client.get("/me/accounts").text


def test_a_notice_link_cannot_name_someone_elses_account(web_db, rita):
    client, _ = rita
    someone = make_reporter(web_db, name="Ana", account="x:ana_a")
    theirs = web_db.exec(select(Account).where(Account.reporter_id == someone.id)).one()
    web_db.commit()

    page = client.get(f"/me/accounts?done=verified&account={theirs.id}").text

    assert "ana_a" not in page
    assert 'role="status"' not in page


def test_a_verified_account_shows_no_code_and_a_rejected_one_says_so(web_db, rita):
    client, reporter = rita
    verified = reporters_service.add_account(
        session=web_db, reporter=reporter, spec=reporters_service.parse_account("x:rita_r"), verified=True
    )
    rejected = reporters_service.add_account(
        session=web_db, reporter=reporter, spec=reporters_service.parse_account("bluesky:rita.bsky.social")
    )
    rejected.state = VerificationState.REJECTED
    rejected.verification_code = None
    web_db.add(rejected)
    web_db.commit()

    page = client.get("/me/accounts").text

    card = re.search(rf'id="account-{verified.id}".*?</li>', page, re.S).group(0)
    assert "Verified" in card
    assert "data-code" not in card
    assert "Programme staff rejected this account" in page
    assert (
        client.post(f"/me/accounts/{rejected.id}/code", data={"csrf_token": token_of(client)}).status_code
        == 409
    )


# --- standing -----------------------------------------------------------------------------------------


def _seed_standing(web_db, reporter, *, posts=3):
    event = make_event(web_db, slug="wcc", name="Congress")
    reporters_service.add_account(
        session=web_db, reporter=reporter, spec=reporters_service.parse_account("x:rita_r"), verified=True
    )
    web_reporter.events_service.register(
        session=web_db, reporter=reporter, event=event, at=datetime.now(UTC) - timedelta(days=5)
    )
    for _ in range(posts):
        add_post(web_db, author_key="x:rita_r")
    add_post(web_db, author_key="x:rita_r", text="Too short #iucncec")
    upsert_posts(
        web_db,
        source_id=None,
        posts=[
            CollectedPost(
                platform=Platform.X,
                global_key="https://x.com/rita_r/status/777",
                local_id="777",
                url="https://x.com/rita_r/status/777",
                author_key="x:rita_r",
                author_name=None,
                created_at=datetime.now(UTC) - timedelta(minutes=3),
                text="A long enough post about mangroves and seagrass, but with no programme tag",
            )
        ],
        now=datetime.now(UTC),
    )
    rescore(web_db, event)
    web_db.commit()
    return event


def test_the_standing_page_explains_every_verdict_and_the_eligibility_in_words(web_db, rita):
    client, reporter = rita
    _seed_standing(web_db, reporter)

    page = client.get("/me/events/wcc").text

    assert "My standing — Congress" in page
    assert "1 of 1" in page  # rank of ranked reporters
    assert page.count('class="post counted"') == 3
    assert page.count('class="post not-counted"') == 2
    assert "The post is too short" in page
    assert "does not carry #iucncec or #NatureForAll" in page
    assert "Counts: 1.000 points" in page
    # eligibility in words, with progress bars
    assert "3 of 5 posts" in page
    assert "2 more posts" in page
    assert "1 more blog article" in page
    assert "registered in time" in page
    assert re.search(r'<progress id="eligibility-progress" max="5" value="2">', page)
    assert '<progress max="5" value="3"' in page
    # breakdown and the score chart from the score history
    assert "How your score adds up" in page
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart score-chart"' in page
    assert "Score over time in Congress" in page
    assert 'action="/events/wcc/withdrawal"' in page


def test_the_post_list_filters_and_pages(web_db, rita):
    client, reporter = rita
    _seed_standing(web_db, reporter, posts=22)

    refused = client.get("/me/events/wcc?show=not_counted").text
    counted_first = client.get("/me/events/wcc?show=counted").text
    counted_second = client.get("/me/events/wcc?show=counted&page=2").text

    assert refused.count('class="post not-counted"') == 2
    assert 'class="post counted"' not in refused
    assert '<option value="not_counted" selected>Not counted (2)</option>' in refused
    assert counted_first.count('class="post counted"') == 20
    assert counted_second.count('class="post counted"') == 2
    assert "Page 2 of 2" in counted_second
    assert 'href="/me/events/wcc?show=counted&amp;page=1"' in counted_second
    # unknown filters show everything; bad page numbers are a 422 page, never a 500
    assert client.get("/me/events/wcc?show=<script>").text.count('class="post ') == 20
    assert client.get("/me/events/wcc?page=0").status_code == 422
    assert client.get("/me/events/wcc?page=abc").status_code == 422
    assert client.get("/me/events/wcc?page=999").status_code == 200


def test_the_standing_of_an_event_nobody_may_see_is_a_404(web_db, rita):
    client, _ = rita
    make_event(web_db, slug="draft", name="Draft", published=False)
    web_db.commit()

    assert client.get("/me/events/draft").status_code == 404
    assert client.get("/me/events/never").status_code == 404
    assert client.get("/me/events/" + "a" * 500).status_code == 404


def test_a_reporter_not_registered_is_told_so_and_offered_the_button(web_db, rita):
    client, _ = rita
    make_event(web_db, slug="wcc", name="Congress")
    web_db.commit()

    page = client.get("/me/events/wcc").text

    assert "You are not registered for this event" in page
    assert "not registered" in page
    assert 'action="/events/wcc/registration"' in page
    assert "No score history yet" in page


# --- claims -------------------------------------------------------------------------------------------


def test_a_claim_is_checked_and_its_outcome_shown_in_words(web_db, rita):
    client, reporter = rita
    event = _seed_standing(web_db, reporter, posts=1)
    token = token_of(client, "/me/claims")

    # a loopback address is refused by the fetch guard: stored as a rejected claim, with the reason
    response = client.post(
        "/me/claims", data={"csrf_token": token, "url": "http://127.0.0.1:9/post/1", "event": "wcc"}
    )

    assert response.status_code == 303
    claim = web_db.exec(select(PostClaim).where(PostClaim.reporter_id == reporter.id)).one()
    assert claim.state == "rejected"
    assert claim.event_id == event.id
    page = client.get(response.headers["location"]).text
    assert "The claim was not accepted:" in page
    assert re.search(rf'<tr data-claim="{claim.id}">.*?Congress.*?Not accepted', page, re.S)


@pytest.mark.parametrize(
    ("url", "event", "field", "words"),
    [
        ("", "", "f-url", "Paste the address of the post."),
        ("ftp://example.org/post", "", "f-url", "only http(s) URLs"),
        ("https://user:pw@example.org/", "", "f-url", "credentials"),
        ("https://example.org/\x00", "", "f-url", "control characters"),
        ("https://example.org/p", "someone-elses-event", "f-event", "Choose one of your events."),
    ],
)
def test_bad_claims_are_refused_next_to_the_field(web_db, rita, url, event, field, words):
    client, _ = rita
    token = token_of(client, "/me/claims")

    response = client.post("/me/claims", data={"csrf_token": token, "url": url, "event": event})

    assert response.status_code == 422
    assert words in (field_error(response.text, field) or "")
    assert web_db.exec(select(PostClaim)).all() == []


def test_claims_are_throttled_with_a_429_and_retry_after(web_db, rita):
    client, reporter = rita
    now = datetime.now(UTC)
    for i in range(identity.CLAIMS_PER_HOUR):
        web_db.add(
            PostClaim(
                reporter_id=reporter.id, url=f"https://example.org/{i}", created_at=now, state="rejected"
            )
        )
    web_db.commit()
    token = token_of(client, "/me/claims")

    response = client.post("/me/claims", data={"csrf_token": token, "url": "https://example.org/new"})

    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "Too many claims in the last hour" in field_error(response.text, "f-url")
    assert response.text.count("<tr data-claim=") == identity.CLAIMS_PER_HOUR


# --- profile, export, deletion ----------------------------------------------------------------------------


def test_anonymous_listing_hides_the_name_on_the_public_leaderboard(web_db, rita, web_client_factory):
    client, reporter = rita
    _seed_standing(web_db, reporter, posts=1)
    token = token_of(client, "/me/profile")

    response = client.post(
        "/me/profile", data={"csrf_token": token, "name": "Rita Reporter", "bio": "", "listing": "anonymous"}
    )

    assert response.headers["location"] == "/me/profile?done=saved"
    page = client.get("/me/profile?done=saved").text
    assert "Your profile is saved." in page
    assert 'value="anonymous" checked' in page
    board = web_client_factory().get("/events/wcc/leaderboard").text
    assert "Rita Reporter" not in board
    assert "Anonymous reporter" in board


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"name": " ", "listing": "public"}, "f-name", "Enter your name."),
        ({"name": "R" * 201, "listing": "public"}, "f-name", "at most 200"),
        ({"name": "Rita\x00", "listing": "public"}, "f-name", "control characters"),
        ({"name": "Rita", "bio": "b" * 2001, "listing": "public"}, "f-bio", "at most 2000"),
        ({"name": "Rita", "listing": "sometimes"}, "f-listing", "public or anonymous"),
    ],
)
def test_bad_profiles_are_refused_next_to_the_field(web_db, rita, data, field, words):
    client, reporter = rita
    token = token_of(client, "/me/profile")

    response = client.post("/me/profile", data={"csrf_token": token, **data})

    assert response.status_code == 422
    assert words in (field_error(response.text, field) or "")
    web_db.expire_all()
    assert web_db.get(Reporter, reporter.id).name == "Rita Reporter"


def test_the_export_is_a_json_download_of_ones_own_data(web_db, rita):
    client, reporter = rita
    _seed_standing(web_db, reporter, posts=1)

    response = client.get("/me/export")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"].startswith('attachment; filename="blogitearnit-my-data-')
    assert response.headers["cache-control"] == "no-store"
    document = json.loads(response.content)
    assert document["profile"]["id"] == reporter.id
    assert document["profile"]["email"] == "rita@example.org"
    assert len(document["posts"]) == 3


def test_deletion_needs_the_password_then_erases_and_signs_out(web_db, rita):
    client, reporter = rita
    _seed_standing(web_db, reporter, posts=1)
    token = token_of(client, "/me/profile")

    missing = client.post("/me/delete", data={"csrf_token": token, "password": ""})
    wrong = client.post("/me/delete", data={"csrf_token": token, "password": "not it"})

    assert missing.status_code == 422
    assert wrong.status_code == 403
    assert field_error(wrong.text, "f-password") == "The password is wrong: nothing was deleted."
    web_db.expire_all()
    assert web_db.get(Reporter, reporter.id).deleted_at is None

    done = client.post("/me/delete", data={"csrf_token": token, "password": PASSWORD})

    assert done.status_code == 200
    assert "Your data is deleted" in done.text
    assert "Signed in as" not in done.text
    assert 'bie_session=""' in done.headers["set-cookie"]
    web_db.expire_all()
    gone = web_db.get(Reporter, reporter.id)
    assert gone.deleted_at is not None
    assert gone.email is None
    assert web_db.exec(select(User).where(User.email == "rita@example.org")).first() is None
    assert client.get("/me").status_code == 303


# --- pure pieces -----------------------------------------------------------------------------------------


def test_every_reason_and_criterion_has_words_in_the_catalogue():
    assert all(f"reason.{reason.value}" in MESSAGES for reason in Reason)
    for code in CriterionCode:
        assert f"criterion.{code.value}.name" in MESSAGES


@pytest.mark.parametrize(
    ("code", "actual", "required", "words", "missing"),
    [
        ("posts", 3, 5, "3 of 5 posts", "2 more posts"),
        ("posts", 4, 5, "4 of 5 posts", "1 more post"),
        ("posts", 7, 5, "7 posts (5 needed)", None),
        ("event_days", 1, 2, "1 of 2 event days", "posts on 1 more event day"),
        ("event_days", 0, 1, "0 of 1 event day", "posts on 1 more event day"),
        ("blog_articles", 0, 1, "0 of 1 blog article", "1 more blog article"),
        ("verified_account", 0, 1, "0 of 1 verified account", "verify at least one account"),
    ],
)
def test_criteria_read_as_words(code, actual, required, words, missing):
    criterion = CriterionPublic(
        code=code, met=actual >= required, actual=actual, required=required, words="x", missing="y"
    )

    view = web_reporter.criterion_view(criterion, registered=True)

    assert (view.words, view.missing) == (words, missing)
    assert 0 <= view.actual <= view.required


def test_registration_criterion_says_whether_and_when():
    def view(met, registered):
        criterion = CriterionPublic(
            code="registered_in_time", met=met, actual=int(met), required=1, words="", missing=None
        )
        return web_reporter.criterion_view(criterion, registered=registered)

    assert view(False, False).missing == "register for the event before it starts"
    assert (view(False, True).words, view(False, True).missing) == ("registered after the event began", None)
    assert view(True, True).missing is None


T0 = datetime(2026, 5, 1, tzinfo=UTC)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, 10**7), st.integers(0, 10**8), st.integers(1, 10**4)),
        min_size=1,
        max_size=150,
    ),
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40),
)
def test_the_score_chart_is_well_formed_svg_with_one_dot_per_change(raw, name):
    history = [
        HistoryPoint(at=T0 + timedelta(seconds=s), score=score / 1000, score_thousandths=score, rank=rank)
        for s, score, rank in sorted(raw)
    ]
    event = Event(slug="e", name=name, timezone="Asia/Dubai")

    svg = web_reporter.score_chart(history, event=event, chart_id="c")

    root = ElementTree.fromstring(str(svg))  # escaped: parses whatever the event is called
    ns = "{http://www.w3.org/2000/svg}"
    assert root.find(f"{ns}title").text == f"Score over time in {name}"
    dots = root.findall(f"{ns}circle")
    assert len(dots) == (len(history) if len(history) <= web_reporter.CHART_DOTS_MAX else 0)
    for dot in dots:
        assert 0 <= float(dot.get("cx")) <= 720
        assert 0 <= float(dot.get("cy")) <= 240


def test_no_history_no_chart():
    assert web_reporter.score_chart([], event=None, chart_id="c") is None  # type: ignore[arg-type]
