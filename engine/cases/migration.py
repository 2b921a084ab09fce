"""Moving running cases to a newer version of their process (迁移), so that a changed step, title
or lane reaches the cases already under way, not only new ones.

A case moves when every task of its workflow that is not merely predicted - the tasks it waits
on, and the ones it already passed, whose history the workflow keeps - has a counterpart in the
new version. Counterparts are found by SpiffWorkflow's SpecDiff (engine/definition_diff.py): the
same BPMN id, or a renamed element in the same place. A case that cannot move is left exactly as
it was, with the reasons ("task verify removed: the case waits on it").

What moving does, in one transaction per case with its own audit event (action "migrate"):
- SpiffWorkflow's migrate_workflow points every task at its new spec. The tasks the case waits
  on are reset so their next steps are predicted from the new diagram; their ids stay, so the
  task rows, claims and links stay too.
- Waiting timers keep the instant they were set for: a deadline given to a department does not
  move because the diagram changed (SpiffWorkflow's default would evaluate them again, from
  now). A changed timer expression, limit or boundary event applies from the next time a task is
  entered.
- Task and timer rows are projected again: titles, lanes (roles), departments, zones from the
  new version (a claim is released when the task's role, department or zone changes), new or
  cancelled rows by difference.
- The case takes the new process version and its version column is bumped, so a workflow any
  process kept in memory at the old version is never used again.
A dry run does all of it, then rolls it back: what it reports is what a real run does.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.diff import WorkflowDiff, migrate_workflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from ..definitions import DefinitionRepository, VersionComparison
from ..errors import InvalidField, ProcessError
from ..execution import GridflowScriptEngine, WorkflowCodec, attached_activity, is_timer
from ..storage import Case, CaseWorkflow, ProcessVersion, Task, Timer, record
from .projection import case_rows, project, properties, task_row

INTEGER_MAX = 2**31 - 1  # a row id or version beyond PostgreSQL's integer is no row
CASE_IDS_MAX = 10_000
# Task row columns taken from the new version; a change of the last three releases a claim.
_ROW_COLUMNS = ("task", "title", "role", "department_code", "zone_code", "due_at")
_SCOPE_COLUMNS = {"role", "department_code", "zone_code"}


@dataclass(frozen=True)
class MigrationRequest:
    from_version: int
    to_version: int
    dry_run: bool
    case_ids: tuple[int, ...] | None = None  # None: every open case on from_version

    @classmethod
    def from_json(cls, body: Any) -> MigrationRequest:
        """The request as the API receives it; a bad field is named."""
        if not isinstance(body, dict):
            raise InvalidField("body", "must be a JSON object")
        versions = {name: _whole_number(body.get(name), name) for name in ("from_version", "to_version")}
        if versions["to_version"] <= versions["from_version"]:
            raise InvalidField("to_version", "must be a newer version than from_version")
        dry_run = body.get("dry_run")
        if not isinstance(dry_run, bool):
            raise InvalidField("dry_run", "required: true to only list what would move, false to move")
        case_ids = body.get("case_ids")
        if case_ids is not None:
            if not isinstance(case_ids, list) or not case_ids:
                raise InvalidField("case_ids", "must be a non-empty list of case ids, or left out for every open case")
            if len(case_ids) > CASE_IDS_MAX:
                raise InvalidField("case_ids", f"at most {CASE_IDS_MAX} cases at a time")
            case_ids = tuple(dict.fromkeys(_whole_number(i, "case_ids") for i in case_ids))
        return cls(versions["from_version"], versions["to_version"], dry_run, case_ids)


@dataclass(frozen=True)
class CaseMove:
    """One case in a migration: moved (or, in a dry run, would move), or why not."""

    case_id: int
    case_no: str | None
    status: str | None
    waiting_on: list[str] = field(default_factory=list)  # the BPMN ids of its open tasks
    reasons: list[str] = field(default_factory=list)  # empty: it moves


@dataclass(frozen=True)
class MigrationReport:
    process_id: str
    from_version: int
    to_version: int
    dry_run: bool
    migrated: list[CaseMove]
    not_migrated: list[CaseMove]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CaseMigration:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        repository: DefinitionRepository,
        codec: WorkflowCodec,
        script_engine: GridflowScriptEngine,
    ) -> None:
        self._sessions = sessions
        self._repository = repository
        self._codec = codec
        self._script_engine = script_engine
        self.timer_listeners: list[Callable[[], None]] = []

    def migrate(self, process_id: str, request: MigrationRequest, actor: str) -> MigrationReport:
        """Move the given cases (by default every open case on from_version) to to_version, one
        transaction each; with dry_run, only say which would move and why the others cannot."""
        with self._sessions() as session:
            old = self._repository.process_version(session, process_id, request.from_version)
            new = self._repository.process_version(session, process_id, request.to_version)
            comparison = self._repository.compare(session, old, new)
            case_ids: Sequence[int] = request.case_ids or list(
                session.scalars(
                    select(Case.id).where(Case.process_version_id == old.id, Case.closed_at.is_(None)).order_by(Case.id)
                )
            )
        migrated: list[CaseMove] = []
        not_migrated: list[CaseMove] = []
        timers_changed = False
        for case_id in case_ids:
            move, changed_timers = self._migrate_case(case_id, comparison, request.dry_run, actor)
            (not_migrated if move.reasons else migrated).append(move)
            timers_changed |= changed_timers
        if timers_changed:
            for listener in self.timer_listeners:
                listener()
        return MigrationReport(process_id, old.version, new.version, request.dry_run, migrated, not_migrated)

    # --- one case, one transaction ----------------------------------------------------------

    def _migrate_case(
        self, case_id: int, comparison: VersionComparison, dry_run: bool, actor: str
    ) -> tuple[CaseMove, bool]:
        """The case's move, and whether its timer rows changed. A dry run does every write, then
        rolls them back, so that it meets what a real run would (a diagram failing on this
        case's data, a concurrent change); a case changed by someone else meanwhile is left for
        the next run."""
        stayed = CaseMove(case_id, None, None)
        with self._script_engine.one_instant() as now, self._sessions() as session:
            session.autoflush = False  # as in every command: one flush, at the end (see projection)
            try:
                case = session.get(Case, case_id)
                if case is None:
                    return replace(stayed, reasons=["no such case"]), False
                move = stayed = self._check_case(session, case, comparison)
                if move.reasons:
                    return move, False
                workflow = self._codec.state_from_json(
                    _state(session, case.id), comparison.old_specs, self._script_engine
                )
                reasons = self._move(workflow, comparison)
                if reasons:
                    return replace(move, reasons=reasons), False
                timers_changed = self._save(session, now, case, workflow, comparison, actor, move.waiting_on)
                session.flush()
                if dry_run:
                    session.rollback()
                    return move, False
                session.commit()
                return move, timers_changed
            except (StaleDataError, OperationalError):  # moved meanwhile, or a lock it lost to another writer
                session.rollback()
                return replace(stayed, reasons=["changed by someone else meanwhile; run again"]), False
            except ProcessError as exc:  # the new version's expressions fail on this case's data
                session.rollback()
                return replace(stayed, reasons=[f"version {comparison.new.version} fails on this case: {exc}"]), False

    @staticmethod
    def _check_case(session: Session, case: Case, comparison: VersionComparison) -> CaseMove:
        """The case as it stands, and why it is not one to move (another version, finished)."""
        waiting_on = list(
            session.scalars(select(Task.task).where(Task.case_id == case.id, Task.state == "open").order_by(Task.id))
        )
        reasons = []
        if case.process_version_id != comparison.old.id:
            running = session.get(ProcessVersion, case.process_version_id)
            on = f"{running.process_id} version {running.version}" if running else "another process"
            reasons.append(f"runs on {on}, not {comparison.old.process_id} version {comparison.old.version}")
        elif case.closed_at is not None:
            reasons.append(f"is {case.status}: a finished case keeps the version it ran on")
        return CaseMove(case.id, case.case_no, case.status, waiting_on, reasons)

    def _move(self, workflow: BpmnWorkflow, comparison: VersionComparison) -> list[str]:
        """Point the workflow at the new version in memory; the reasons it cannot, if any."""
        version = comparison.new.version
        if workflow.subprocesses:
            return ["runs a subprocess or call activity: such cases are not migrated"]
        diff = WorkflowDiff(workflow, comparison.top)
        reasons = _removed(diff.removed)
        if reasons:
            return reasons
        new_spec = comparison.new_specs[0]
        try:
            # Only the tasks the case waits on are reset (their next steps predicted anew);
            # waiting timers keep the instants they were set for.
            migrate_workflow(diff, workflow, new_spec, reset_mask=TaskState.READY)
            for task in workflow.get_tasks(state=TaskState.WAITING):
                _predict_again(task)
        except SpiffWorkflowException as exc:
            return [f"cannot be moved onto version {version}: {exc}"]
        leftovers = dict.fromkeys(
            _element(t) for t in workflow.get_tasks() if new_spec.task_specs.get(t.task_spec.name) is not t.task_spec
        )
        if leftovers:
            return [f"task {name} has no counterpart in version {version}" for name in leftovers]
        try:  # what is stored must restore onto the new version
            self._codec.state_from_json(self._codec.state_to_json(workflow), comparison.new_specs, self._script_engine)
        except Exception as exc:  # whatever fails, the case stays where it is, with the reason
            return [f"its state does not restore onto version {version}: {exc}"]
        return []

    def _save(
        self,
        session: Session,
        now: datetime,
        case: Case,
        workflow: BpmnWorkflow,
        comparison: VersionComparison,
        actor: str,
        waiting_on: list[str],
    ) -> bool:
        projection = project(session, case, case_rows(session, case.id), workflow, self._script_engine, now)
        updated = self._refresh_task_rows(session, case, workflow, now)
        timers_changed = self._refresh_timer_rows(session, case, workflow) or projection.timers_changed
        from_status = case.status
        case.status = projection.status
        case.process_version_id = comparison.new.id
        case.updated_at = now
        case.version += 1  # a workflow kept in memory at the old version is stale from now on
        state = self._codec.state_to_json(workflow)
        session.flush()  # the case row first, as every command and the scheduler lock it (no deadlock)
        session.connection().execute(update(CaseWorkflow).where(CaseWorkflow.case_id == case.id).values(state=state))
        record(
            session,
            at=now,
            actor=actor,
            action="migrate",
            case_id=case.id,
            from_status=from_status,
            to_status=case.status,
            detail={
                "process_id": comparison.new.process_id,
                "from_version": comparison.old.version,
                "to_version": comparison.new.version,
                "waiting_on": waiting_on,
                "updated": updated,
                "opened": [t.task for t in projection.opened],
                "cancelled": [t.task for t in projection.cancelled],
            },
            department_code=case.department_code,
        )
        return timers_changed

    def _refresh_task_rows(
        self, session: Session, case: Case, workflow: BpmnWorkflow, now: datetime
    ) -> list[dict[str, Any]]:
        """Open task rows read what the new version says of their task: id, title, lane, scope."""
        updated = []
        for row in session.scalars(select(Task).where(Task.case_id == case.id, Task.state == "open")):
            spiff_task = workflow.get_task_from_id(UUID(row.spiff_task_id))
            if row.state != "open" or spiff_task is None:  # cancelled by the projection just now
                continue
            fresh = task_row(case, spiff_task, self._script_engine, now)  # the row it would open now
            changes = {
                column: [_text(getattr(row, column)), _text(getattr(fresh, column))]
                for column in _ROW_COLUMNS
                if getattr(row, column) != getattr(fresh, column)
            }
            for column in changes:
                setattr(row, column, getattr(fresh, column))
            if row.assignee_id is not None and changes.keys() & _SCOPE_COLUMNS:
                changes["assignee_id"] = [str(row.assignee_id), None]
                row.assignee_id = None  # claimed by someone the task may no longer be for
            if changes:
                updated.append({"task_id": row.id, "task": row.task, "changes": changes})
        return updated

    @staticmethod
    def _refresh_timer_rows(session: Session, case: Case, workflow: BpmnWorkflow) -> bool:
        changed = False
        for row in session.scalars(select(Timer).where(Timer.case_id == case.id, Timer.state == "waiting")):
            spiff_task = workflow.get_task_from_id(UUID(row.spiff_task_id))
            if row.state != "waiting" or spiff_task is None or not is_timer(spiff_task):
                continue
            activity = attached_activity(spiff_task)
            fresh = {
                "event": spiff_task.task_spec.bpmn_id,
                "kind": properties(spiff_task).get("kind", "timer"),
                "attached_task": activity.task_spec.bpmn_id if activity else None,
            }
            for column, value in fresh.items():
                if getattr(row, column) != value:
                    setattr(row, column, value)
                    changed = True
        return changed


def _removed(tasks: list[SpiffTask]) -> list[str]:
    """Why removed task specs keep a case where it is. Merely predicted tasks do not count:
    their branch is predicted again from the new version."""
    named: dict[str, str] = {}
    inner: dict[str, str] = {}  # the engine's own specs, such as a removed activity's boundary split
    for task in tasks:
        if task.has_state(TaskState.PREDICTED_MASK):
            continue
        element = _element(task)
        reasons = named if getattr(task.task_spec, "bpmn_id", None) else inner
        if task.has_state(TaskState.READY | TaskState.WAITING | TaskState.STARTED):
            reasons[element] = f"task {element} removed: the case waits on it"
        else:
            reasons.setdefault(element, f"task {element} removed: the case passed it, and its history would be lost")
    # An inner spec goes with its element: named only when nothing else explains the refusal.
    return list((named or inner).values())


def _predict_again(task: SpiffTask) -> None:
    """A waiting task keeps its state, but what may follow it is predicted from the new version
    when the new version changed what follows it (SpiffWorkflow's own reset would also evaluate
    its timer again)."""
    outputs = task.task_spec.outputs
    if {id(child.task_spec) for child in task.children} != {id(spec) for spec in outputs}:
        task.task_spec._predict(task, mask=TaskState.NOT_FINISHED_MASK)


def _element(task: SpiffTask) -> str:
    return str(getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name)


def _state(session: Session, case_id: int) -> str:
    state = session.get(CaseWorkflow, case_id)
    assert state is not None, f"case {case_id} has no workflow state"
    return state.state


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _whole_number(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= INTEGER_MAX:
        raise InvalidField(name, f"must be a whole number from 1 to {INTEGER_MAX}")
    return value
