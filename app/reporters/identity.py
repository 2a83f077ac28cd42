"""Account verification and missed-post claims (DESIGN §4, §8).

How an account becomes verified:

* **code found by the collector** — ``detect_verification_codes`` runs on every page that
  ``app.ingest.repository.upsert_posts`` writes: a public post by a PENDING account that carries
  ``#iucncec`` and that account's unexpired code verifies it (method ``post``, audited as ``system``);
* **verify now** — the reporter names the post (or, for a blog, any page of it) that carries the
  code; it is fetched through the platform's collector (``fetch_post``) and checked the same way,
  without the tag requirement (a blog's about page carries no hashtag);
* **staff** — by hand with a reason (``staff_verify``), or ``staff_reject``.

Linking or verifying an account re-attributes the posts already stored for its author key (and the
Bluesky DID) and marks the reporters involved dirty for scoring.

Which network a fetch may reach (``lookup_config``): the URL a reporter sends is untrusted.

* Mastodon: the status is looked up *through a Mastodon source staff configured* (the URL is only a
  search term there); only when none is configured is the post's own server asked, and then it
  must resolve to public addresses.
* Blog: the page itself is fetched; loopback/private addresses are allowed only when the URL's
  origin (scheme, host, port) equals that of a blog source marked trusted, else the collector's
  public-address guard applies (checked after DNS resolution, connection pinned).
* Bluesky and X: the URL is parsed, never fetched; the post is read through a configured source
  (Bluesky falls back to the public AppView, X needs the configured bearer token).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.core.db import table
from app.core.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from app.core.security import verification_code
from app.ingest.models import Post, PostClaim, Source
from app.reporters.models import Account, Reporter, VerificationState
from app.reporters.service import CODE_TTL, add_account, normalise_feed_url, parse_account, verify_account
from app.scoring.dirty import mark_dirty
from collectors.base import CollectedPost, CollectorError, Platform, SourceConfig, Visibility
from collectors.net import PublicAddressGuard, UnsafeAddress

POSTS = table(Post)
ACCOUNTS = table(Account)
CLAIMS = table(PostClaim)

CODE_RE = re.compile(r"BIE-[A-Z0-9]{4}-[A-Z0-9]{4}", re.IGNORECASE)
HASHTAG_RE = re.compile(r"(?<![\w/&])#(\w+)")
VERIFY_TAG = "iucncec"
PROGRAMME_TAGS = frozenset({"iucncec", "natureforall"})
MAX_PENDING_ACCOUNTS = 10  # per reporter: limits squatting other people's handles
MAX_MASTODON_LOOKUPS = 3  # Mastodon sources asked in turn for one URL
CLAIMS_PER_HOUR = 20
MAX_URL_LENGTH = 2000
PUBLIC_BLUESKY_APPVIEW = "https://public.api.bsky.app"
DEFAULT_X_API = "https://api.x.com"
X_HOSTS = frozenset({"x.com", "www.x.com", "twitter.com", "www.twitter.com", "mobile.twitter.com"})
BLUESKY_HOSTS = frozenset({"bsky.app", "www.bsky.app"})
MASTODON_PATH_RE = re.compile(r"^/(?:@[^/]+|users/[^/]+/statuses)/[^/]+/?$")

# --- matching a post to an account ----------------------------------------------------------------


def _fold(tag: str) -> str:
    return unicodedata.normalize("NFKC", tag.lstrip("#")).casefold()


def post_tags(post: CollectedPost) -> set[str]:
    """The post's platform tags and the #hashtags in its text, NFKC + case-folded."""
    tags = {_fold(t) for t in post.tags}
    tags.update(_fold(t) for t in HASHTAG_RE.findall(post.text or ""))
    return tags


def codes_in(text: str | None) -> set[str]:
    return {match.upper() for match in CODE_RE.findall(text or "")}


def _normal_key(key: str) -> str:
    if key.startswith("blog:"):
        try:
            return "blog:" + normalise_feed_url(key.removeprefix("blog:"))
        except InvalidInput:
            return key
    return key.lower()


def author_keys(post: CollectedPost) -> set[str]:
    return {_normal_key(k) for k in (post.author_key, *post.author_aliases) if k}


