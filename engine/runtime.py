"""Commands on cases. One command = one transaction: load the case's workflow, let
SpiffWorkflow run, then save its state, the projected task rows and an audit event together."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from .calendar import WORKING
from .errors import Conflict, Forbidden, InvalidField, NotFound, ProcessError
from .forms import FormField, answers, clean_submission, parse_form
from .history import record
from .inbox import may_act
from .models import Case, CaseNumberCounter, CasePhoto, CaseWorkflow, Category, Department, Grid, Task, Timer, User
from .photos import PhotoStore
from .projection import CaseRows, Projection, case_rows, evaluate, project, properties
from .repository import DefinitionRepository
from .scripting import GridflowScriptEngine
from .serialization import WorkflowCodec
from .timers import is_timer
from .workflow_cache import WorkflowCache

LIFECYCLE = "case_lifecycle"
SYSTEM_ACTOR = "system"
URGENCIES = {"normal": "一般", "urgent": "紧急"}
CHANNELS = {
    "collector": "采集员上报",
    "hotline": "热线（12319 / 12345）",
    "web": "网站",
    "wechat": "微信",
    "media": "媒体曝光",
    "leader": "领导交办",
}
STARTED_BY_FORM = "internal"  # the channel of a case started from a process's own start form
OPENING_ACTIONS = ("report", "start")  # the commands that create a case
REPORT_TEXT_LIMITS = {"description": 4000, "address": 256}  # 4000: Open311's limit, so a citizen's text is kept whole


@dataclass(frozen=True)
class Completion:
    outcome: str | None
    deadline_state: str
    working_seconds: int
    overdue_seconds: int | None  # None: the task had no deadline


class CaseRuntime:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        timezone: ZoneInfo,
        repository: DefinitionRepository,
        codec: WorkflowCodec,
        script_engine: GridflowScriptEngine,
        photos: PhotoStore,
        workflows: WorkflowCache,
    ) -> None:
        self._sessions = sessions
        self._tz = timezone
        self._repository = repository
        self._codec = codec
        self._script_engine = script_engine
        self._photos = photos
        self._workflows = workflows
        self.timer_listeners: list[Callable[[], None]] = []

    # --- commands ---------------------------------------------------------------------------

    def report_case(
        self, reporter_id: int, report: Any, photos: Sequence[bytes] = (), source: dict[str, Any] | None = None
    ) -> int:
        """上报: start a case on the newest lifecycle version, with its photos. Returns its id.
        `source` is what only the reporting channel knows (an Open311 client, the citizen's
        contact), kept on the report's audit event for the centre and never shown publicly."""
        with self._command() as (session, now):
            reporter = _user(session, reporter_id)
            category, grid, fields = self._check_report(session, reporter, report)
            checked_photos = self._photos.check(list(photos))
            process = self._repository.latest_process(session, LIFECYCLE)
            spec, subprocess_specs = self._repository.specs(session, process.id)
            workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=self._script_engine)
            case = Case(
                case_no=self._next_case_no(session, now),
                process_version_id=process.id,
                status="reported",
                category_code=category.code,
                grid_code=grid.code,
                zone_code=grid.zone_code,
                address=fields["address"],
                description=fields["description"],
                urgency=fields["urgency"],
                channel=fields["channel"],
                reporter_id=reporter.id,
                created_at=now,
                updated_at=now,
                version=1,
            )
            session.add(case)
            session.flush()
            start = workflow.get_tasks(state=TaskState.READY)[0]
            start.data.update(
                case_no=case.case_no,
                category=category.code,
                category_name=category.name,
                family=category.family,
                class_code=category.class_code,
                owner_department=category.owner_department_code,
                limit_class=category.limit_class,
                emergency=category.emergency,
                grid=grid.code,
                zone=grid.zone_code,
                territory_department=grid.territory_department_code,
                urgency=case.urgency,
                channel=case.channel,
            )
            self._run(workflow)
            stored = [self._photos.save(content, content_type) for content, content_type in checked_photos]
            for photo in stored:
                session.add(
                    CasePhoto(
                        case_id=case.id,
                        sha256=photo.sha256,
                        content_type=photo.content_type,
                        size=photo.size,
                        uploaded_by=reporter.username,
                        uploaded_at=now,
                    )
                )
            detail = {"process_version": process.version, "photos": [photo.sha256 for photo in stored]}
            if source:
                detail["source"] = source
            projection = self._save(session, now, case, CaseRows(), workflow, reporter.username, "report", None, detail)
        self._committed(case, workflow, projection)
        return case.id

    def start_case(self, starter_id: int, process_id: str, submitted: Any) -> int:
        """发起: start a case of any deployed process from its start event's form, e.g. a document
        (公文办理). The start event says who may start it (`start_roles`), what it asks (`form`)
        and the case's subject (`subject`, an expression on the fields). Returns the case id."""
        with self._command() as (session, now):
            starter = _user(session, starter_id)
            process = self._repository.latest_process(session, process_id)
            workflow = BpmnWorkflow(*self._repository.specs(session, process.id), script_engine=self._script_engine)
            start = start_event(workflow)
            if not may_start(starter, start):
                raise Forbidden(f"process {process_id!r} is not started by your role")
            form = _form(start)
            cleaned = self._check_fields(session, start, form, submitted)
            case_no = self._next_case_no(session, now)
            start.data.update(cleaned, case_no=case_no)  # for the subject; the event inherits its data when it runs
            subject = properties(start).get("subject")
            description = str(evaluate(self._script_engine, start, subject)) if subject else process.name
            urgency = cleaned.get("urgency")
            case = Case(
                case_no=case_no,
                process_version_id=process.id,
                status="started",
                description=description[:2000],
                urgency=urgency if urgency in URGENCIES else "normal",
                channel=STARTED_BY_FORM,
                reporter_id=starter.id,
                created_at=now,
                updated_at=now,
                version=1,
            )
            session.add(case)
            session.flush()
            workflow.get_tasks(state=TaskState.READY)[0].data.update(cleaned, case_no=case_no)
            self._run(workflow)
            detail = {"process": process.process_id, "process_version": process.version, "fields": cleaned,
                      "answers": _answers(session, form, cleaned)}
            projection = self._save(session, now, case, CaseRows(), workflow, starter.username, "start", None, detail)
        self._committed(case, workflow, projection)
        return case.id

    def start_forms(self, user_id: int, process_id: str | None = None) -> list[dict[str, Any]]:
        """The processes this person may start from a form (or just the one named), newest
        version of each, with the form."""
        with self._sessions() as session:
            user = _user(session, user_id)
            forms = []
            for process in self._repository.latest_processes(session):
                if process_id is not None and process.process_id != process_id:
                    continue
                start = start_event(BpmnWorkflow(*self._repository.specs(session, process.id)))
                if may_start(user, start):
                    fields = [
                        spec.as_dict()
                        | {"default": evaluate(self._script_engine, start, spec.default) if spec.default else None}
                        for spec in _form(start).values()
                    ]
                    forms.append({"id": process.process_id, "name": process.name, "version": process.version,
                                  "fields": fields})
            return forms

    def complete_task(self, actor_id: int, task_id: int, submitted: Any) -> int:
        """Complete a human task with the fields its form declares. Returns the case id."""
        with self._command() as (session, now):
            actor = _user(session, actor_id)
            row = _task_of(session, actor, task_id)
            if row.state != "open":
                raise Conflict(f"task {task_id} is already {row.state}")
            case = session.get(Case, row.case_id)
            assert case is not None
            workflow = self._load(session, case)
            stored = case_rows(session, case.id)
            # What fell due before this instant happens first, as if the scheduler had been
            # exact: a late answer is still recorded overdue (and an interrupting timer wins).
            if stored.timer_due(now):
                self._run(workflow, refresh_timers=True)
            spiff_task = workflow.get_task_from_id(UUID(row.spiff_task_id))
            if spiff_task is None or spiff_task.state != TaskState.READY:
                raise Conflict(f"task {task_id} is no longer waiting")
            form = _form(spiff_task)
            cleaned = self._check_fields(session, spiff_task, form, submitted)
            spiff_task.data.update(cleaned)
            self._run(workflow, spiff_task)
            row.state = "completed"
            row.completed_at = now
            row.completed_by = actor.username
            detail = {"title": row.title, "fields": cleaned, "answers": _answers(session, form, cleaned)}
            measured = self._measure(spiff_task, row, now)
            projection = self._save(
                session, now, case, stored, workflow, actor.username, "complete", row, detail, measured
            )
        self._committed(case, workflow, projection)
        return case.id

    def fire_timers(self, case_id: int) -> int:
        """Let the case's workflow fire what is due by now. Returns how many timers fired.
        On PostgreSQL the case row is claimed with FOR UPDATE SKIP LOCKED: a case another
        process is firing is skipped here (0), not waited for and then refused."""
        with self._command() as (session, now):
            if session.get_bind().dialect.name == "postgresql":
                claimed = select(Case.id).where(Case.id == case_id).with_for_update(skip_locked=True)
                if session.scalar(claimed) is None:
                    return 0
            case = session.get(Case, case_id)
            if case is None:
                raise NotFound(f"case {case_id} does not exist")
            workflow = self._load(session, case)
            stored = case_rows(session, case.id)
            self._run(workflow, refresh_timers=True)
            projection = self._save(session, now, case, stored, workflow, SYSTEM_ACTOR, None, None, {})
        self._committed(case, workflow, projection)
        return sum(f.times for f in projection.fired)

    def claim_task(self, user_id: int, task_id: int) -> None:
        """Take a task that several people share (a lane, not a person) so others stop seeing it."""
        self._assign(user_id, task_id, claim=True)

    def release_task(self, user_id: int, task_id: int) -> None:
        """Give a claimed task back to everyone in its lane."""
        self._assign(user_id, task_id, claim=False)

    def _assign(self, user_id: int, task_id: int, claim: bool) -> None:
        with self._command() as (session, now):
            user = _user(session, user_id)
            row = _task_of(session, user, task_id)
            held_by = Task.assignee_id.is_(None) if claim else Task.assignee_id == user.id
            # A conditional UPDATE: of two people claiming at once, one gets the task.
            result = session.execute(
                update(Task)
                .where(Task.id == task_id, Task.state == "open", held_by)
                .values(assignee_id=user.id if claim else None)
                .execution_options(synchronize_session=False)
            )
            changed = getattr(result, "rowcount", 0)
            if changed != 1:
                raise Conflict("the task was claimed, released or finished meanwhile")
            record(
                session,
                at=now,
                actor=user.username,
                action="claim" if claim else "release",
                case_id=row.case_id,
                task=row.task,
                detail={"task_id": task_id},
            )

    def _committed(self, case: Case, workflow: BpmnWorkflow, projection: Projection) -> None:
        """After commit: keep the workflow for the case's next command, and tell the scheduler
        when the command changed the case's timers."""
        if not workflow.is_completed():
            self._workflows.keep(case.id, case.version, workflow)
        if projection.timers_changed:
            for listener in self.timer_listeners:
                listener()

    # --- reads that need the workflow -------------------------------------------------------

    def task_form(self, user_id: int, task_id: int) -> dict[str, Any]:
        """The form of a task with the values the diagram prefills (e.g. the suggested department)."""
        with self._sessions() as session:
            user = _user(session, user_id)
            row = _task_of(session, user, task_id)
            case = session.get(Case, row.case_id)
            assert case is not None
            fields = []
            if row.state == "open":
                # Not the cached workflow: a command may be changing that one right now.
                workflow = self._restore(session, case)
                spiff_task = workflow.get_task_from_id(UUID(row.spiff_task_id))
                for spec in _form(spiff_task).values():
                    default = evaluate(self._script_engine, spiff_task, spec.default) if spec.default else None
                    fields.append(spec.as_dict() | {"default": default})
            return {
                "id": row.id,
                "case_id": row.case_id,
                "task": row.task,
                "title": row.title,
                "role": row.role,
                "assignee_id": row.assignee_id,
                "state": row.state,
                "fields": fields,
            }

    def verify_cases(self) -> tuple[int, list[str]]:
        """Restore every case's workflow and compare it with the rows projected from it: the
        open tasks must be the human tasks it waits on, the waiting (or set-aside) timers the
        timers it waits on. Run after a crash or a restore from backup. Returns how many cases
        were checked and the problems found, one line each."""
        problems: list[str] = []
        checked = 0
        with self._sessions() as session:
            for case in session.scalars(select(Case).order_by(Case.id).execution_options(yield_per=500)):
                checked += 1
                try:
                    workflow = self._restore(session, case)
                except Exception as exc:  # whatever the cause, the operator needs the case named
                    problems.append(f"{case.case_no}: its workflow does not load: {exc}")
                    continue
                tasks = list(workflow.get_tasks())
                waiting_on = {str(t.id) for t in tasks if t.state == TaskState.READY and t.task_spec.manual}
                open_rows = set(
                    session.scalars(select(Task.spiff_task_id).where(Task.case_id == case.id, Task.state == "open"))
                )
                if waiting_on != open_rows:
                    problems.append(
                        f"{case.case_no}: open task rows {sorted(open_rows)} != workflow {sorted(waiting_on)}"
                    )
                timers = {str(t.id) for t in tasks if t.state == TaskState.WAITING and is_timer(t)}
                still_timed = Timer.state.in_(("waiting", "failed"))
                timer_rows = set(
                    session.scalars(select(Timer.spiff_task_id).where(Timer.case_id == case.id, still_timed))
                )
                if timers != timer_rows:
                    problems.append(
                        f"{case.case_no}: waiting timer rows {sorted(timer_rows)} != workflow {sorted(timers)}"
                    )
        return checked, problems

    # --- the transaction boundary -----------------------------------------------------------

    @contextmanager
    def _command(self) -> Iterator[tuple[Session, datetime]]:
        """One transaction, one instant."""
        try:
            with self._script_engine.one_instant() as now, self._sessions.begin() as session:
                # One flush at commit instead of one before every query: the command's own
                # queries do not depend on what it changed (see projection).
                session.autoflush = False
                yield session, now
        except StaleDataError as exc:
            raise Conflict("the case was changed by someone else at the same time; reload and try again") from exc

    def _load(self, session: Session, case: Case) -> BpmnWorkflow:
        """The case's workflow for a command: the one kept in memory if it is at the case's version."""
        return self._workflows.take(case.id, case.version) or self._restore(session, case)

    def _restore(self, session: Session, case: Case) -> BpmnWorkflow:
        state = session.get(CaseWorkflow, case.id)
        assert state is not None
        specs = self._repository.specs(session, case.process_version_id)
        return self._codec.state_from_json(state.state, specs, self._script_engine)

    @staticmethod
    def _run(workflow: BpmnWorkflow, completed: SpiffTask | None = None, refresh_timers: bool = False) -> None:
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

    def _save(
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
        projection = project(session, case, stored, workflow, self._script_engine, now)
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

    def _measure(self, spiff_task: SpiffTask, row: Task, now: datetime) -> Completion:
        """What the assessment counts of a completion, on the case's own calendar."""
        expression = properties(spiff_task).get("outcome")
        outcome = evaluate(self._script_engine, spiff_task, expression) if expression else None
        calendar = str(spiff_task.data.get("calendar") or WORKING)
        seconds = self._script_engine.calendar.seconds_between
        late = row.due_at is not None and now >= row.due_at
        return Completion(
            outcome=str(outcome) if outcome is not None else None,
            deadline_state="overdue" if late else row.deadline_state,
            working_seconds=seconds(row.created_at, now, calendar),
            overdue_seconds=max(0, seconds(row.due_at, now, calendar)) if row.due_at is not None else None,
        )

    # --- input checks -----------------------------------------------------------------------

    def _check_report(self, session: Session, reporter: User, report: Any) -> tuple[Category, Grid, dict[str, str]]:
        if not isinstance(report, dict):
            raise InvalidField("body", "must be a JSON object")
        fields: dict[str, str] = {}
        for name in ("category", "grid", "description", "address", "urgency", "channel"):
            value = report.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise InvalidField(name, "required")
            if not isinstance(value, str):
                raise InvalidField(name, "must be a string")
            fields[name] = value.strip()
        for name, limit in REPORT_TEXT_LIMITS.items():
            if len(fields[name]) > limit:
                raise InvalidField(name, f"must be at most {limit} characters")
        if fields["urgency"] not in URGENCIES:
            raise InvalidField("urgency", f"must be one of: {', '.join(URGENCIES)}")
        if fields["channel"] not in CHANNELS:
            raise InvalidField("channel", f"must be one of: {', '.join(CHANNELS)}")
        if fields["channel"] == "collector" and "collector" not in reporter.role_names:
            raise InvalidField("channel", "only an information collector reports through channel collector")
        category = session.get(Category, fields["category"])
        if category is None:
            raise InvalidField("category", f"unknown category code {fields['category']!r}")
        grid = session.get(Grid, fields["grid"])
        if grid is None:
            raise InvalidField("grid", f"unknown grid code {fields['grid']!r}")
        return category, grid, fields

    def _check_fields(
        self, session: Session, spiff_task: SpiffTask, form: dict[str, FormField], submitted: Any
    ) -> dict[str, Any]:

        def is_required(expression: str, values: dict[str, Any]) -> bool:
            try:
                return bool(self._script_engine.environment.evaluate(expression, {**spiff_task.data, **values}))
            except Exception as exc:  # a broken required_if is the diagram's fault, not the user's
                raise ProcessError(f"{spiff_task.task_spec.bpmn_id}: required_if {expression!r}: {exc}") from exc

        calendar = str(spiff_task.data.get("calendar") or WORKING)  # a duration's cap counts as its deadline will
        length = self._script_engine.calendar.length
        cleaned = clean_submission(form, submitted, is_required, lambda limit: length(limit, calendar))
        for name, spec in form.items():
            code = cleaned[name]
            if spec.type == "department" and code is not None and session.get(Department, code) is None:
                raise InvalidField(name, f"unknown department code {code!r}")
        return cleaned

    def _next_case_no(self, session: Session, now: datetime) -> str:
        """Date + sequence, e.g. 20261125-0007; the counter row makes it unique across processes."""
        day = now.astimezone(self._tz).strftime("%Y%m%d")
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        statement = (
            insert(CaseNumberCounter)
            .values(day=day, last=1)
            .on_conflict_do_update(index_elements=["day"], set_={"last": CaseNumberCounter.last + 1})
            .returning(CaseNumberCounter.last)
        )
        sequence = session.execute(statement).scalar_one()
        return f"{day}-{sequence:04d}"


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id, options=[joinedload(User.roles)])  # one query, not two
    if user is None or not user.active:
        raise NotFound(f"user {user_id} does not exist")
    return user


