"""The functions a diagram's scripts and expressions may call, bound to one clock and calendar.

Diagrams are deployed by administrators and trusted; their Python runs in SpiffWorkflow's
script engine with these functions beside the task data.
"""
from __future__ import annotations

from datetime import datetime

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from .calendar import WORKING, BusinessCalendar
from .clock import Clock


def make_script_engine(calendar: BusinessCalendar, clock: Clock) -> PythonScriptEngine:
    def deadline_after(limit: str, calendar_name: str = WORKING) -> str:
        """The instant a limit starting now runs out (ISO 8601, UTC)."""
        return calendar.add(clock.now(), limit, calendar_name).isoformat()

    def extend_deadline(deadline: str, extend_by: str, calendar_name: str = WORKING) -> str:
        """A deadline moved later by an approved extension."""
        return calendar.add(datetime.fromisoformat(deadline), extend_by, calendar_name).isoformat()

    return PythonScriptEngine(
        environment=TaskDataEnvironment({"deadline_after": deadline_after, "extend_deadline": extend_deadline})
    )