def account_keys(account: Account) -> set[str]:
    keys = {_normal_key(account.account_key)}
    if account.did:
        keys.add(f"bluesky:{account.did}")
    return keys


def is_by(account: Account, post: CollectedPost) -> bool:
    """Whether ``post`` was written by ``account`` (its key, an alias, or its Bluesky DID)."""
    return bool(account_keys(account) & author_keys(post))


def _code_live(account: Account, now: datetime) -> bool:
    expires = account.code_expires_at
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return account.verification_code is not None and (expires is None or expires > now)


# --- re-attribution ---------------------------------------------------------------------------------


def reattribute_posts(*, session: Session, account: Account) -> int:
    """Point stored posts by this account's author key (or DID) at it; mark reporters dirty."""
    keys = {account.account_key} | ({f"bluesky:{account.did}"} if account.did else set())
    p = POSTS.c
    stale = p.author_key.in_(keys) & (
        p.account_id.is_(None)
        | (p.account_id != account.id)
        | p.reporter_id.is_(None)
        | (p.reporter_id != account.reporter_id)
    )
    previous = set(session.execute(sa.select(p.reporter_id).distinct().where(stale)).scalars())
    result = session.execute(
        update(POSTS).where(stale).values(account_id=account.id, reporter_id=account.reporter_id)
    )
    changed = int(result.rowcount or 0)  # type: ignore[attr-defined]  # CursorResult of an UPDATE
    mark_dirty(session, [*previous, account.reporter_id])
    return changed


def detach_posts(*, session: Session, account: Account) -> None:
    """Unlink the account's stored posts from it and from its reporter (they stop counting)."""
    session.execute(
        update(POSTS).where(POSTS.c.account_id == account.id).values(account_id=None, reporter_id=None)
    )
    mark_dirty(session, [account.reporter_id])


# --- linking ----------------------------------------------------------------------------------------


def _releasable(account: Account, now: datetime) -> bool:
    """A rejected link, or a pending one whose code expired, does not hold the handle any more."""
    if account.state == VerificationState.REJECTED:
        return True
    return account.state == VerificationState.PENDING and not _code_live(account, now)


def link_account(
    *, session: Session, reporter: Reporter, account_text: str, actor_id: int | None, actor_role: str | None
) -> Account:
    """Link ``platform:handle`` to the reporter as a pending account with a fresh code."""
    spec = parse_account(account_text)
    now = datetime.now(UTC)
    clash = session.exec(
        select(Account).where(
            (col(Account.account_key) == spec.account_key)
            | (col(Account.did).is_not(None) & (col(Account.did) == (spec.did or "")))
        )
    ).first()
    if clash is not None:
        if clash.reporter_id == reporter.id:
            raise Conflict(f"you have already linked {spec.account_key}")
        if not _releasable(clash, now):
            # Never say whose it is: the same answer whoever holds it.
            raise Conflict(f"{spec.account_key} is already linked to another reporter profile")
        detach_posts(session=session, account=clash)
        audit.record(
            session=session,
            action="account.release",
            actor_id=actor_id,
            actor_role=actor_role,
            target_type="account",
            target_id=clash.id,
            detail={"state": clash.state, "reason": "stale pending or rejected link taken over"},
        )
        session.delete(clash)
        session.flush()
    pending = session.execute(
        sa.select(func.count())
        .select_from(ACCOUNTS)
        .where(ACCOUNTS.c.reporter_id == reporter.id, ACCOUNTS.c.state == VerificationState.PENDING)
    ).scalar_one()
    if pending >= MAX_PENDING_ACCOUNTS:
        raise InvalidInput(
            f"you have {pending} accounts waiting for verification: verify or remove some first"
        )
    account = add_account(session=session, reporter=reporter, spec=spec)
    audit.record(
        session=session,
        action="account.link",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="account",
        target_id=account.id,
        detail={"reporter_id": reporter.id, "platform": account.platform},
    )
    reattribute_posts(session=session, account=account)
    return account


def unlink_account(
    *, session: Session, account: Account, actor_id: int | None, actor_role: str | None
) -> None:
    """Remove a linked account; its posts stop counting for the reporter."""
    detach_posts(session=session, account=account)
    audit.record(
        session=session,
        action="account.unlink",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="account",
        target_id=account.id,
        detail={"reporter_id": account.reporter_id, "platform": account.platform},
    )
    session.delete(account)
    session.flush()


