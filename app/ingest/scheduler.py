"""APScheduler 3.11 drives collection: one coalesced job per source on its interval, one at a time.

Several processes may run a scheduler (``bie worker`` ×M, or ``bie serve``): the lease in the
database decides who collects; the others find the source leased and skip it. A sync job picks up
sources added, changed or removed since start; a re-check job runs the +1 h/+1 day/+7 days checks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.ingest import service
from app.ingest.models import Source

log = logging.getLogger(__name__)

SYNC_EVERY_S = 30
RECHECK_EVERY_S = 300


class CollectionScheduler:
    """Owns an APScheduler ``BackgroundScheduler`` whose jobs collect sources and re-check posts."""

    def __init__(
        self,
        engine: Engine,
        *,
        owner: str | None = None,
        max_parallel: int = 4,
        after_page: service.AfterPage | None = None,
        after_run: Callable[[service.RunSummary], None] | None = None,
        collector_options: dict[str, Any] | None = None,
        min_interval_s: int | None = None,
    ) -> None:
        self.engine = engine
        self.owner = owner or service.worker_identity()
        self.after_page = after_page
        self.after_run = after_run
        self.collector_options = collector_options or {}
        self.min_interval_s = min_interval_s
        self.runs = 0  # completed source jobs: tests bound waiting by ticks, not by wall clock
        self._runs_changed = threading.Condition()
        self._intervals: dict[int, int] = {}
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_parallel)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )

    def start(self) -> None:
        self.sync_jobs()
        self.scheduler.add_job(
            self.sync_jobs, IntervalTrigger(seconds=SYNC_EVERY_S), id="sync", replace_existing=True
        )
        self.scheduler.add_job(
            self.recheck,
            IntervalTrigger(seconds=RECHECK_EVERY_S),
            id="recheck",
            replace_existing=True,
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.start()
        log.info("scheduler started as %s", self.owner)

    def shutdown(self, wait: bool = True) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)

    def sync_jobs(self) -> None:
        """Add, reschedule or remove source jobs to match the sources table."""
        with Session(self.engine) as session:
            sources = session.exec(
                select(Source.id, Source.interval_s).where(col(Source.enabled).is_(True))
            ).all()
        wanted: dict[int, int] = {}
        for source_id, interval_s in sources:
            assert source_id is not None
            wanted[source_id] = (
                max(interval_s, self.min_interval_s or 0) if self.min_interval_s else interval_s
            )
        for source_id in set(self._intervals) - set(wanted):
            job_id = f"source-{source_id}"
            if self.scheduler.get_job(job_id):
                self.scheduler.remove_job(job_id)
            del self._intervals[source_id]
        for source_id, interval_s in wanted.items():
            if self._intervals.get(source_id) == interval_s:
                continue
            self.scheduler.add_job(
                self.run_source,
                IntervalTrigger(seconds=interval_s),
                args=[source_id],
                id=f"source-{source_id}",
                replace_existing=True,
                next_run_time=datetime.now(UTC),
            )
            self._intervals[source_id] = interval_s

    def run_source(self, source_id: int) -> service.RunSummary | None:
        """One scheduled pass: collects only when due and when this process gets the lease."""
        try:
            summary = service.collect_source(
                engine=self.engine,
                source_id=source_id,
                owner=self.owner,
                after_page=self.after_page,
                collector_options=self.collector_options,
            )
        except Exception:  # noqa: BLE001  (a job must never kill the scheduler; the error is logged)
            log.exception("collection job for source %s failed", source_id)
            summary = None
        if summary is not None and summary.status not in ("not_due", "leased_elsewhere"):
            log.info(
                "source %s: %s, %s new, %s updated, %s requests",
                source_id,
                summary.status,
                summary.new,
                summary.updated,
                summary.requests,
            )
            if self.after_run is not None:
                self.after_run(summary)
        with self._runs_changed:
            self.runs += 1
            self._runs_changed.notify_all()
        return summary

    def recheck(self) -> None:
        try:
            result = service.recheck_due(engine=self.engine, collector_options=self.collector_options)
            if result.checked:
                log.info(
                    "re-checked %s posts: %s deleted, %s updated",
                    result.checked,
                    result.deleted,
                    result.updated,
                )
            if self.after_page is not None and (result.deleted or result.updated):
                self.after_page(self.engine)
        except Exception:  # noqa: BLE001  (logged; the next re-check tries again)
            log.exception("re-check job failed")

    def wait_for_runs(self, count: int, timeout_s: float = 60.0) -> bool:
        """Block until ``count`` source jobs have completed (tests, demo)."""
        with self._runs_changed:
            return self._runs_changed.wait_for(lambda: self.runs >= count, timeout=timeout_s)
