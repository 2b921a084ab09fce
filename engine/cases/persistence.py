"""The transaction boundary of every command on a case: one transaction and one instant, the
workflow loaded (from memory while its version is current) and run, then saved with its projected
rows and its audit events; after commit, the workflow kept and the scheduler told."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task as SpiffTask
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from ..definitions import DefinitionRepository
from ..errors import Conflict, ProcessError
from ..execution import GridflowScriptEngine, WorkflowCache, WorkflowCodec
from ..storage import Case, CaseWorkflow, Task, record
from ..vocabulary import SYSTEM_ACTOR
from .projection import CaseRows, Projection, project

OPENING_ACTIONS = ("report", "start")  # the commands that create a case


@dataclass(frozen=True)
class Completion:
    """What the assessment counts of a task's completion, recorded on its audit event."""

    outcome: str | None
    deadline_state: str
    working_seconds: int
    overdue_seconds: int | None  # None: the task had no deadline


class CaseStore:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        repository: DefinitionRepository,
        codec: WorkflowCodec,
        script_engine: GridflowScriptEngine,
        workflows: WorkflowCache,
    ) -> None:
        self._sessions = sessions
        self._repository = repository
        self._codec = codec
        self._script_engine = script_engine
        self._workflows = workflows
        self.project = project  # an attribute, so that the lifecycle benchmark can time it
        self.timer_listeners: list[Callable[[], None]] = []

    @contextmanager
    def command(self) -> Iterator[tuple[Session, datetime]]:
        """One transaction, one instant."""
        try:
            with self._script_engine.one_instant() as now, self._sessions.begin() as session:
                # One flush at commit instead of one before every query: the command's own
                # queries do not depend on what it changed (see projection).
                session.autoflush = False
                yield session, now
        except StaleDataError as exc:
            raise Conflict("the case was changed by someone else at the same time; reload and try again") from exc

    def load(self, session: Session, case: Case) -> BpmnWorkflow:
        """The case's workflow for a command: the one kept in memory if it is at the case's version."""
        return self._workflows.take(case.id, case.version) or self.restore(session, case)

    def restore(self, session: Session, case: Case) -> BpmnWorkflow:
        state = session.get(CaseWorkflow, case.id)
        assert state is not None
        specs = self._repository.specs(session, case.process_version_id)
        return self._codec.state_from_json(state.state, specs, self._script_engine)

    def run(self, workflow: BpmnWorkflow, completed: SpiffTask | None = None, refresh_timers: bool = False) -> None:
        try:
            if completed is not None:
                completed.run()
            if refresh_timers:
                workflow.refresh_timers()
            workflow.do_engine_steps()
        except SpiffWorkflowException as exc:
            raise ProcessError(str(exc)) from exc
        # Signals nobody caught (e.g. "handling finished" with no 督办 open) are kept by
        # SpiffWorkflow for an outside listener; we have none, so they are dropped here.
        workflow.get_events()

    def save(
        self,
        session: Session,
        now: datetime,
        case: Case,
        stored: CaseRows,
        workflow: BpmnWorkflow,
        actor: str,
        action: str | None,
        completed: Task | None,
        detail: dict[str, Any],
        measured: Completion | None = None,
    ) -> Projection:
        """Project, save the workflow state and record the command: one event for the action
        (if any) and one for each timer that fired."""
        projection = self.project(session, case, stored, workflow, self._script_engine, now)
        from_status = None if action in OPENING_ACTIONS else case.status
        case.status = projection.status
        case.updated_at = now
        case.version += 1
        if workflow.is_completed():
            case.closed_at = now
        state = self._codec.state_to_json(workflow)
        if action in OPENING_ACTIONS:
            session.add(CaseWorkflow(case_id=case.id, state=state))
        else:
            # The case row first (its versioned UPDATE), then its state: the same lock order as
            # the scheduler's claim on the case, so the two never deadlock on PostgreSQL.
            session.flush()
            saved = update(CaseWorkflow).where(CaseWorkflow.case_id == case.id).values(state=state)
            session.connection().execute(saved)
        for fired in projection.fired:
            record(
                session,
                at=now,
                actor=SYSTEM_ACTOR,
                action="timer",
                case_id=case.id,
                task=fired.timer.event,
                from_status=from_status,
                to_status=case.status,
                detail={
                    "kind": fired.timer.kind,
                    "times": fired.times,
                    "attached_task": fired.timer.attached_task,
                    "deadline_state": fired.task.deadline_state if fired.task else None,
                    "department": case.department_code,
                    "next_due_at": fired.timer.due_at.isoformat() if fired.timer.due_at else None,
                },
                department_code=case.department_code,
                deadline_state=fired.task.deadline_state if fired.task else None,
            )
        if action is None:
            return projection
        record(
            session,
            at=now,
            actor=actor,
            action=action,
            case_id=case.id,
            task=completed.task if completed else None,
            from_status=from_status,
            to_status=case.status,
            detail=detail
            | {
                "opened": [
                    {"task": t.task, "due_at": t.due_at.isoformat() if t.due_at else None} for t in projection.opened
                ],
                "cancelled": [t.task for t in projection.cancelled],
            },
            department_code=(completed.department_code if completed else None) or case.department_code,
            outcome=measured.outcome if measured else None,
            deadline_state=measured.deadline_state if measured else None,
            working_seconds=measured.working_seconds if measured else None,
            overdue_seconds=measured.overdue_seconds if measured else None,
        )
        return projection

    def committed(self, case: Case, workflow: BpmnWorkflow, projection: Projection) -> None:
        """After commit: keep the workflow for the case's next command, and tell the scheduler
        when the command changed the case's timers."""
        if not workflow.is_completed():
            self._workflows.keep(case.id, case.version, workflow)
        if projection.timers_changed:
            for listener in self.timer_listeners:
                listener()
