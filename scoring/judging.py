"""Judge aggregation (DESIGN §7): rubric scores, per-judge normalisation, combined ranking.

Judges' entry scores are z-scores per judge so that a harsh or lenient judge does not move an
entry by temperament; the automatic scores are z-scored across the shortlist so both parts are on
the same scale before the configured weight mixes them. All arithmetic is Decimal (50 digits),
and every reported figure is rounded half-even to 9 decimal places, so results are reproducible.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from scoring.snapshot import canonical_json, snapshot_hash

__all__ = [
    "JudgeScore",
    "JudgedEntry",
    "RubricCriterion",
    "aggregate_judging",
    "canonical_json",
    "judge_entry_score",
    "snapshot_hash",
    "z_scores",
]

MIN_RUBRIC_SCORE = 1
MAX_RUBRIC_SCORE = 5
_PRECISION = 50
_REPORTED = Decimal("1e-9")


@dataclass(frozen=True, kw_only=True, slots=True)
class RubricCriterion:
    """One rubric criterion with a positive weight."""

    key: str
    weight: Decimal
    label: str = ""


@dataclass(frozen=True, kw_only=True)
class JudgeScore:
    """One judge's rubric scores (1–5 per criterion key) for one shortlisted entry."""

    judge_id: int
    entry_id: int
    scores: Mapping[str, int]


@dataclass(frozen=True, kw_only=True, slots=True)
class JudgedEntry:
    """One entry's combined result; `position` is 1…N, `shared_rank` equal for tied entries."""

    entry_id: int
    position: int
    shared_rank: int
    tied: bool
    combined: Decimal
    judge_component: Decimal
    automatic_component: Decimal
    automatic_score: int
    judge_count: int
    judge_entry_scores: tuple[tuple[int, Decimal], ...]


def _reported(value: Decimal) -> Decimal:
    reported = value.quantize(_REPORTED, rounding=ROUND_HALF_EVEN)
    return reported.copy_abs() if reported.is_zero() else reported  # no "-0" in snapshots


def judge_entry_score(*, rubric: Sequence[RubricCriterion], scores: Mapping[str, int]) -> Decimal:
    """Return the weighted mean of one judge's rubric scores for one entry (full precision)."""
    keys = [criterion.key for criterion in rubric]
    if set(scores) != set(keys):
        raise ValueError(f"scores must cover exactly the rubric criteria {sorted(keys)}")
    for key, score in scores.items():
        if isinstance(score, bool) or not MIN_RUBRIC_SCORE <= score <= MAX_RUBRIC_SCORE:
            raise ValueError(f"criterion {key!r}: score {score!r} is not 1..5")
    with localcontext() as context:
        context.prec = _PRECISION
        total_weight = sum((criterion.weight for criterion in rubric), Decimal(0))
        weighted = sum((criterion.weight * scores[criterion.key] for criterion in rubric), Decimal(0))
        return weighted / total_weight


def z_scores(values: Mapping[int, Decimal]) -> dict[int, Decimal]:
    """Return (x − mean) / population std for each value; all 0 for one value or no spread."""
    if len(values) < 2:
        return dict.fromkeys(values, Decimal(0))
    with localcontext() as context:
        context.prec = _PRECISION
        count = Decimal(len(values))
        mean = sum(values.values(), Decimal(0)) / count
        variance = sum(((value - mean) ** 2 for value in values.values()), Decimal(0)) / count
        if variance == 0:
            return dict.fromkeys(values, Decimal(0))
        spread = variance.sqrt()
        return {key: (value - mean) / spread for key, value in values.items()}


def _validate_rubric(rubric: Sequence[RubricCriterion]) -> None:
    if not rubric:
        raise ValueError("a rubric needs at least one criterion")
    keys = [criterion.key for criterion in rubric]
    if len(set(keys)) != len(keys):
        raise ValueError("rubric criterion keys must be unique")
    if any(not criterion.weight.is_finite() or criterion.weight <= 0 for criterion in rubric):
        raise ValueError("rubric weights must be positive")


def aggregate_judging(
    *,
    rubric: Sequence[RubricCriterion],
    automatic_scores: Mapping[int, int],
    judge_scores: Iterable[JudgeScore],
    automatic_weight: Decimal,
) -> list[JudgedEntry]:
    """Combine per-judge normalised rubric scores with normalised automatic scores, best first.

    `automatic_scores` maps every shortlisted entry id to its automatic score; a recused judge
    simply has no score for that entry. An entry no judge scored gets a judge component of 0.
    """
    _validate_rubric(rubric)
    if not automatic_weight.is_finite() or not 0 <= automatic_weight <= 1:
        raise ValueError("automatic_weight must be between 0 and 1")

    by_judge: dict[int, dict[int, Decimal]] = defaultdict(dict)
    for judge_score in judge_scores:
        if judge_score.entry_id not in automatic_scores:
            raise ValueError(f"entry {judge_score.entry_id} is not on the shortlist")
        entries = by_judge[judge_score.judge_id]
        if judge_score.entry_id in entries:
            raise ValueError(f"judge {judge_score.judge_id} scored entry {judge_score.entry_id} twice")
        entries[judge_score.entry_id] = judge_entry_score(rubric=rubric, scores=judge_score.scores)

    normalised_by_entry: dict[int, list[Decimal]] = defaultdict(list)
    raw_by_entry: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    for judge_id in sorted(by_judge):
        entries = by_judge[judge_id]
        for entry_id, z in z_scores(entries).items():
            normalised_by_entry[entry_id].append(z)
            raw_by_entry[entry_id].append((judge_id, _reported(entries[entry_id])))

    automatic = z_scores({entry_id: Decimal(score) for entry_id, score in automatic_scores.items()})
    rows: list[tuple[Decimal, int, Decimal, Decimal]] = []
    with localcontext() as context:
        context.prec = _PRECISION
        for entry_id in automatic_scores:
            judged = normalised_by_entry.get(entry_id, [])
            judge_component = sum(judged, Decimal(0)) / Decimal(len(judged)) if judged else Decimal(0)
            combined = (1 - automatic_weight) * judge_component + automatic_weight * automatic[entry_id]
            rows.append((_reported(combined), entry_id, _reported(judge_component), automatic[entry_id]))
    rows.sort(key=lambda row: (-row[0], row[1]))

    counts: dict[Decimal, int] = defaultdict(int)
    for row in rows:
        counts[row[0]] += 1
    results: list[JudgedEntry] = []
    shared_rank = 0
    previous: Decimal | None = None
    for position, (combined, entry_id, judge_component, automatic_z) in enumerate(rows, start=1):
        if combined != previous:
            shared_rank = position
            previous = combined
        results.append(
            JudgedEntry(
                entry_id=entry_id,
                position=position,
                shared_rank=shared_rank,
                tied=counts[combined] > 1,
                combined=combined,
                judge_component=judge_component,
                automatic_component=_reported(automatic_z),
                automatic_score=automatic_scores[entry_id],
                judge_count=len(normalised_by_entry.get(entry_id, [])),
                judge_entry_scores=tuple(raw_by_entry.get(entry_id, [])),
            )
        )
    return results
