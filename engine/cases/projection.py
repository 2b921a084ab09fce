"""Projecting a workflow onto indexed rows, by difference: each ready human task becomes a Task
row (so an inbox never loads a workflow), each waiting timer a Timer row with its due instant
(so the scheduler finds what is due with one query), and the case takes its status from the
diagram. Timers that fired are reported so the command can record them and mark their task."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import ProcessError
from ..execution import attached_activity, boundary_timers, is_timer, timer_due, timer_instant, times_fired
from ..storage import Case, Task, Timer

DEADLINE_STATES = ("normal", "warning", "overdue")  # a task only ever moves along this order


@dataclass
class FiredTimer:
    timer: Timer
    times: int
    task: Task | None  # the open task the timer sits on, if any


@dataclass
class CaseRows:
    """A case's open task rows and its timer rows as stored when the command began: read once,
    for the projection and for the command's own question whether a timer fell due."""

    open_tasks: list[Task] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)

    def timer_due(self, now: datetime) -> bool:
        return any(row.state == "waiting" and row.due_at is not None and row.due_at <= now for row in self.timers)


def case_rows(session: Session, case_id: int) -> CaseRows:
    return CaseRows(
        open_tasks=list(session.scalars(select(Task).where(Task.case_id == case_id, Task.state == "open"))),
        timers=list(session.scalars(select(Timer).where(Timer.case_id == case_id))),
    )


@dataclass
class Projection:
    status: str
    opened: list[Task] = field(default_factory=list)
    cancelled: list[Task] = field(default_factory=list)
    fired: list[FiredTimer] = field(default_factory=list)
    timers_changed: bool = False


def properties(spiff_task: SpiffTask) -> dict[str, str]:
    return getattr(spiff_task.task_spec, "extensions", {}).get("properties", {})


def evaluate(script_engine: PythonScriptEngine, spiff_task: SpiffTask, expression: str) -> Any:
    try:
        return script_engine.evaluate(spiff_task, expression)
    except SpiffWorkflowException as exc:
        raise ProcessError(f"{spiff_task.task_spec.bpmn_id}: {exc}") from exc


def project(
    session: Session,
    case: Case,
    stored: CaseRows,
    workflow: BpmnWorkflow,
    script_engine: PythonScriptEngine,
    now: datetime,
) -> Projection:
    """`stored` is what case_rows read at the start of the command (nothing, for a new case)."""
    # One walk over the task tree; each of SpiffWorkflow's get_tasks() calls walks all of it.
    tasks = list(workflow.get_tasks())
    ready = [t for t in tasks if t.state == TaskState.READY and t.task_spec.manual]
    timers = [t for t in tasks if t.state in (TaskState.WAITING, TaskState.COMPLETED) and is_timer(t)]
    result = Projection(status=_status(workflow, tasks, ready, case.status))
    open_rows = _project_tasks(session, case, stored.open_tasks, ready, script_engine, now, result)
    _project_timers(session, case, stored.timers, timers, now, result, open_rows)
    return result


def _project_tasks(
    session: Session,
    case: Case,
    stored_open: list[Task],
    ready_tasks: list[SpiffTask],
    script_engine: PythonScriptEngine,
    now: datetime,
    result: Projection,
) -> dict[str, Task]:
    ready = {str(t.id): t for t in ready_tasks}
    # A row the command completed was read open; its state in memory decides.
    open_rows = {row.spiff_task_id: row for row in stored_open if row.state == "open"}
    for spiff_id, row in list(open_rows.items()):
        if spiff_id not in ready:
            row.state = "cancelled"
            row.completed_at = now
            result.cancelled.append(row)
            del open_rows[spiff_id]
    for spiff_id, spiff_task in ready.items():
        if spiff_id in open_rows:
            continue
        row = task_row(case, spiff_task, script_engine, now)
        session.add(row)
        open_rows[spiff_id] = row
        result.opened.append(row)
        responsible = properties(spiff_task).get("case_department")
        if responsible:
            value = evaluate(script_engine, spiff_task, responsible)
            case.department_code = str(value) if value else None
    return open_rows