def regenerate_code(*, session: Session, account: Account) -> Account:
    """Give a pending account a new one-time code (the old one stops working)."""
    if account.state == VerificationState.VERIFIED:
        raise Conflict("this account is already verified")
    if account.state == VerificationState.REJECTED:
        raise Conflict("staff rejected this account: remove it, or ask staff")
    account.verification_code = verification_code()
    account.code_expires_at = datetime.now(UTC) + CODE_TTL
    session.add(account)
    session.flush()
    return account


def instructions(account: Account) -> str | None:
    """How to publish the code, in words (None once nothing is to be done)."""
    if account.state != VerificationState.PENDING or not account.verification_code:
        return None
    code = account.verification_code
    if account.platform == Platform.BLOG:
        return (
            f"Publish this on your blog, in a post or on its about page: {code} — then use "
            "'verify now' with that page's URL (a post tagged iucncec is also found by the collector)."
        )
    return (
        f"Post this from the account, publicly, with #iucncec: {code} — the collector finds it, "
        "or use 'verify now' with the post's URL."
    )


# --- verification -------------------------------------------------------------------------------


def _take_did(session: Session, account: Account, post: CollectedPost) -> None:
    """Learn a Bluesky account's DID from the post that verified it (posts are keyed by DID)."""
    if account.platform != Platform.BLUESKY or account.did:
        return
    did = post.author_key.removeprefix("bluesky:")
    if not did.startswith("did:"):
        return
    other = session.exec(select(Account).where(Account.did == did, Account.id != account.id)).first()
    if other is not None:
        raise Conflict("this Bluesky identity is already linked to another reporter profile")
    account.did = did
    session.add(account)


def check_code_post(account: Account, post: CollectedPost, *, now: datetime, need_tag: bool) -> str | None:
    """Why ``post`` cannot verify ``account`` (in words), or None when it can."""
    if account.state == VerificationState.REJECTED:
        return "staff rejected this account"
    if not account.verification_code:
        return "this account has no verification code: ask for a new one"
    if not _code_live(account, now):
        return "the verification code has expired: ask for a new one"
    if not is_by(account, post):
        return f"the post is by {post.author_key}, not by {account.account_key}"
    if post.visibility != Visibility.PUBLIC:
        return "the post is not public"
    if account.verification_code.upper() not in codes_in(post.text):
        return f"the post does not contain the code {account.verification_code}"
    if need_tag and VERIFY_TAG not in post_tags(post):
        return "the post does not carry #iucncec"
    return None


def _verify_by_post(
    session: Session,
    account: Account,
    post: CollectedPost,
    *,
    actor_id: int | None,
    actor_role: str | None,
) -> Account:
    _take_did(session, account, post)
    verify_account(
        session=session,
        account=account,
        method="post" if post.platform != Platform.BLOG else "profile",
        actor_id=actor_id,
        actor_role=actor_role,
        evidence=post.url or post.global_key,
    )
    account.code_expires_at = None
    session.add(account)
    session.flush()
    reattribute_posts(session=session, account=account)
    return account


def detect_verification_codes(
    session: Session, posts: Sequence[CollectedPost], *, now: datetime | None = None
) -> list[Account]:
    """Verify pending accounts whose code appears in a public, #iucncec-tagged post of theirs."""
    with_codes = [(post, codes) for post in posts if (codes := codes_in(post.text))]
    if not with_codes:  # the common case costs one regex scan per post, no query
        return []
    now = now or datetime.now(UTC)
    wanted = set().union(*(codes for _, codes in with_codes))
    pending = session.exec(
        select(Account).where(
            col(Account.state) == VerificationState.PENDING, col(Account.verification_code).in_(wanted)
        )
    ).all()
    verified: list[Account] = []
    for account in pending:
        for post, codes in with_codes:
            if (account.verification_code or "").upper() not in codes:
                continue
            if check_code_post(account, post, now=now, need_tag=True) is not None:
                continue
            try:
                with session.begin_nested():
                    _verify_by_post(session, account, post, actor_id=None, actor_role="system")
            except Conflict:
                continue  # a DID already linked elsewhere: leave it pending for staff
            verified.append(account)
            break
    return verified


