"""Projecting a workflow onto indexed rows: each ready human task becomes a Task row (so an
inbox never loads a workflow), and the case takes its status from the diagram."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import ProcessError
from .models import Case, Task


@dataclass
class Projection:
    status: str
    opened: list[Task] = field(default_factory=list)
    cancelled: list[Task] = field(default_factory=list)


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
    workflow: BpmnWorkflow,
    script_engine: PythonScriptEngine,
    now: datetime,
) -> Projection:
    """Bring the case's Task rows in line with the workflow's ready human tasks, by difference."""
    ready = {str(t.id): t for t in workflow.get_tasks(state=TaskState.READY, manual=True)}
    open_rows = {
        row.spiff_task_id: row
        for row in session.scalars(select(Task).where(Task.case_id == case.id, Task.state == "open"))
    }
    result = Projection(status=_status(workflow, list(ready.values()), case.status))
    for spiff_id, row in open_rows.items():
        if spiff_id not in ready:
            row.state = "cancelled"
            row.completed_at = now
            result.cancelled.append(row)
    for spiff_id, spiff_task in ready.items():
        if spiff_id in open_rows:
            continue
        row = _task_row(case, spiff_task, script_engine, now)
        session.add(row)
        result.opened.append(row)
        responsible = properties(spiff_task).get("case_department")
        if responsible:
            value = evaluate(script_engine, spiff_task, responsible)
            case.department_code = str(value) if value else None
    return result


def _task_row(case: Case, spiff_task: SpiffTask, script_engine: PythonScriptEngine, now: datetime) -> Task:
    props = properties(spiff_task)
    spec = spiff_task.task_spec

    def scoped(name: str) -> str | None:
        return str(evaluate(script_engine, spiff_task, props[name])) if props.get(name) else None

    due = scoped("due")
    return Task(
        case_id=case.id,
        spiff_task_id=str(spiff_task.id),
        task=spec.bpmn_id,
        title=props.get("title") or spec.bpmn_name or spec.bpmn_id,
        role=spec.lane,
        department_code=scoped("department"),
        zone_code=scoped("zone"),
        state="open",
        created_at=now,
        due_at=datetime.fromisoformat(due).astimezone(UTC) if due else None,
    )


def _status(workflow: BpmnWorkflow, ready: list[SpiffTask], current: str) -> str:
    if workflow.is_completed():
        ends = [
            t
            for t in workflow.get_tasks(state=TaskState.COMPLETED)
            if isinstance(t.task_spec, EndEvent) and properties(t).get("status")
        ]
        if ends:
            return properties(max(ends, key=lambda t: t.last_state_change))["status"]
        return "completed"
    for spiff_task in ready:
        status = properties(spiff_task).get("status")
        if status:
            return status
    return current