def task_row(case: Case, spiff_task: SpiffTask, script_engine: PythonScriptEngine, now: datetime) -> Task:
    props = properties(spiff_task)
    spec = spiff_task.task_spec

    def scoped(name: str) -> str | None:
        return str(evaluate(script_engine, spiff_task, props[name])) if props.get(name) else None

    return Task(
        case_id=case.id,
        spiff_task_id=str(spiff_task.id),
        task=spec.bpmn_id,
        title=props.get("title") or spec.bpmn_name or spec.bpmn_id,
        role=spec.lane,
        department_code=scoped("department"),
        zone_code=scoped("zone"),
        state="open",
        deadline_state="normal",
        created_at=now,
        due_at=_deadline(spiff_task),
    )


def _project_timers(
    session: Session,
    case: Case,
    stored_timers: list[Timer],
    timers: list[SpiffTask],
    now: datetime,
    result: Projection,
    open_rows: dict[str, Task],
) -> None:
    rows = {row.spiff_task_id: row for row in stored_timers}
    for spiff_task in timers:
        row = rows.get(str(spiff_task.id))
        if row is not None and row.state != "waiting":
            continue
        if row is None:  # started waiting in this command (and may have fired in it already)
            activity = attached_activity(spiff_task)
            row = Timer(
                case_id=case.id,
                spiff_task_id=str(spiff_task.id),
                event=spiff_task.task_spec.bpmn_id,
                kind=properties(spiff_task).get("kind", "timer"),
                attached_task=activity.task_spec.bpmn_id if activity else None,
                state="waiting",
                fired_count=0,
            )
            session.add(row)
            result.timers_changed = True
        fired = times_fired(spiff_task) - row.fired_count
        if spiff_task.state == TaskState.WAITING or row.due_at is None:
            row.due_at = timer_instant(spiff_task)  # a fired row keeps the instant it was due
        if fired > 0:
            result.timers_changed = True
            row.fired_count += fired
            row.fired_at = now
            activity = attached_activity(spiff_task)
            task = open_rows.get(str(activity.id)) if activity else None
            deadline_state = properties(spiff_task).get("deadline_state")
            _mark_deadline(task, deadline_state)
            if not (deadline_state and _marked_before(row, rows.values())):
                result.fired.append(FiredTimer(timer=row, times=fired, task=task))
        if spiff_task.state == TaskState.COMPLETED or timer_due(spiff_task) is None:
            row.state = "fired" if row.fired_count else "cancelled"
    waiting = {str(t.id) for t in timers if t.state == TaskState.WAITING}
    for spiff_id, row in rows.items():
        if row.state == "waiting" and spiff_id not in waiting:  # its activity finished first
            result.timers_changed = True
            row.state = "cancelled"
            row.due_at = None


def _marked_before(row: Timer, case_timers: Iterable[Timer]) -> bool:
    """The same deadline already turned yellow (or red) in this case: a task re-entered on it
    (an extension refused, or awaiting approval) takes the colour again, but it is one event."""
    return any(
        other is not row and other.kind == row.kind and other.due_at == row.due_at and other.fired_count > 0
        for other in case_timers
    )


def _deadline(spiff_task: SpiffTask) -> datetime | None:
    """A task's deadline is the instant of the boundary timer that makes it overdue, whether
    that timer still waits or fired in the very command that opened the task."""
    for timer in boundary_timers(spiff_task):
        if properties(timer).get("deadline_state") == "overdue":
            return timer_instant(timer)
    return None


def _mark_deadline(task: Task | None, state: str | None) -> None:
    if task is None or state not in DEADLINE_STATES:
        return
    if DEADLINE_STATES.index(state) > DEADLINE_STATES.index(task.deadline_state):
        task.deadline_state = state


def _status(workflow: BpmnWorkflow, tasks: list[SpiffTask], ready: list[SpiffTask], current: str) -> str:
    if workflow.is_completed():
        ends = [
            t
            for t in tasks
            if t.state == TaskState.COMPLETED and isinstance(t.task_spec, EndEvent) and properties(t).get("status")
        ]
        if ends:
            return properties(max(ends, key=lambda t: t.last_state_change))["status"]
        return "completed"
    for spiff_task in ready:
        status = properties(spiff_task).get("status")
        if status:
            return status
    return current
