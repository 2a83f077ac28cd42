"""Verification codes found by the collector (end to end against the simulator), the rules of a
code post, and where a fetch of an untrusted URL may go."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, select

from app.audit.models import AuditEntry
from app.core.db import make_engine
from app.core.errors import InvalidInput
from app.ingest.models import Post, Source
from app.ingest.service import collect_source
from app.reporters import identity
from app.reporters.models import Account, VerificationState
from app.reporters.service import add_reporter, parse_account
from collectors.base import CollectedPost, Platform, Visibility
from tests.reporters.reporters_helpers import Mastodon


def test_the_collector_finds_the_code_and_verifies_the_account(fresh_db_url, mastodon_server: Mastodon):
    engine = make_engine(fresh_db_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            reporter = add_reporter(session=session, name="Ana", email="ana@example.org", accounts=[])
            account = identity.link_account(
                session=session,
                reporter=reporter,
                account_text=mastodon_server.account_key,
                actor_id=None,
                actor_role="reporter",
            )
            source = Source(
                platform="mastodon",
                url=mastodon_server.base_url,
                tags=["iucncec", "NatureForAll"],
                trusted=True,
                name="sim",
            )
            session.add(source)
            session.commit()
            code, account_id, source_id = account.verification_code, account.id, source.id
        earlier = mastodon_server.post("Mangroves matter, a long post without any code #iucncec")
        untagged = mastodon_server.post(f"My code is {code} #NatureForAll")  # needs #iucncec
        first = collect_source(engine=engine, source_id=source_id, force=True)
        assert first.status == "ok", first.error
        with Session(engine) as session:
            assert session.get(Account, account_id).state == VerificationState.PENDING

        tagged = mastodon_server.post(f"Verifying for BlogItEarnIt {code} #IUCNCEC")
        second = collect_source(engine=engine, source_id=source_id, force=True)
        assert second.status == "ok", second.error
        with Session(engine) as session:
            stored = session.get(Account, account_id)
            assert stored.state == VerificationState.VERIFIED
            assert stored.verified_method == "post"
            assert stored.verification_code is None
            entry = session.exec(
                select(AuditEntry).where(
                    AuditEntry.action == "account.verify", AuditEntry.target_id == str(account_id)
                )
            ).one()
            assert entry.actor_id is None
            assert entry.actor_role == "system"
            assert entry.detail["evidence"] == tagged
            posts = session.exec(select(Post).where(Post.author_key == mastodon_server.account_key)).all()
            assert {p.url for p in posts} >= {earlier, untagged, tagged}
            assert {p.account_id for p in posts} == {account_id}
    finally:
        engine.dispose()


T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def code_post(**changes) -> CollectedPost:
    post = CollectedPost(
        platform=Platform.MASTODON,
        global_key="https://s.example/users/ana/statuses/1",
        local_id="1",
        url="https://s.example/@ana/1",
        author_key="mastodon:ana@s.example",
        author_name="Ana",
        created_at=T0,
        text="Verifying BIE-AAAA-BBBB #iucncec",
        tags=("iucncec",),
    )
    return replace(post, **changes)


def pending_account(**changes) -> Account:
    account = Account(
        reporter_id=1,
        platform="mastodon",
        account_key="mastodon:ana@s.example",
        handle="ana@s.example",
        state=VerificationState.PENDING,
        verification_code="BIE-AAAA-BBBB",
        code_expires_at=T0 + timedelta(days=1),
    )
    for name, value in changes.items():
        setattr(account, name, value)
    return account


@given(
    by_author=st.booleans(),
    has_code=st.booleans(),
    public=st.booleans(),
    tagged=st.booleans(),
    live=st.booleans(),
    via_alias=st.booleans(),
    lower_case=st.booleans(),
)
def test_a_post_verifies_exactly_when_every_condition_holds(
    by_author, has_code, public, tagged, live, via_alias, lower_case
):
    code = "BIE-AAAA-BBBB"
    text = ("hello " + (code.lower() if lower_case else code) if has_code else "hello") + (
        " #IucnCec" if tagged else ""
    )
    author = "mastodon:ana@s.example" if by_author else "mastodon:bo@s.example"
    post = code_post(
        text=text,
        tags=(),
        author_key="bluesky:did:plc:x" if via_alias else author,
        author_aliases=(author,) if via_alias else (),
        visibility=Visibility.PUBLIC if public else Visibility.UNLISTED,
    )
    account = pending_account(code_expires_at=T0 + (timedelta(days=1) if live else -timedelta(seconds=1)))
    verdict = identity.check_code_post(account, post, now=T0, need_tag=True)
    assert (verdict is None) == (by_author and has_code and public and tagged and live)
    without_tag = identity.check_code_post(account, post, now=T0, need_tag=False)
    assert (without_tag is None) == (by_author and has_code and public and live)


def test_a_bluesky_account_is_matched_by_its_did_once_known():
    spec = parse_account("bluesky:ana.bsky.social")
    account = pending_account(platform="bluesky", account_key=spec.account_key, handle="ana.bsky.social")
    post = code_post(platform=Platform.BLUESKY, author_key="bluesky:did:plc:abc")
    assert not identity.is_by(account, post)
    assert identity.is_by(account, replace(post, author_aliases=("bluesky:ana.bsky.social",)))
    account.did = "did:plc:abc"
    assert identity.is_by(account, post)


def test_blog_keys_match_after_normalising_the_feed_url():
    account = pending_account(platform="blog", account_key="blog:https://ana.example/feed/")
    post = code_post(platform=Platform.BLOG, author_key="blog:HTTPS://Ana.Example/feed/")
    assert identity.is_by(account, post)


def test_detection_ignores_pages_without_codes_and_other_accounts(session: Session):
    reporter = add_reporter(session=session, name="Ana", email=None, accounts=["mastodon:ana@s.example"])
    account = session.exec(select(Account).where(Account.reporter_id == reporter.id)).one()
    assert identity.detect_verification_codes(session, [code_post(text="no code #iucncec")]) == []
    other_code = code_post(text="Verifying BIE-ZZZZ-ZZZZ #iucncec")
    assert identity.detect_verification_codes(session, [other_code]) == []
    mine = code_post(text=f"Verifying {account.verification_code} #iucncec")
    assert identity.detect_verification_codes(session, [mine]) == [account]
    assert account.state == VerificationState.VERIFIED


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/@ana/1",
        "http://localhost:8080/@ana/1",
        "http://10.1.2.3/@ana/1",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/@ana/1",
    ],
)
def test_without_a_source_an_untrusted_mastodon_server_must_be_public(session: Session, url: str):
    with pytest.raises(InvalidInput, match="refused|non-public|resolve"):
        identity.lookup_configs(session, Platform.MASTODON, url)


def test_loopback_is_trusted_only_on_the_origin_of_a_trusted_source(session: Session):
    session.add(Source(platform="blog", url="http://127.0.0.1:8765/blogs/a/feed", trusted=True, tags=[]))
    session.flush()
    ((same, _),) = identity.lookup_configs(session, Platform.BLOG, "http://127.0.0.1:8765/blogs/a/post-1")
    assert same.trusted
    ((other, source_id),) = identity.lookup_configs(session, Platform.BLOG, "http://127.0.0.1:8766/x")
    assert not other.trusted
    assert source_id is None


@pytest.mark.parametrize(
    "url", ["", "javascript:alert(1)", "http://", "http://user:pw@example.org/x", "x" * 2001]
)
def test_bad_urls_are_invalid_input(url: str):
    with pytest.raises(InvalidInput):
        identity.check_url(url)
