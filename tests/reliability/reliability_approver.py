"""A staff member approving every proposed subsidy of an event, one transaction each, through
``app.subsidies.service`` — run as a child process by the crash drills, which kill it (or its database
connection) between the flush of a decision and its commit.

    python -m tests.reliability.reliability_approver EVENT_ID STAFF_ID [--hold-every N] [--hold-s S]

Prints ``flushed ID PID`` once a decision is written but not committed (PID: the PostgreSQL backend, or
0), ``committed ID`` after the commit, ``refused ID`` when the service refuses (budget), ``lost ID``
when the connection died before the commit, and ``done`` at the end.
"""

from __future__ import annotations

import argparse
import random
import time

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from app.core.db import get_engine, table, writing
from app.core.errors import Conflict
from app.subsidies import service
from app.subsidies.models import Subsidy, SubsidyState
from app.users.models import User

SUBSIDIES = table(Subsidy)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("event_id", type=int)
    parser.add_argument("staff_id", type=int)
    parser.add_argument("--hold-every", type=int, default=0, help="Hold every N-th transaction open.")
    parser.add_argument("--hold-s", type=float, default=1.0)
    args = parser.parse_args()
    engine = get_engine()
    postgres = engine.dialect.name == "postgresql"
    rng = random.Random()
    with Session(engine) as session:
        pending = list(
            session.execute(
                select(SUBSIDIES.c.id)
                .where(SUBSIDIES.c.event_id == args.event_id, SUBSIDIES.c.state == SubsidyState.PROPOSED)
                .order_by(SUBSIDIES.c.id)
            ).scalars()
        )
    for number, subsidy_id in enumerate(pending, start=1):
        with Session(writing(engine), expire_on_commit=False) as session:
            try:
                staff = session.get(User, args.staff_id)
                assert staff is not None
                service.approve_subsidy(session=session, subsidy_id=subsidy_id, staff=staff)
                pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one() if postgres else 0
                print(f"flushed {subsidy_id} {pid}", flush=True)
                hold = args.hold_every and number % args.hold_every == 0
                time.sleep(args.hold_s if hold else rng.uniform(0.0, 0.03))  # work inside the transaction
                session.commit()
                print(f"committed {subsidy_id}", flush=True)
            except Conflict:
                session.rollback()
                print(f"refused {subsidy_id}", flush=True)
            except DBAPIError as exc:
                print(f"lost {subsidy_id} {type(exc.orig).__name__}", flush=True)
                session.rollback()
    print("done", flush=True)


if __name__ == "__main__":
    main()
