"""Timers: SpiffWorkflow's timer events driven by our clock, and finding and firing what is due.

SpiffWorkflow compares timers with the machine's clock. Our subclasses ask the workflow's
script engine for "now" instead, so that tests move time and every command sees one instant;
cycles (催办) step on the business calendar, and a cycle that fell due several times while the
service was down fires once and moves past now instead of firing a burst.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState

from ..deadlines import WORKING, TimeLimit
from .specs import Specs


def _now(my_task: SpiffTask) -> datetime:
    return my_task.workflow.script_engine.now()  # type: ignore[no-any-return]


class ClockedTimeDate(TimeDateEventDefinition):  # type: ignore[misc]
    def has_fired(self, my_task: SpiffTask) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            event_value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            my_task._set_internal_data(event_value=event_value)
        if TimerEventDefinition.parse_time_or_duration(event_value) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class ClockedDuration(DurationTimerEventDefinition):  # type: ignore[misc]
    def has_fired(self, my_task: SpiffTask) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            duration = TimerEventDefinition.parse_iso_duration(expression)
            start = _now(my_task)
            event_value = (start + TimerEventDefinition.get_timedelta_from_start(duration, start)).isoformat()
            my_task._set_internal_data(event_value=event_value)
        if TimerEventDefinition.get_datetime(event_value) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class ClockedCycle(CycleTimerEventDefinition):  # type: ignore[misc]
    """R[n]/<first instant>/<interval>: the interval is counted on the case's calendar (the
    `calendar` variable the time limits table sets; working time when there is none)."""

    def cycle_complete(self, my_task: SpiffTask) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            try:
                repetitions, first, interval = parse_cycle(expression)
            except ValueError as exc:
                raise WorkflowTaskException(str(exc), task=my_task) from exc
            event_value = {"cycles": repetitions, "next": first, "interval": interval, "fired": 0}
        ready = False
        now = _now(my_task)
        if event_value["cycles"] != 0:
            if datetime.fromisoformat(event_value["next"]) <= now:
                calendar = my_task.workflow.script_engine.calendar
                calendar_name = my_task.data.get("calendar", WORKING)
                upcoming = datetime.fromisoformat(event_value["next"])
                while upcoming <= now:
                    upcoming = calendar.add(upcoming, event_value["interval"], calendar_name)
                event_value["next"] = upcoming.isoformat()
                event_value["cycles"] -= 1
                event_value["fired"] += 1
                ready = True
        else:
            my_task.internal_data["event_fired"] = True
        my_task._set_internal_data(event_value=event_value)
        return ready


def parse_cycle(expression: str) -> tuple[int, str, str]:
    parts = expression.strip().split("/")
    if len(parts) != 3 or not parts[0].upper().startswith("R"):
        raise ValueError(f"a cycle timer needs R[n]/<first instant>/<interval>, not {expression!r}")
    repetitions = int(parts[0][1:]) if parts[0][1:] else -1
    first = TimerEventDefinition.get_datetime(parts[1]).isoformat()
    interval = TimeLimit.parse(parts[2])
    if interval.days == 0 and interval.seconds == 0:
        raise ValueError(f"a cycle timer's interval must be longer than zero, not {parts[2]!r}")
    return repetitions, first, parts[2]


CLOCKED_TIMERS: dict[type, type] = {
    TimeDateEventDefinition: ClockedTimeDate,
    DurationTimerEventDefinition: ClockedDuration,
    CycleTimerEventDefinition: ClockedCycle,
}


def use_our_clock(specs: Specs) -> None:
    """Give every timer event of freshly parsed specs our clock. The subclasses add no state,
    so swapping the class of the parser's instances is all it takes."""
    spec, subprocess_specs = specs
    for process_spec in (spec, *subprocess_specs.values()):
        for task_spec in process_spec.task_specs.values():
            event_definition = getattr(task_spec, "event_definition", None)
            clocked = CLOCKED_TIMERS.get(type(event_definition))
            if clocked is not None:
                event_definition.__class__ = clocked


# --- reading timers off a workflow -----------------------------------------------------------

def is_timer(spiff_task: SpiffTask) -> bool:
    return isinstance(getattr(spiff_task.task_spec, "event_definition", None), TimerEventDefinition)


def timer_due(spiff_task: SpiffTask) -> datetime | None:
    """The next instant this timer fires, or None when it will not fire again."""
    if spiff_task.state != TaskState.WAITING:
        return None
    return timer_instant(spiff_task)


def timer_instant(spiff_task: SpiffTask) -> datetime | None:
    """The instant the timer was set for (a cycle: its next one), fired or not."""
    event_value: Any = spiff_task._get_internal_data("event_value")
    if event_value is None:
        return None
    if isinstance(event_value, dict):
        return datetime.fromisoformat(event_value["next"]) if event_value["cycles"] != 0 else None
    return TimerEventDefinition.get_datetime(event_value)


def times_fired(spiff_task: SpiffTask) -> int:
    event_value: Any = spiff_task._get_internal_data("event_value")
    if isinstance(event_value, dict):
        return int(event_value.get("fired", 0))
    return 1 if spiff_task.state == TaskState.COMPLETED else 0


def attached_activity(boundary_task: SpiffTask) -> SpiffTask | None:
    """The task a boundary timer sits on: its sibling under the boundary split."""
    if not isinstance(boundary_task.task_spec, BoundaryEvent) or boundary_task.parent is None:
        return None
    for sibling in boundary_task.parent.children:
        if not isinstance(sibling.task_spec, BoundaryEvent):
            return sibling
    return None


def boundary_timers(activity: SpiffTask) -> list[SpiffTask]:
    if activity.parent is None:
        return []
    return [t for t in activity.parent.children if isinstance(t.task_spec, BoundaryEvent) and is_timer(t)]


