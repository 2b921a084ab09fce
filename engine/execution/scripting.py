"""SpiffWorkflow's script engine, bound to our clock and calendar.

A diagram's scripts, expressions and timers see one instant per command: every deadline
computed in one transaction starts from the same "now", whichever clock is in use. A diagram's
Python runs restricted (engine/sandbox.py), with these functions beside the data and a time
limit on each evaluation.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.task import Task as SpiffTask

from ..deadlines import WORKING, BusinessCalendar, Clock
from .sandbox import DEFAULT_TIME_LIMIT, RestrictedEnvironment, ScriptRefused


class GridflowScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    def __init__(self, calendar: BusinessCalendar, clock: Clock, time_limit: float = DEFAULT_TIME_LIMIT) -> None:
        self.calendar = calendar
        self.clock = clock
        self._instant: ContextVar[datetime | None] = ContextVar(f"gridflow_instant_{id(self)}", default=None)
        super().__init__(
            environment=RestrictedEnvironment(
                {
                    "deadline_after": self.deadline_after,
                    "after": self.after,
                    "warning_at": self.warning_at,
                    "reminder_cycle": self.reminder_cycle,
                },
                time_limit,
            )
        )

    def execute(self, task: SpiffTask, script: str, external_context: dict[str, Any] | None = None) -> Any:
        """Run a script task's script; a refusal names the task, as a broken expression does."""
        try:
            return super().execute(task, script, external_context)
        except ScriptRefused as exc:
            exc.element = exc.element or task.task_spec.bpmn_id
            raise

    def now(self) -> datetime:
        return self._instant.get() or self.clock.now()

    @contextmanager
    def one_instant(self) -> Iterator[datetime]:
        """Freeze "now" for the duration of one command."""
        instant = self.clock.now()
        token = self._instant.set(instant)
        try:
            yield instant
        finally:
            self._instant.reset(token)

    # --- the functions a diagram may call ---------------------------------------------------

    def deadline_after(self, limit: str, calendar: str = WORKING) -> str:
        """The instant (ISO 8601) a limit starting now runs out."""
        return self.calendar.add(self.now(), limit, calendar).isoformat()

    def after(self, instant: str, limit: str, calendar: str = WORKING) -> str:
        """An instant moved later by a limit: an approved extension, a step-up period."""
        return self.calendar.add(datetime.fromisoformat(instant), limit, calendar).isoformat()

    def warning_at(self, deadline: str, limit: str, share: float, calendar: str = WORKING) -> str:
        """When a task with this deadline and limit turns yellow (预警)."""
        return self.calendar.warning_point(datetime.fromisoformat(deadline), limit, share, calendar).isoformat()

    def reminder_cycle(self, deadline: str, interval: str, calendar: str = WORKING) -> str:
        """A repeating timer (催办) every `interval` after the deadline: R/<first>/<interval>."""
        return f"R/{self.after(deadline, interval, calendar)}/{interval}"
