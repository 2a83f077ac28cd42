"""Pure scoring library: versioned rules + post facts -> verdicts, scores, eligibility, judging.

No database and no imports from `app` or `collectors` (DESIGN §2).
"""

from scoring.eligibility import (
    Criterion,
    CriterionCode,
    Eligibility,
    assess_eligibility,
    minor_unit,
    subsidy_amount,
)
from scoring.engine import (
    EventResult,
    Extension,
    ExtensionNeeds,
    LeaderboardEntry,
    PostVerdict,
    ReporterResult,
    ScoreBreakdown,
    StoredPost,
    coverage_window,
    extend_reporter,
    extension_candidates,
    extension_needs,
    post_day,
    rank_leaderboard,
    registered_verified_keys,
    score_event,
    score_reporter,
    score_unowned_posts,
)
from scoring.judging import (
    JudgedEntry,
    JudgeScore,
    RubricCriterion,
    aggregate_judging,
    judge_entry_score,
)
from scoring.model import EventSpec, PostFacts, PostKind, ReporterFacts, Visibility
from scoring.rules import (
    RulesError,
    RuleSet,
    UnknownRulesVersion,
    available_versions,
    load_rules,
    rules_toml_text,
)
from scoring.snapshot import canonical_json, snapshot_hash
from scoring.text import TextFacts, analyse_text
from scoring.verdicts import REASON_TEXT, Reason, reason_words

__all__ = [
    "REASON_TEXT",
    "Criterion",
    "CriterionCode",
    "Eligibility",
    "EventResult",
    "EventSpec",
    "Extension",
    "ExtensionNeeds",
    "JudgeScore",
    "JudgedEntry",
    "LeaderboardEntry",
    "PostFacts",
    "PostKind",
    "PostVerdict",
    "Reason",
    "ReporterFacts",
    "ReporterResult",
    "RubricCriterion",
    "RuleSet",
    "RulesError",
    "ScoreBreakdown",
    "StoredPost",
    "TextFacts",
    "UnknownRulesVersion",
    "Visibility",
    "aggregate_judging",
    "analyse_text",
    "assess_eligibility",
    "available_versions",
    "canonical_json",
    "coverage_window",
    "extend_reporter",
    "extension_candidates",
    "extension_needs",
    "judge_entry_score",
    "load_rules",
    "minor_unit",
    "post_day",
    "rank_leaderboard",
    "reason_words",
    "registered_verified_keys",
    "rules_toml_text",
    "score_event",
    "score_reporter",
    "score_unowned_posts",
    "snapshot_hash",
    "subsidy_amount",
]