def verify_now(
    *,
    session: Session,
    account: Account,
    url: str,
    actor_id: int | None,
    actor_role: str | None,
    collector_options: dict[str, Any] | None = None,
) -> Account:
    """Fetch the post at ``url`` and verify the account when it carries the code."""
    if account.state == VerificationState.VERIFIED:
        return account
    now = datetime.now(UTC)
    if not _code_live(account, now) and account.state == VerificationState.PENDING:
        raise InvalidInput("the verification code has expired: ask for a new one")
    fetched = fetch_post(
        session=session, platform=Platform(account.platform), url=url, collector_options=collector_options
    )
    problem = check_code_post(account, fetched.post, now=now, need_tag=False)
    if problem is not None:
        raise InvalidInput(f"{url} does not verify this account: {problem}")
    return _verify_by_post(session, account, fetched.post, actor_id=actor_id, actor_role=actor_role)


def staff_verify(
    *, session: Session, account: Account, reason: str, actor_id: int, actor_role: str
) -> Account:
    """Verify an account by a staff decision (audited with the reason)."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a staff verification needs a reason")
    if account.state == VerificationState.VERIFIED:
        raise Conflict("this account is already verified")
    verify_account(
        session=session,
        account=account,
        method="staff",
        actor_id=actor_id,
        actor_role=actor_role,
        evidence=reason,
    )
    account.code_expires_at = None
    session.add(account)
    session.flush()
    reattribute_posts(session=session, account=account)
    return account


def staff_reject(
    *, session: Session, account: Account, reason: str, actor_id: int, actor_role: str
) -> Account:
    """Reject an account (it never counts; its handle may then be linked by someone else)."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a rejection needs a reason")
    if account.state == VerificationState.REJECTED:
        raise Conflict("this account is already rejected")
    previous = account.state
    account.state = VerificationState.REJECTED
    account.verification_code = None
    account.code_expires_at = None
    account.verified_at = None
    account.verified_method = None
    account.verified_by = actor_id
    session.add(account)
    session.flush()
    mark_dirty(session, [account.reporter_id])
    audit.record(
        session=session,
        action="account.reject",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="account",
        target_id=account.id,
        detail={"reporter_id": account.reporter_id, "previous_state": previous, "reason": reason},
    )
    return account


# --- fetching one post by URL -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fetched:
    post: CollectedPost
    source_id: int | None  # the source it was read through (for later re-checks), if any


def _origin(url: str) -> tuple[str, str, int | None]:
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        return parts.scheme.lower(), (parts.hostname or "").lower(), port
    except ValueError:
        return "", "", None


