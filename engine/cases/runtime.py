"""Commands on cases: report, start, complete, claim and release, fire timers; and the reads
that need a workflow. Each runs through the store's transaction boundary (persistence.py)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from ..deadlines import WORKING
from ..definitions import DefinitionRepository
from ..errors import Conflict, Forbidden, NotFound
from ..execution import GridflowScriptEngine, WorkflowCache, WorkflowCodec, is_timer
from ..geo import GridMap
from ..storage import (
    Case,
    CaseNumberCounter,
    CasePhoto,
    Task,
    Timer,
    record,
)
from ..vocabulary import STARTED_BY_FORM, SYSTEM_ACTOR, URGENCIES
from .checks import answers_of, check_answers, check_report, form_of, may_start, start_event, task_of, user_of
from .persistence import CaseStore, Completion
from .photos import PhotoStore
from .projection import CaseRows, case_rows, evaluate, properties

LIFECYCLE = "case_lifecycle"


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
        grids: GridMap,
    ) -> None:
        self._sessions = sessions
        self._grids = grids
        self._tz = timezone
        self._repository = repository
        self._codec = codec
        self._script_engine = script_engine
        self._photos = photos
        self._store = CaseStore(sessions, repository, codec, script_engine, workflows)
        self.store = self._store  # the benchmark times its steps
        self.timer_listeners = self._store.timer_listeners

    # --- commands ---------------------------------------------------------------------------

    def report_case(
        self, reporter_id: int, report: Any, photos: Sequence[bytes] = (), source: dict[str, Any] | None = None
    ) -> int:
        """上报: start a case on the newest lifecycle version, with its photos. Returns its id.
        `source` is what only the reporting channel knows (an Open311 client, the citizen's
        contact), kept on the report's audit event for the centre and never shown publicly."""
        with self._store.command() as (session, now):
            reporter = user_of(session, reporter_id)
            checked = check_report(session, reporter, report, self._grids)
            category, grid, fields, component = checked.category, checked.grid, checked.fields, checked.component
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
                lon=checked.position[0] if checked.position else None,
                lat=checked.position[1] if checked.position else None,
                component_id=component.id if component else None,
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
                component=component.code if component else None,
                component_owner=component.owner_department_code if component else None,
                limit_class=category.limit_class,
                emergency=category.emergency,
                grid=grid.code,
                zone=grid.zone_code,
                territory_department=grid.territory_department_code,
                urgency=case.urgency,
                channel=case.channel,
            )
            self._store.run(workflow)
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
            projection = self._store.save(
                session, now, case, CaseRows(), workflow, reporter.username, "report", None, detail
            )
        self._store.committed(case, workflow, projection)
        return case.id

    def start_case(self, starter_id: int, process_id: str, submitted: Any) -> int:
        """发起: start a case of any deployed process from its start event's form, e.g. a document
        (公文办理). The start event says who may start it (`start_roles`), what it asks (`form`)
        and the case's subject (`subject`, an expression on the fields). Returns the case id."""
        with self._store.command() as (session, now):
            starter = user_of(session, starter_id)
            process = self._repository.latest_process(session, process_id)
            workflow = BpmnWorkflow(*self._repository.specs(session, process.id), script_engine=self._script_engine)
            start = start_event(workflow)
            if not may_start(starter, start):
                raise Forbidden(f"process {process_id!r} is not started by your role")
            form = form_of(start)
            cleaned = check_answers(self._script_engine, session, start, form, submitted)
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
            self._store.run(workflow)
            detail = {"process": process.process_id, "process_version": process.version, "fields": cleaned,
                      "answers": answers_of(session, form, cleaned)}
            projection = self._store.save(
                session, now, case, CaseRows(), workflow, starter.username, "start", None, detail
            )
        self._store.committed(case, workflow, projection)
        return case.id

    def start_forms(self, user_id: int, process_id: str | None = None) -> list[dict[str, Any]]:
        """The processes this person may start from a form (or just the one named), newest
        version of each, with the form."""
        with self._sessions() as session:
            user = user_of(session, user_id)
            forms = []
            for process in self._repository.latest_processes(session):
                if process_id is not None and process.process_id != process_id:
                    continue
                start = start_event(BpmnWorkflow(*self._repository.specs(session, process.id)))
                if may_start(user, start):
                    fields = [
                        spec.as_dict()
                        | {"default": evaluate(self._script_engine, start, spec.default) if spec.default else None}
                        for spec in form_of(start).values()
                    ]
                    forms.append({"id": process.process_id, "name": process.name, "version": process.version,
                                  "fields": fields})
            return forms

    def complete_task(self, actor_id: int, task_id: int, submitted: Any) -> int:
        """Complete a human task with the fields its form declares. Returns the case id."""
        with self._store.command() as (session, now):
            actor = user_of(session, actor_id)
            row = task_of(session, actor, task_id)
            if row.state != "open":
                raise Conflict(f"task {task_id} is already {row.state}")
            case = session.get(Case, row.case_id)
            assert case is not None
            workflow = self._store.load(session, case)
            stored = case_rows(session, case.id)
            # What fell due before this instant happens first, as if the scheduler had been
            # exact: a late answer is still recorded overdue (and an interrupting timer wins).
            if stored.timer_due(now):
                self._store.run(workflow, refresh_timers=True)
            spiff_task = workflow.get_task_from_id(UUID(row.spiff_task_id))
            if spiff_task is None or spiff_task.state != TaskState.READY:
                raise Conflict(f"task {task_id} is no longer waiting")
            form = form_of(spiff_task)
            cleaned = check_answers(self._script_engine, session, spiff_task, form, submitted)
            spiff_task.data.update(cleaned)
            self._store.run(workflow, spiff_task)
            row.state = "completed"
            row.completed_at = now
            row.completed_by = actor.username
            detail = {"title": row.title, "fields": cleaned, "answers": answers_of(session, form, cleaned)}
            measured = self._measure(spiff_task, row, now)
            projection = self._store.save(
                session, now, case, stored, workflow, actor.username, "complete", row, detail, measured
            )
        self._store.committed(case, workflow, projection)
        return case.id

    def fire_timers(self, case_id: int) -> int:
        """Let the case's workflow fire what is due by now. Returns how many timers fired.
        On PostgreSQL the case row is claimed with FOR UPDATE SKIP LOCKED: a case another
        process is firing is skipped here (0), not waited for and then refused."""
        with self._store.command() as (session, now):
            if session.get_bind().dialect.name == "postgresql":
                claimed = select(Case.id).where(Case.id == case_id).with_for_update(skip_locked=True)
                if session.scalar(claimed) is None:
                    return 0
            case = session.get(Case, case_id)
            if case is None:
                raise NotFound(f"case {case_id} does not exist")
            workflow = self._store.load(session, case)
            stored = case_rows(session, case.id)
            self._store.run(workflow, refresh_timers=True)
            projection = self._store.save(session, now, case, stored, workflow, SYSTEM_ACTOR, None, None, {})
        self._store.committed(case, workflow, projection)
        return sum(f.times for f in projection.fired)

    def claim_task(self, user_id: int, task_id: int) -> None:
        """Take a task that several people share (a lane, not a person) so others stop seeing it."""
        self._assign(user_id, task_id, claim=True)

    def release_task(self, user_id: int, task_id: int) -> None:
        """Give a claimed task back to everyone in its lane."""
        self._assign(user_id, task_id, claim=False)

    def _assign(self, user_id: int, task_id: int, claim: bool) -> None:
        with self._store.command() as (session, now):
            user = user_of(session, user_id)
            row = task_of(session, user, task_id)
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

    # --- reads that need the workflow -------------------------------------------------------

    def task_form(self, user_id: int, task_id: int) -> dict[str, Any]:
        """The form of a task with the values the diagram prefills (e.g. the suggested department)."""
        with self._sessions() as session:
            user = user_of(session, user_id)
            row = task_of(session, user, task_id)
            case = session.get(Case, row.case_id)
            assert case is not None
            fields = []
            if row.state == "open":
                # Not the cached workflow: a command may be changing that one right now.
                workflow = self._store.restore(session, case)
                spiff_task = workflow.get_task_from_id(UUID(row.spiff_task_id))
                for spec in form_of(spiff_task).values():
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
                    workflow = self._store.restore(session, case)
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


