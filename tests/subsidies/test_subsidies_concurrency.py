"""Several staff deciding at once, on real committed databases (SQLite and PostgreSQL).

Each thread has its own engine connection and transaction, exactly like concurrent API requests; the
event's lock must make the budget hold however the threads interleave.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from app.audit.models import AuditEntry
from app.core.db import make_engine, session_scope, table
from app.subsidies import service
from app.subsidies.models import Subsidy, SubsidyTransition
from app.users.models import User
from tests.subsidies.subsidies_factories import make_event, make_reporter, make_staff_user, make_subsidy

THREADS = 20


@pytest.fixture
def committed_engine(fresh_db_url: str) -> Iterator[Engine]:
    engine = make_engine(fresh_db_url, pool_size=THREADS + 2, max_overflow=0)
    yield engine
    engine.dispose()


def run_at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together; return each result or exception."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def runner(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001  (the test inspects whatever each thread met)
            results[i] = exc

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.mark.parametrize(("budget", "fits"), [("1000", 6), ("3000", 20)])
def test_parallel_approvals_never_exceed_the_budget(committed_engine: Engine, budget: str, fits: int) -> None:
    with session_scope(committed_engine) as session:
        event = make_event(session, budget=budget)
        staff = [make_staff_user(session) for _ in range(3)]
        subsidy_ids = [
            make_subsidy(session, event, make_reporter(session, event), amount="150").id
            for _ in range(THREADS)
        ]

    def approve(i: int) -> str:
        with Session(committed_engine) as session:
            subsidy = service.approve_subsidy(session=session, subsidy_id=subsidy_ids[i], staff=staff[i % 3])
            session.commit()
            return str(subsidy.state)

    results = run_at_once(THREADS, approve)
    outcomes = Counter(type(r).__name__ if isinstance(r, Exception) else r for r in results)
    assert outcomes == Counter(
        {"approved": fits, "BudgetExceeded": THREADS - fits} if fits < THREADS else {"approved": fits}
    )
    for refused in (r for r in results if isinstance(r, Exception)):
        assert str(refused).startswith(f"budget exceeded: {Decimal(budget) - 150 * fits:.2f} CHF left")

    with Session(committed_engine) as session:
        subsidies = table(Subsidy)
        approved = session.execute(
            select(func.count(), func.sum(subsidies.c.amount)).where(
                subsidies.c.event_id == event.id, subsidies.c.state == "approved"
            )
        ).one()
        assert approved[0] == fits
        assert approved[1] == Decimal(150 * fits) <= Decimal(budget)
        transitions = table(SubsidyTransition)
        moved = session.execute(
            select(func.count()).where(
                transitions.c.to_state == "approved", transitions.c.subsidy_id.in_(subsidy_ids)
            )
        ).scalar_one()
        audited = session.execute(
            select(func.count()).where(table(AuditEntry).c.action == "subsidy.approve")
        ).scalar_one()
        assert moved == audited == fits


def test_parallel_decisions_on_one_subsidy_move_it_once(committed_engine: Engine) -> None:
    with session_scope(committed_engine) as session:
        event = make_event(session, budget="1000")
        staff: list[User] = [make_staff_user(session) for _ in range(4)]
        subsidy_id = make_subsidy(session, event, make_reporter(session, event)).id

    def approve(i: int) -> str:
        with Session(committed_engine) as session:
            service.approve_subsidy(session=session, subsidy_id=subsidy_id, staff=staff[i])
            session.commit()
            return "approved"

    results = run_at_once(4, approve)
    assert results.count("approved") == 1
    assert sorted(type(r).__name__ for r in results if isinstance(r, Exception)) == ["IllegalTransition"] * 3


def test_parallel_proposals_create_each_subsidy_once(committed_engine: Engine) -> None:
    with session_scope(committed_engine) as session:
        event = make_event(session)
        for _ in range(5):
            make_reporter(session, event)

    def propose(_i: int) -> int:
        with Session(committed_engine) as session:
            created = service.propose_subsidies(session=session, event=event, actor=None)
            session.commit()
            return len(created)

    results = run_at_once(4, propose)
    assert sorted(results) == [0, 0, 0, 5]
    with Session(committed_engine) as session:
        count = session.execute(select(func.count()).select_from(table(Subsidy))).scalar_one()
        assert count == 5