def check_url(url: str) -> str:
    """A clean http(s) URL, or InvalidInput."""
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"a URL of 1–{MAX_URL_LENGTH} characters is needed")
    if url.startswith("at://"):
        return url
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise InvalidInput(f"not a valid URL: {url[:200]!r}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"only http(s) URLs can be fetched, got {url[:200]!r}")
    if parts.username or parts.password:
        raise InvalidInput("a URL with credentials in it is not accepted")
    return url


def _sources(session: Session, platform: Platform) -> list[Source]:
    return list(
        session.exec(
            select(Source)
            .where(col(Source.platform) == platform.value, col(Source.enabled).is_(True))
            .order_by(col(Source.id))
        ).all()
    )


def lookup_configs(session: Session, platform: Platform, url: str) -> list[tuple[SourceConfig, int | None]]:
    """The configurations to try, in order, to read the post at ``url`` (see the module docstring)."""
    from app.ingest.service import source_config  # here: app.ingest imports this module

    sources = _sources(session, platform)
    origin = _origin(url)
    same_origin = [s for s in sources if _origin(s.url) == origin]
    if platform is Platform.BLOG:
        trusted = [s for s in same_origin if s.trusted]
        if trusted:
            return [(source_config(trusted[0]), trusted[0].id)]
        return [
            (SourceConfig(Platform.BLOG, url=url, trusted=False, timeout_s=15.0, max_bytes=2_000_000), None)
        ]
    if platform is Platform.MASTODON:
        ordered = same_origin + [s for s in sources if s not in same_origin]
        if ordered:
            return [(source_config(s), s.id) for s in ordered[:MAX_MASTODON_LOOKUPS]]
        try:
            PublicAddressGuard().check_url(url)
        except UnsafeAddress as exc:
            raise InvalidInput(f"{exc.reason}") from None
        server = f"{origin[0]}://{urlsplit(url).netloc}"
        return [(SourceConfig(Platform.MASTODON, url=server, tags=(VERIFY_TAG,), timeout_s=15.0), None)]
    if platform is Platform.BLUESKY:
        if sources:
            return [(source_config(sources[0]), sources[0].id)]
        return [(SourceConfig(Platform.BLUESKY, url=PUBLIC_BLUESKY_APPVIEW, tags=(VERIFY_TAG,)), None)]
    if sources:
        return [(source_config(sources[0]), sources[0].id)]
    config = source_config(Source(platform=Platform.X.value, url=DEFAULT_X_API, tags=[]))
    if not config.token:
        raise InvalidInput("X posts cannot be looked up here: no X API token is configured")
    return [(config, None)]


def describe_fetch_error(exc: CollectorError) -> str:
    if isinstance(exc, UnsafeAddress):
        # the address may be the post's or, for Mastodon, that of the server it is looked up on
        return f"the address {exc.url} was refused: {exc.why}"
    reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    return f"the post could not be read: {reason}"


def fetch_post(
    *,
    session: Session,
    platform: Platform,
    url: str,
    collector_options: dict[str, Any] | None = None,
) -> Fetched:
    """Read one post by URL through its platform's collector; InvalidInput says why it failed."""
    from collectors.registry import collector_for

    url = check_url(url)
    configs = lookup_configs(session, platform, url)
    collector = collector_for(platform, **(collector_options or {}))
    failure: CollectorError | None = None
    try:
        for config, source_id in configs:
            try:
                return Fetched(collector.fetch_url(config, url), source_id)
            except CollectorError as exc:
                failure = exc
                if isinstance(exc, UnsafeAddress):
                    break
    finally:
        close = getattr(collector, "close", None)
        if callable(close):
            close()
    assert failure is not None
    raise InvalidInput(describe_fetch_error(failure))


def guess_platform(session: Session, reporter: Reporter, url: str) -> Platform:
    """Which platform a claimed URL is on: by its host, the staff's sources, the reporter's accounts."""
    if url.startswith("at://"):
        return Platform.BLUESKY
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in BLUESKY_HOSTS:
        return Platform.BLUESKY
    if host in X_HOSTS:
        return Platform.X
    origin = _origin(url)
    for source in session.exec(select(Source).where(col(Source.enabled).is_(True))).all():
        if _origin(source.url) == origin and source.platform in (Platform.MASTODON, Platform.BLOG):
            return Platform(source.platform)
    accounts = session.exec(select(Account).where(Account.reporter_id == reporter.id)).all()
    for account in accounts:
        if account.platform == Platform.MASTODON and account.account_key.endswith(f"@{host}"):
            return Platform.MASTODON
        if account.platform == Platform.BLOG and _origin(account.account_key.removeprefix("blog:")) == origin:
            return Platform.BLOG
    if MASTODON_PATH_RE.match(parts.path or ""):
        return Platform.MASTODON
    return Platform.BLOG


# --- missed-post claims -------------------------------------------------------------------------------


def _check_claim_rate(session: Session, reporter: Reporter, now: datetime) -> None:
    """At most CLAIMS_PER_HOUR claims per reporter per rolling hour (the reporter row is locked)."""
    lock = sa.select(table(Reporter).c.id).where(table(Reporter).c.id == reporter.id)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(lock.with_for_update())
    since = now - timedelta(hours=1)
    recent = list(
        session.execute(
            sa.select(CLAIMS.c.created_at)
            .where(CLAIMS.c.reporter_id == reporter.id, CLAIMS.c.created_at > since)
            .order_by(CLAIMS.c.created_at)
        ).scalars()
    )
    if len(recent) >= CLAIMS_PER_HOUR:
        oldest = recent[-CLAIMS_PER_HOUR]
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
        wait = max(1, int((oldest + timedelta(hours=1) - now).total_seconds()) + 1)
        raise TooManyRequests(
            f"at most {CLAIMS_PER_HOUR} claims an hour; try again in {wait} seconds", retry_after_s=wait
        )


def judge_claim(session: Session, reporter: Reporter, post: CollectedPost) -> str | None:
    """Why the fetched post cannot be claimed by the reporter (in words), or None."""
    accounts = session.exec(select(Account).where(Account.reporter_id == reporter.id)).all()
    mine = [a for a in accounts if is_by(a, post)]
    if not mine:
        return f"the post is by {post.author_key}, which is not one of your linked accounts"
    if not any(a.state == VerificationState.VERIFIED for a in mine):
        return f"{post.author_key} is not verified yet: verify the account first"
    if not PROGRAMME_TAGS & post_tags(post):
        return "the post carries neither #iucncec nor #NatureForAll"
    if post.kind == "repost":
        return "boosts, reposts and retweets cannot be claimed"
    return None


def submit_claim(
    *,
    session: Session,
    reporter: Reporter,
    url: str,
    event_id: int | None = None,
    platform: Platform | None = None,
    collector_options: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> PostClaim:
    """Fetch a post the collectors missed; store it like a collected post when it checks out."""
    from app.ingest.repository import upsert_posts  # here: app.ingest imports this module

    now = now or datetime.now(UTC)
    url = check_url(url)
    _check_claim_rate(session, reporter, now)
    claim = PostClaim(reporter_id=reporter.id, event_id=event_id, url=url, created_at=now)  # type: ignore[arg-type]  # stored reporters have ids
    reason: str | None
    fetched: Fetched | None
    try:
        fetched = fetch_post(
            session=session,
            platform=platform or guess_platform(session, reporter, url),
            url=url,
            collector_options=collector_options,
        )
    except InvalidInput as exc:
        fetched, reason = None, exc.detail
    else:
        reason = judge_claim(session, reporter, fetched.post)
    if fetched is not None and reason is None:
        upsert_posts(session, source_id=fetched.source_id, posts=[fetched.post], now=now)
        post_id = session.execute(
            sa.select(POSTS.c.id).where(
                POSTS.c.platform == fetched.post.platform.value, POSTS.c.global_key == fetched.post.global_key
            )
        ).scalar_one()
        session.execute(
            update(POSTS)
            .where(POSTS.c.id == post_id, POSTS.c.claimed_by.is_(None))
            .values(claimed_by=reporter.id)
        )
        claim.post_id = post_id
        claim.state = "accepted"
        claim.reason = "the post was fetched and is stored; it is scored like any collected post"
    else:
        claim.state = "rejected"
        claim.reason = (reason or "rejected")[:1000]
    claim.decided_at = now
    session.add(claim)
    session.flush()
    return claim


def list_claims(
    *, session: Session, reporter: Reporter, offset: int, limit: int
) -> tuple[list[PostClaim], int]:
    """The reporter's claims, newest first."""
    where = col(PostClaim.reporter_id) == reporter.id
    total = session.execute(
        sa.select(func.count()).select_from(CLAIMS).where(CLAIMS.c.reporter_id == reporter.id)
    ).scalar_one()
    rows = session.exec(
        select(PostClaim).where(where).order_by(col(PostClaim.id).desc()).offset(offset).limit(limit)
    ).all()
    return list(rows), int(total)


def get_own_account(*, session: Session, reporter: Reporter, account_id: int) -> Account:
    """One of the reporter's accounts (404 for anyone else's)."""
    account = session.get(Account, account_id)
    if account is None or account.reporter_id != reporter.id:
        raise NotFound("account", account_id)
    return account


def list_accounts(
    *, session: Session, reporter_id: int | None = None, state: str | None = None, offset: int, limit: int
) -> tuple[list[Account], int]:
    """Accounts (of one reporter and/or in one state), by id."""
    conditions: list[Any] = []
    if reporter_id is not None:
        conditions.append(ACCOUNTS.c.reporter_id == reporter_id)
    if state is not None:
        conditions.append(ACCOUNTS.c.state == state)
    total = session.execute(sa.select(func.count()).select_from(ACCOUNTS).where(*conditions)).scalar_one()
    query = select(Account)
    if reporter_id is not None:
        query = query.where(col(Account.reporter_id) == reporter_id)
    if state is not None:
        query = query.where(col(Account.state) == state)
    rows = session.exec(query.order_by(col(Account.id)).offset(offset).limit(limit)).all()
    return list(rows), int(total)
