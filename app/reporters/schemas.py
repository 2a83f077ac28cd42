"""Request and response shapes of the reporter routes (profile, accounts, claims, privacy)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.core.api import SafeStr
from app.ingest.models import PostClaim
from app.reporters.identity import instructions
from app.reporters.models import Account, Reporter, VerificationState
from collectors.base import Platform

Url = Annotated[SafeStr, Field(min_length=1, max_length=2000, examples=["https://mastodon.social/@ana/1"])]
Reason = Annotated[SafeStr, Field(min_length=1, max_length=1000)]


class ProfilePublic(BaseModel):
    """The signed-in reporter's own profile."""

    id: int
    name: str
    email: str | None
    bio: str
    public_listing: bool = Field(description="False: anonymous listing (rank and score shown, name hidden).")
    created_at: datetime


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[SafeStr, Field(min_length=1, max_length=200)] | None = None
    bio: Annotated[SafeStr, Field(max_length=2000)] | None = None
    public_listing: bool | None = None


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: Annotated[
        SafeStr, Field(min_length=3, max_length=600, examples=["mastodon:ana@mastodon.social"])
    ]


class AccountPublic(BaseModel):
    """A linked account as its owner sees it (the code is shown while it is pending)."""

    id: int
    platform: str
    account: str
    handle: str
    state: VerificationState
    verification_code: str | None
    code_expires_at: datetime | None
    instructions: str | None
    verified_at: datetime | None
    verified_method: str | None
    created_at: datetime


class StaffAccountPublic(AccountPublic):
    reporter_id: int


class VerifyNowRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url


class StaffDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class PublicAccount(BaseModel):
    platform: str
    handle: str


class PublicEventStanding(BaseModel):
    slug: str
    name: str
    rank: int | None
    score: float | None
    posts_counted: int | None


class ReporterPublicProfile(BaseModel):
    """A publicly listed reporter."""

    id: int
    name: str
    bio: str
    accounts: list[PublicAccount]
    events: list[PublicEventStanding]


class ClaimCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    event: Annotated[SafeStr, Field(min_length=1, max_length=64, description="Event slug.")] | None = None
    platform: Platform | None = Field(default=None, description="Only when the URL does not make it clear.")


class ClaimPublic(BaseModel):
    id: int
    url: str
    event: str | None
    state: str
    reason: str | None
    post_id: int | None
    created_at: datetime
    decided_at: datetime | None


class DeleteMeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Annotated[SafeStr, Field(min_length=1, max_length=1024)]


def profile_public(reporter: Reporter) -> ProfilePublic:
    return ProfilePublic(
        id=reporter.id or 0,
        name=reporter.name,
        email=reporter.email,
        bio=reporter.bio,
        public_listing=reporter.public_listing,
        created_at=reporter.created_at,
    )


def account_fields(account: Account) -> dict[str, Any]:
    pending = account.state == VerificationState.PENDING
    return {
        "id": account.id or 0,
        "platform": account.platform,
        "account": account.account_key,
        "handle": account.handle,
        "state": VerificationState(account.state),
        "verification_code": account.verification_code if pending else None,
        "code_expires_at": account.code_expires_at if pending else None,
        "instructions": instructions(account),
        "verified_at": account.verified_at,
        "verified_method": account.verified_method,
        "created_at": account.created_at,
    }


def account_public(account: Account) -> AccountPublic:
    return AccountPublic(**account_fields(account))


def staff_account_public(account: Account) -> StaffAccountPublic:
    """Staff see the state but never the code (they could otherwise post it themselves)."""
    fields = account_fields(account) | {"verification_code": None, "instructions": None}
    return StaffAccountPublic(**fields, reporter_id=account.reporter_id)


def claim_public(claim: PostClaim, event_slug: str | None) -> ClaimPublic:
    return ClaimPublic(
        id=claim.id or 0,
        url=claim.url,
        event=event_slug,
        state=claim.state,
        reason=claim.reason,
        post_id=claim.post_id,
        created_at=claim.created_at,
        decided_at=claim.decided_at,
    )
