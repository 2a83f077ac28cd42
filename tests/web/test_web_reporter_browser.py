"""The reporter pages in a real browser (Chromium via Playwright) against a live server and a simulated
Mastodon server on loopback: sign up, link and verify an account, register, see verdicts in words;
consent, export and keyboard-only use."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from app.events import service as events_service
from app.ingest.models import Source
from app.ingest.service import collect_source
from app.reporters import service as reporters_service
from app.reporters.models import Account, Reporter
from app.scoring.service import rescore_dirty
from app.users import service as users_service
from app.users.models import Role
from simulator.app import Simulator
from simulator.mastodon import MastodonSim
from tests.web.conftest import PASSWORD
from tests.web.web_factories import add_post, make_event, rescore

pytestmark = pytest.mark.browser

LONG_POST = (
    "Mangrove restoration in the lagoon: rangers and youth volunteers mapped 40 hectares today #iucncec"
)
SHORT_POST = "Great panel! #iucncec"


@dataclass
class SimMastodon:
    server: MastodonSim
    base_url: str  # what the source points at

    @property
    def handle(self) -> str:
        person = self.server.pool.people[0]
        return f"{person.username}@{self.server.pool.domains[person.home]}"

    def post(self, text: str) -> str:
        """Publish a public status from person 0; return its web URL."""
        url = self.server.status_url(self.server.add_post(author=0, text=text))
        assert url is not None
        return url


@pytest.fixture
def sim_mastodon() -> Iterator[SimMastodon]:
    server = MastodonSim("social1", posts=0, seed=11)
    simulator = Simulator()
    simulator.add("/mastodon/social1", server)
    handle = simulator.serve().start()
    try:
        yield SimMastodon(server, f"{handle.url}/mastodon/social1")
    finally:
        handle.stop()


def log_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))


def test_a_reporter_signs_up_verifies_mastodon_registers_and_reads_the_verdicts(
    page, live_server, sim_mastodon
):
    with live_server.session() as session:
        make_event(session, slug="wcc", name="World Conservation Congress")
        source = Source(
            platform="mastodon", url=sim_mastodon.base_url, tags=["iucncec"], trusted=True, name="sim"
        )
        session.add(source)
        session.commit()
        source_id = source.id

    # sign up and log in
    page.goto("/signup")
    page.get_by_label("Name").fill("Rita Reporter")
    page.get_by_label("Email").fill("rita@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/login?registered=1")
    log_in(page, "rita@example.org")

    # link the Mastodon account: the page shows the one-time code and how to post it
    page.get_by_role("link", name="My reporting").click()
    page.get_by_role("navigation", name="My reporting").get_by_role("link", name="Accounts").click()
    page.get_by_label("Platform").select_option("mastodon")
    page.get_by_role("textbox", name="Account").fill(sim_mastodon.handle)
    page.get_by_role("button", name="Link account").click()
    page.wait_for_url("**/me/accounts?done=linked*")
    assert page.get_by_role("status").inner_text().endswith("is linked. Publish the code below to verify it.")
    code = page.locator("[data-code]").inner_text()
    assert re.fullmatch(r"BIE-[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    assert page.get_by_text(f"Verifying my account for BlogItEarnIt: {code} #iucncec").is_visible()

    # post the code from the simulated account, then "verify now" with the post's URL
    code_url = sim_mastodon.post(f"{code} #iucncec")
    page.get_by_label("Address (URL) of the post with the code").fill(code_url)
    page.get_by_role("button", name="Verify now").click()
    page.wait_for_url("**/me/accounts?done=verified*")
    assert "is verified. Its posts can count now." in page.get_by_role("status").inner_text()
    assert page.locator(".state-badge").inner_text() == "Verified"

    # register from the event page
    page.goto("/events/wcc")
    page.get_by_role("button", name="Register for this event").click()
    page.wait_for_url("**/me/events/wcc?done=registered")
    assert page.get_by_role("status").inner_text() == "You are registered for World Conservation Congress."

    # the account posts; collection and scoring run
    sim_mastodon.post(LONG_POST)
    sim_mastodon.post(SHORT_POST)
    run = collect_source(engine=live_server.engine, source_id=source_id, force=True)
    assert run.status == "ok", run.error
    assert rescore_dirty(engine=live_server.engine) >= 1

    page.goto("/me/events/wcc")
    counted = page.locator("li.post.counted")
    refused = page.locator("li.post.not-counted")
    assert counted.count() == 1
    assert "Mangrove restoration in the lagoon" in counted.inner_text()
    assert "Counts: 1.000 points" in counted.inner_text()
    assert refused.count() == 2  # the short post and the code post itself
    short = refused.filter(has_text="Great panel!")
    assert "Does not count" in short.inner_text()
    assert "The post is too short" in short.locator(".reasons").inner_text()
    assert page.locator(".standing-facts").get_by_text("1 of 1").is_visible()
    assert page.get_by_text("4 more posts", exact=True).is_visible()
    assert page.locator("svg.score-chart").is_visible()
    page.get_by_label("Show").select_option("not_counted")
    page.get_by_role("button", name="Show", exact=True).click()
    page.wait_for_url("**/me/events/wcc?show=not_counted*")
    assert page.locator("li.post.counted").count() == 0
    assert page.locator("li.post.not-counted").count() == 2


def _seed_ranked_reporter(live_server) -> None:
    with live_server.session() as session:
        event = make_event(session, slug="wcc", name="Congress")
        user = users_service.create_user(
            session=session, email="rita@example.org", password=PASSWORD, role=Role.REPORTER, name="Rita"
        )
        reporter = reporters_service.add_reporter(
            session=session,
            name="Rita Reporter",
            email=user.email,
            accounts=["x:rita_reports"],
            verified=True,
            user_id=user.id,
        )
        events_service.register(
            session=session, reporter=reporter, event=event, at=datetime.now(UTC) - timedelta(days=3)
        )
        add_post(session, author_key="x:rita_reports")
        rescore(session, event)
        session.commit()


def _tab_to(page, selector: str, limit: int = 40) -> None:
    """Press Tab until the element matching ``selector`` has the focus (fail after ``limit`` presses)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    pytest.fail(f"Tab never reached {selector}")