def start_event(workflow: BpmnWorkflow) -> SpiffTask:
    """The BPMN start event of a new workflow (not SpiffWorkflow's own root task before it)."""
    return next(t for t in workflow.get_tasks() if isinstance(t.task_spec, StartEvent))


def may_start(user: User, start: SpiffTask) -> bool:
    """The start event's `start_roles` (comma separated) name who starts the process from its
    form; a process without them (the grid-management lifecycle: 上报) is not started that way."""
    roles = {role.strip() for role in properties(start).get("start_roles", "").split(",") if role.strip()}
    return bool(roles & user.role_names)


def _task_of(session: Session, user: User, task_id: int) -> Task:
    """The task row, if it exists and is the user's to work on. One of the lane who finds it
    claimed by another is late (Conflict), not shut out (Forbidden): of twenty claiming at once,
    one gets it and the other nineteen hear the same thing, whether they read the row before
    the winner's claim or after it."""
    row = session.get(Task, task_id)
    if row is None:
        raise NotFound(f"task {task_id} does not exist")
    if not may_act(user, row):
        unclaimed = Task(role=row.role, department_code=row.department_code, zone_code=row.zone_code)
        if row.assignee_id is not None and may_act(user, unclaimed):
            raise Conflict(f"task {task_id} was claimed by someone else")
        raise Forbidden("this task is not yours")
    return row


def _answers(session: Session, form: dict[str, FormField], cleaned: dict[str, Any]) -> list[dict[str, str]]:
    named = [cleaned[name] for name, spec in form.items() if spec.type == "department" and cleaned.get(name)]
    departments = {code: department.name for code in named if (department := session.get(Department, code))}
    return answers(form, cleaned, departments)


def _form(spiff_task: SpiffTask) -> dict[str, FormField]:
    return parse_form(properties(spiff_task).get("form"), spiff_task.task_spec.bpmn_id)
