"""When timers fire. APScheduler runs one job at the earliest due instant (moved whenever a
command changes the timers) and a slow sweep; both fire everything due, one case per
transaction. On start the sweep runs at once, so what fell due while the service was down
fires then. A timer fires once: firing is a command on the case, and the case's version column
turns a second firing of the same state (another thread or process) into a conflict."""
from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ..deadlines import CalendarDays, Clock
from ..errors import Conflict, GridflowError
from ..storage import Timer, record
from ..vocabulary import SYSTEM_ACTOR
from .runtime import CaseRuntime

log = logging.getLogger(__name__)


class TimerScheduler:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        runtime: CaseRuntime,
        clock: Clock,
        calendar_days: CalendarDays,
        sweep_seconds: float = 60.0,
        batch: int = 200,
    ) -> None:
        self._sessions = sessions
        self._runtime = runtime
        self._clock = clock
        self._calendar_days = calendar_days
        self.sweep_seconds = sweep_seconds
        self._batch = batch
        self._scheduler: BackgroundScheduler | None = None
        self._firing = threading.Lock()

    # --- firing -----------------------------------------------------------------------------

    def next_due(self) -> datetime | None:
        with self._sessions() as session:
            return session.scalar(select(func.min(Timer.due_at)).where(Timer.state == "waiting"))

    def fire_due(self) -> int:
        """Fire every timer due by now, each case in its own transaction. Returns the count."""
        now = self._clock.now()
        fired = 0
        failed: set[int] = set()  # tried and still due (failing, or another process has it): not again now
        while True:
            with self._sessions() as session:
                due_cases = list(
                    session.scalars(
                        select(Timer.case_id)
                        .where(Timer.state == "waiting", Timer.due_at <= now, Timer.case_id.not_in(failed))
                        .group_by(Timer.case_id)
                        .order_by(func.min(Timer.due_at))
                        .limit(self._batch)
                    )
                )
            if not due_cases:
                return fired
            for case_id in due_cases:
                try:
                    count = self._runtime.fire_timers(case_id)
                except Conflict:
                    count = 0  # someone else moved the case meanwhile; the next round sees what is left
                except GridflowError as exc:
                    log.exception("case %s: its timers could not fire", case_id)
                    self._set_aside(case_id, now, str(exc))
                    failed.add(case_id)
                    continue
                fired += count
                if count == 0 and self._still_due(case_id, now):
                    failed.add(case_id)

    def _set_aside(self, case_id: int, now: datetime, error: str) -> None:
        """A case whose diagram fails when its timers fire: its due timers are marked failed and
        the error is recorded, instead of being retried in a tight loop. Fixing the diagram and
        moving the case to it (or completing its task) starts them again."""
        with self._sessions.begin() as session:
            rows = list(
                session.scalars(
                    select(Timer).where(Timer.case_id == case_id, Timer.state == "waiting", Timer.due_at <= now)
                )
            )
            for row in rows:
                row.state = "failed"
            record(
                session,
                at=now,
                actor=SYSTEM_ACTOR,
                action="timer_failed",
                case_id=case_id,
                detail={"timers": [row.event for row in rows], "error": error},
            )

    def _still_due(self, case_id: int, now: datetime) -> bool:
        with self._sessions() as session:
            due = select(Timer.id).where(Timer.case_id == case_id, Timer.state == "waiting", Timer.due_at <= now)
            return session.scalar(due.limit(1)) is not None

    # --- scheduling -------------------------------------------------------------------------

    def start(self) -> None:
        if self._scheduler is not None:
            return
        self._scheduler = BackgroundScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1})
        self._scheduler.add_job(
            self._tick, "interval", seconds=self.sweep_seconds, id="sweep", next_run_time=datetime.now(UTC)
        )
        self._scheduler.start()

    def stop(self) -> None:
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            # Not wait=True: a running tick may be rescheduling itself and would wait for the
            # scheduler's lock that shutdown holds. Waiting for the firing lock is enough.
            scheduler.shutdown(wait=False)
            with self._firing:
                pass

    def timers_changed(self) -> None:
        """Called after a command changed timers. While a tick is firing, its own commands would
        reschedule thousands of times; the tick reschedules once when it is done instead."""
        if self._firing.locked():
            return
        self.schedule_next()

    def schedule_next(self) -> None:
        """Move the one-off job to the earliest due instant."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        due = self.next_due()
        if due is None:
            try:
                scheduler.remove_job("next")
            except JobLookupError:
                pass
            return
        scheduler.add_job(self._tick, "date", run_date=max(due, datetime.now(UTC)), id="next", replace_existing=True)

    def _tick(self) -> None:
        with self._firing:
            try:
                self._calendar_days.reload()
                self.fire_due()
            except Exception:  # the scheduler thread must survive a bad night of the database
                log.exception("firing due timers failed")
        self.schedule_next()