def test_keyboard_only_consent_hides_the_name_and_the_export_downloads(page, live_server, tmp_path: Path):
    _seed_ranked_reporter(live_server)
    log_in(page, "rita@example.org")
    assert "Rita Reporter" in page.request.get(live_server.url + "/events/wcc/leaderboard").text()

    # keyboard only: from the top of the profile page to the listing choice, change it, save
    page.goto("/me/profile")
    _tab_to(page, "#f-listing-public")
    page.keyboard.press("ArrowDown")  # within the radio group: the next choice, anonymous
    assert page.locator("#f-listing-anonymous").is_checked()
    _tab_to(page, "form[action='/me/profile'] button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/me/profile?done=saved")
    assert page.get_by_role("status").inner_text() == "Your profile is saved."

    page.goto("/events/wcc/leaderboard")
    row = page.locator("table.leaderboard tbody tr")
    assert row.count() == 1
    assert "Anonymous reporter" in row.inner_text()
    assert "Rita Reporter" not in page.content()

    # the keyboard also reaches the accounts form and the claim form
    page.goto("/me/accounts")
    _tab_to(page, "#f-handle")
    page.goto("/me/claims")
    _tab_to(page, "#f-url")

    # the export downloads one JSON document about this reporter
    page.goto("/me/profile")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download my data (JSON)").click()
    download = info.value
    assert download.suggested_filename.startswith("blogitearnit-my-data-")
    target = tmp_path / "export.json"
    download.save_as(target)
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["profile"]["name"] == "Rita Reporter"
    assert document["profile"]["public_listing"] is False
    assert [a["account"] for a in document["accounts"]] == ["x:rita_reports"]
    with live_server.session() as session:
        reporter = session.exec(select(Reporter).where(Reporter.name == "Rita Reporter")).one()
        assert session.exec(select(Account).where(Account.reporter_id == reporter.id)).one()
