"""Shortlists per category, conflicts and recusal, scores, normalisation, ties, publication."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session, col, select

from app.audit.models import AuditEntry
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.judging import repository as repo
from app.judging import service as judging
from app.judging.models import PrizeCategory, ShortlistEntry
from app.users.models import User
from tests.judging.conftest import World, add_category, make_judge

ScoreFn = Callable[..., Any]


def shortlist(session: Session, category: PrizeCategory) -> dict[int, ShortlistEntry]:
    return {e.reporter_id: e for e in repo.shortlist_of(session, category.id or 0)}


def criteria_ids(session: Session, category: PrizeCategory) -> list[int]:
    return [c.id or 0 for c in repo.criteria_of(session, category.id or 0)]


def score(session: Session, judge: User, entry: ShortlistEntry, *marks: int) -> None:
    category = session.get(PrizeCategory, entry.category_id)
    assert category is not None
    ids = criteria_ids(session, category)
    judging.score_entry(
        session=session,
        entry_id=entry.id or 0,
        judge=judge,
        scores=[judging.ScoreInput(cid, mark) for cid, mark in zip(ids, marks, strict=True)],
    )


def audit_actions(session: Session) -> list[str]:
    rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
    return [r.action for r in rows if r.action.startswith("judging.")]


class TestShortlists:
    def test_each_kind_takes_its_own_top_n_from_the_freeze(
        self, session: Session, world: World, freeze_now: ScoreFn
    ) -> None:
        overall = add_category(session, world.event, "overall", "overall", size=2)
        article = add_category(session, world.event, "article", "article", size=1)
        assert shortlist(session, overall) == {}  # nothing before the freeze
        freeze_now(session, world.event)
        # categories created after the freeze get their shortlist at once
        visual = add_category(session, world.event, "visual", "visual", size=5)
        newcomer = add_category(session, world.event, "newcomer", "newcomer", size=5)
        r = world.rid
        assert set(shortlist(session, overall)) == {r("ana"), r("bo")}  # ranks 1 and 2
        assert shortlist(session, overall)[r("ana")].auto_score == 13_500
        only_article = shortlist(session, article)
        assert set(only_article) == {r("bo")}  # best article: 6.857 (likes) beats ana's 5.0
        assert only_article[r("bo")].auto_score == 6_857
        assert only_article[r("bo")].post_id is not None
        # visual: points of counted posts with media; dee and bo have none
        assert {k: e.auto_score for k, e in shortlist(session, visual).items()} == {
            r("cy"): 3000,
            r("ana"): 1500,
        }
        # newcomers: registered for no earlier event (ana was at cop16); dee has no counted post
        assert set(shortlist(session, newcomer)) == {r("bo"), r("cy")}

    def test_staff_additions_and_removals_are_checked_and_audited(
        self, session: Session, world: World, freeze_now: ScoreFn
    ) -> None:
        category = add_category(session, world.event, "overall", size=1)
        with pytest.raises(Conflict, match="not frozen"):
            judging.add_to_shortlist(
                session=session,
                event=world.event,
                category=category,
                reporter_id=world.rid("dee"),
                reason="x",
            )
        freeze_now(session, world.event)
        entry = judging.add_to_shortlist(
            session=session,
            event=world.event,
            category=category,
            reporter_id=world.rid("dee"),
            reason="jury wildcard",
            actor_role="staff",
        )
        assert entry.added_by is None
        assert entry.auto_score == 0
        with pytest.raises(Conflict, match="already on the shortlist"):
            judging.add_to_shortlist(
                session=session,
                event=world.event,
                category=category,
                reporter_id=world.rid("dee"),
                reason="x",
            )
        with pytest.raises(InvalidInput, match="not on the frozen leaderboard"):
            judging.add_to_shortlist(
                session=session, event=world.event, category=category, reporter_id=999_999, reason="x"
            )
        with pytest.raises(InvalidInput, match="reason"):
            judging.add_to_shortlist(
                session=session, event=world.event, category=category, reporter_id=world.rid("bo"), reason=" "
            )
        judging.remove_from_shortlist(session=session, category=category, entry=entry, reason="changed mind")
        assert set(shortlist(session, category)) == {world.rid("ana")}
        actions = audit_actions(session)
        assert "judging.shortlist.add" in actions
        assert "judging.shortlist.remove" in actions

    def test_kind_cannot_change_after_the_freeze_and_rubric_not_after_scores(
        self, session: Session, world: World, freeze_now: ScoreFn
    ) -> None:
        category = add_category(session, world.event, "overall")
        freeze_now(session, world.event)
        with pytest.raises(Conflict, match="kind"):
            judging.update_category(
                session=session, event=world.event, category=category, changes={"kind": "visual"}
            )
        judge = make_judge(session, 1)
        score(session, judge, shortlist(session, category)[world.rid("ana")], 4, 4)
        with pytest.raises(Conflict, match="rubric"):
            judging.update_category(
                session=session,
                event=world.event,
                category=category,
                changes={"criteria": [judging.CriterionSpec("Only one")]},
            )
        with pytest.raises(Conflict, match="scored"):
            judging.delete_category(session=session, event=world.event, category=category)


class TestScoring:
    def test_scoring_before_the_freeze_is_refused(self, session: Session, world: World) -> None:
        category = add_category(session, world.event, "overall")
        # an entry that could only exist through a bug or by hand: still no scores before the freeze
        entry = ShortlistEntry(category_id=category.id or 0, reporter_id=world.rid("ana"))
        session.add(entry)
        session.flush()
        with pytest.raises(Conflict, match="not frozen"):
            score(session, make_judge(session, 1), entry, 3, 3)

    def test_scores_are_validated_and_upserted(
        self, session: Session, world: World, freeze_now: ScoreFn
    ) -> None:
        category = add_category(session, world.event, "overall")
        other = add_category(session, world.event, "other", criteria=(("Other", 1),))
        freeze_now(session, world.event)
        judge = make_judge(session, 1)
        entry = shortlist(session, category)[world.rid("bo")]
        insight, craft = criteria_ids(session, category)
        foreign = criteria_ids(session, other)[0]

        def put(*items: tuple[int, int]) -> list[Any]:
            return judging.score_entry(
                session=session,
                entry_id=entry.id or 0,
                judge=judge,
                scores=[judging.ScoreInput(c, s) for c, s in items],
            )

        for bad in [((insight, 0),), ((insight, 6),), ((foreign, 3),), ((insight, 3), (insight, 4)), ()]:
            with pytest.raises(InvalidInput):
                put(*bad)
        assert put((insight, 2))
        assert put((insight, 5), (craft, 1))
        rows = judging.own_scores(session=session, entry_id=entry.id or 0, judge=judge)
        assert {(r.criterion_id, r.score) for r in rows} == {(insight, 5), (craft, 1)}
        with pytest.raises(NotFound):
            judging.score_entry(
                session=session, entry_id=987_654, judge=judge, scores=[judging.ScoreInput(insight, 3)]
            )

    def test_a_removed_entry_can_no_longer_be_scored(
        self, session: Session, world: World, freeze_now: ScoreFn
    ) -> None:
        category = add_category(session, world.event, "overall")
        freeze_now(session, world.event)
        entry = shortlist(session, category)[world.rid("cy")]
        entry_id = entry.id or 0
        judging.remove_from_shortlist(session=session, category=category, entry=entry)
        with pytest.raises(NotFound):
            judging.score_entry(
                session=session,
                entry_id=entry_id,
                judge=make_judge(session, 1),
                scores=[judging.ScoreInput(criteria_ids(session, category)[0], 3)],
            )

    def test_a_conflict_recuses_the_judge_and_drops_their_scores(
        self, session: Session, world: World, freeze_now: ScoreFn
    ) -> None:
        category = add_category(session, world.event, "overall")
        freeze_now(session, world.event)
        judge = make_judge(session, 1)
        entry = shortlist(session, category)[world.rid("ana")]
        score(session, judge, entry, 5, 5)
        conflict, new = judging.declare_conflict(
            session=session, entry_id=entry.id or 0, judge=judge, reason="cousin"
        )
        assert new
        again, new_again = judging.declare_conflict(session=session, entry_id=entry.id or 0, judge=judge)
        assert again.id == conflict.id
        assert not new_again
        assert judging.own_scores(session=session, entry_id=entry.id or 0, judge=judge) == []
        with pytest.raises(Forbidden, match="recused"):
            score(session, judge, entry, 4, 4)
        entry_audit = [a for a in audit_actions(session) if a in ("judging.conflict", "judging.score")]
        assert entry_audit == ["judging.score", "judging.conflict"]


def one_criterion_category(
    session: Session, world: World, freeze_now: ScoreFn, **kwargs: Any
) -> PrizeCategory:
    category = add_category(session, world.event, "overall", criteria=(("Overall quality", 1),), **kwargs)
    freeze_now(session, world.event)
    return category


class TestResults:
    def test_a_harsh_judge_does_not_sink_an_entry(
        self, session: Session, world: World, freeze_now: ScoreFn
    ) -> None:
        category = one_criterion_category(session, world, freeze_now, size=3, auto_weight=0)
        entries = shortlist(session, category)
        a, b, c = entries[world.rid("ana")], entries[world.rid("bo")], entries[world.rid("cy")]
        lenient, harsh = make_judge(session, 1), make_judge(session, 2)
        judging.declare_conflict(session=session, entry_id=c.id or 0, judge=lenient)
        judging.declare_conflict(session=session, entry_id=b.id or 0, judge=harsh)
        score(session, lenient, a, 5)
        score(session, lenient, b, 4)
        score(session, harsh, a, 2)
        score(session, harsh, c, 3)
        # raw means would rank c last (3 < 3.5 < 4): only the harsh judge could score it
        results = judging.compute_results(session=session, event=world.event, category=category)
        order = [row["entry_id"] for row in results["entries"]]
        assert order == [c.id, a.id, b.id]
        by_entry = {row["entry_id"]: row for row in results["entries"]}
        assert Decimal(by_entry[c.id]["judge_component"]) == 1
        assert by_entry[a.id]["judge_count"] == 2
        assert by_entry[c.id]["judge_count"] == 1  # the recused judge left it out
        assert results["conflicts"] == 2

    def test_ties_are_reported(self, session: Session, world: World, freeze_now: ScoreFn) -> None:
        category = one_criterion_category(session, world, freeze_now, size=3, auto_weight=0)
        entries = shortlist(session, category)
        a, b, c = entries[world.rid("ana")], entries[world.rid("bo")], entries[world.rid("cy")]
        judge = make_judge(session, 1)
        score(session, judge, a, 4)
        score(session, judge, b, 4)
        score(session, judge, c, 1)
        results = judging.compute_results(session=session, event=world.event, category=category)
        top = results["entries"][:2]
        assert {row["entry_id"] for row in top} == {a.id, b.id}
        assert all(row["tied"] and row["shared_rank"] == 1 for row in top)
        assert [row["position"] for row in top] == [1, 2]
        assert results["ties"] == [sorted([a.id or 0, b.id or 0])]
        assert not results["entries"][2]["tied"]

    def test_incomplete_scores_are_left_out_and_listed(
        self, session: Session, world: World, freeze_now: ScoreFn
    ) -> None:
        category = add_category(session, world.event, "overall", size=2)
        freeze_now(session, world.event)
        judge = make_judge(session, 1)
        entry = shortlist(session, category)[world.rid("ana")]
        first = criteria_ids(session, category)[0]
        judging.score_entry(
            session=session, entry_id=entry.id or 0, judge=judge, scores=[judging.ScoreInput(first, 5)]
        )
        results = judging.compute_results(session=session, event=world.event, category=category)
        assert results["incomplete"] == [{"judge_id": judge.id, "entry_id": entry.id, "missing": 1}]
        assert all(row["judge_count"] == 0 for row in results["entries"])

    def test_publication_is_once_and_closes_judging(
        self, session: Session, world: World, freeze_now: ScoreFn
    ) -> None:
        category = one_criterion_category(session, world, freeze_now, size=2, auto_weight=40)
        entries = shortlist(session, category)
        judge = make_judge(session, 1)
        with pytest.raises(Conflict, match="no judge"):
            judging.publish_results(session=session, event=world.event, category=category)
        score(session, judge, entries[world.rid("ana")], 3)
        score(session, judge, entries[world.rid("bo")], 5)
        assert not judging.results_published(session=session, event=world.event)
        published = judging.publish_results(
            session=session, event=world.event, category=category, actor_role="staff"
        )
        assert published.published_at is not None
        assert published.results["automatic_weight_percent"] == 40
        assert judging.results_published(session=session, event=world.event)
        with pytest.raises(Conflict, match="published"):
            judging.publish_results(session=session, event=world.event, category=category)
        with pytest.raises(Conflict, match="published"):
            score(session, judge, entries[world.rid("ana")], 4)
        with pytest.raises(Conflict, match="published"):
            judging.declare_conflict(session=session, entry_id=entries[world.rid("ana")].id or 0, judge=judge)
        with pytest.raises(Conflict, match="published"):
            judging.remove_from_shortlist(session=session, category=category, entry=entries[world.rid("bo")])
        public, total = judging.published_results(session=session, event=world.event)
        assert total == 1
        assert all("judge_scores" not in row for row in public[0]["entries"])
        assert "judging.results.publish" in audit_actions(session)
