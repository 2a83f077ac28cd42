"""Judge aggregation (DESIGN §7) and snapshot hashes, with a normalisation worked by hand."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from scoring import (
    JudgeScore,
    RubricCriterion,
    aggregate_judging,
    canonical_json,
    judge_entry_score,
    snapshot_hash,
)

RUBRIC = (
    RubricCriterion(key="story", weight=Decimal(2)),
    RubricCriterion(key="craft", weight=Decimal(1)),
)


def scores(story: int, craft: int) -> dict[str, int]:
    return {"story": story, "craft": craft}


def test_weighted_mean_of_one_judge() -> None:
    # (2·5 + 1·2) / 3 = 4
    assert judge_entry_score(rubric=RUBRIC, scores=scores(5, 2)) == Decimal(4)


def test_harsh_and_lenient_judges_weigh_the_same() -> None:
    judge_scores = [
        # judge 1 (lenient): entry means 5, 4, 3 -> z = +√1.5, 0, −√1.5
        JudgeScore(judge_id=1, entry_id=101, scores=scores(5, 5)),
        JudgeScore(judge_id=1, entry_id=102, scores=scores(4, 4)),
        JudgeScore(judge_id=1, entry_id=103, scores=scores(3, 3)),
        # judge 2 (harsh): 3, 2, 1 -> the same z-scores
        JudgeScore(judge_id=2, entry_id=101, scores=scores(3, 3)),
        JudgeScore(judge_id=2, entry_id=102, scores=scores(2, 2)),
        JudgeScore(judge_id=2, entry_id=103, scores=scores(1, 1)),
        # judge 3 scored one entry only (recused from the others): z = 0
        JudgeScore(judge_id=3, entry_id=101, scores=scores(1, 1)),
    ]
    results = aggregate_judging(
        rubric=RUBRIC,
        automatic_scores={101: 10_000, 102: 20_000, 103: 30_000},  # z = −√1.5, 0, +√1.5
        judge_scores=judge_scores,
        automatic_weight=Decimal("0.25"),
    )
    by_entry = {result.entry_id: result for result in results}
    # entry 101: judges (√1.5 + √1.5 + 0) / 3 = 2√1.5/3 = 0.816496581
    assert by_entry[101].judge_component == Decimal("0.816496581")
    assert by_entry[101].judge_count == 3
    assert by_entry[101].automatic_component == Decimal("-1.224744871")
    # combined: 0.75 · 0.8164965809 − 0.25 · 1.2247448714 = √6/8 = 0.306186218
    assert by_entry[101].combined == Decimal("0.306186218")
    assert by_entry[102].combined == Decimal("0.000000000")
    # entry 103: 0.75 · (−√1.5) + 0.25 · √1.5 = −√1.5/2 = −√6/4 = −0.612372436
    assert by_entry[103].combined == Decimal("-0.612372436")
    assert [result.entry_id for result in results] == [101, 102, 103]
    assert [result.position for result in results] == [1, 2, 3]
    assert not any(result.tied for result in results)
    assert by_entry[101].judge_entry_scores == (
        (1, Decimal("5.000000000")),
        (2, Decimal("3.000000000")),
        (3, Decimal("1.000000000")),
    )


def test_ties_are_reported_and_ordered_by_entry_id() -> None:
    judge_scores = [
        JudgeScore(judge_id=1, entry_id=7, scores=scores(4, 4)),
        JudgeScore(judge_id=1, entry_id=5, scores=scores(4, 4)),
        JudgeScore(judge_id=1, entry_id=9, scores=scores(2, 2)),
    ]
    results = aggregate_judging(
        rubric=RUBRIC,
        automatic_scores={5: 3000, 7: 3000, 9: 3000},
        judge_scores=judge_scores,
        automatic_weight=Decimal("0.5"),
    )
    rows = [(result.entry_id, result.position, result.shared_rank, result.tied) for result in results]
    assert rows == [(5, 1, 1, True), (7, 2, 1, True), (9, 3, 3, False)]


def test_entry_nobody_scored_and_all_weight_on_judges() -> None:
    results = aggregate_judging(
        rubric=RUBRIC,
        automatic_scores={1: 100, 2: 0},
        judge_scores=[],
        automatic_weight=Decimal(0),
    )
    assert [(result.combined, result.judge_count, result.tied) for result in results] == [
        (Decimal("0E-9"), 0, True),
        (Decimal("0E-9"), 0, True),
    ]
    assert str(results[0].combined) == "0E-9"  # never "-0E-9"


@pytest.mark.parametrize(
    ("judge_score", "message"),
    [
        (JudgeScore(judge_id=1, entry_id=1, scores={"story": 6, "craft": 1}), "not 1..5"),
        (JudgeScore(judge_id=1, entry_id=1, scores={"story": 3}), "exactly the rubric"),
        (JudgeScore(judge_id=1, entry_id=99, scores=scores(3, 3)), "not on the shortlist"),
    ],
)
def test_invalid_scores_are_refused(judge_score: JudgeScore, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        aggregate_judging(
            rubric=RUBRIC,
            automatic_scores={1: 0},
            judge_scores=[judge_score],
            automatic_weight=Decimal("0.3"),
        )


@dataclass(frozen=True)
class Row:
    amount: Decimal
    at: datetime
    day: date


def test_canonical_json_and_hash() -> None:
    value = {
        "b": [
            Row(
                Decimal("1.50"),
                datetime(2025, 10, 9, 12, 0, tzinfo=timezone(timedelta(hours=4))),
                date(2025, 10, 9),
            )
        ],
        "a": frozenset({3, 1, 2}),
        2: None,
    }
    expected = (
        '{"2":null,"a":[1,2,3],"b":[{"amount":"1.50","at":"2025-10-09T08:00:00+00:00","day":"2025-10-09"}]}'
    )
    assert canonical_json(value) == expected
    assert snapshot_hash(value) == hashlib.sha256(expected.encode()).hexdigest()
    reordered = {"a": frozenset({2, 3, 1}), 2: None, "b": value["b"]}
    assert snapshot_hash(reordered) == snapshot_hash(value)


def test_naive_datetimes_and_unknown_types_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        snapshot_hash({"at": datetime(2025, 1, 1)})  # a naive value on purpose
    with pytest.raises(TypeError):
        snapshot_hash({"x": object()})


def test_utc_instants_hash_alike_whatever_their_offset() -> None:
    instant = datetime(2025, 10, 9, 8, 0, tzinfo=UTC)
    assert snapshot_hash(instant) == snapshot_hash(instant.astimezone(timezone(timedelta(hours=-5))))
