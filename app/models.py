"""Every table, imported once so ``SQLModel.metadata`` (and Alembic) sees the whole schema."""

from app.audit.models import AuditEntry
from app.events.models import Event, Registration
from app.ingest.models import (
    CollectorRun,
    Post,
    PostClaim,
    PostEngagement,
    PostSighting,
    Source,
)
from app.judging.models import (
    Freeze,
    JudgeConflict,
    JudgeScore,
    PrizeCategory,
    RubricCriterion,
    ShortlistEntry,
)
from app.reporters.models import Account, Reporter
from app.scoring.models import LeaderboardEntry, PostVerdict, RuleSet, ScoreDigest, ScoreDirty, ScoreHistory
from app.subsidies.models import Subsidy, SubsidyTransition
from app.users.models import ApiToken, LoginAttempt, User, WebSession

__all__ = [
    "Account",
    "ApiToken",
    "AuditEntry",
    "CollectorRun",
    "Event",
    "Freeze",
    "JudgeConflict",
    "JudgeScore",
    "LeaderboardEntry",
    "LoginAttempt",
    "Post",
    "PostClaim",
    "PostEngagement",
    "PostSighting",
    "PostVerdict",
    "PrizeCategory",
    "Registration",
    "Reporter",
    "RubricCriterion",
    "RuleSet",
    "ScoreDigest",
    "ScoreDirty",
    "ScoreHistory",
    "ShortlistEntry",
    "Source",
    "Subsidy",
    "SubsidyTransition",
    "User",
    "WebSession",
]
