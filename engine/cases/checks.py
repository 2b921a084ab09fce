"""What a command accepts, and from whom: a report's fields, a form's answers, who may start a
process and who may act on a task. Each refusal names its field or says whose the task is."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.task import Task as SpiffTask
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from ..deadlines import WORKING
from ..definitions import FormField, answers, clean_submission, parse_form
from ..errors import Conflict, Forbidden, InvalidField, NotFound, ProcessError
from ..execution import GridflowScriptEngine
from ..geo import GridMap, checked_position
from ..storage import Category, Component, Department, Grid, Task, User, column_fits
from ..vocabulary import CHANNELS, URGENCIES
from .inbox import may_act
from .projection import properties

REPORT_TEXT_LIMITS = {"description": 4000, "address": 256}  # 4000: Open311's limit, so a citizen's text is kept whole


@dataclass(frozen=True)
class CheckedReport:
    category: Category
    grid: Grid
    fields: dict[str, str]
    position: tuple[float, float] | None  # (lon, lat)
    component: Component | None


def check_report(session: Session, reporter: User, report: Any, grids: GridMap) -> CheckedReport:
    """The fields of a report (上报), each named when it is refused. A position (`lat`, `long`)
    finds the grid when none is given, and must lie in the grid that is given; a component
    (`component`, its code) must be of the report's category."""
    if not isinstance(report, dict):
        raise InvalidField("body", "must be a JSON object")
    position = checked_position(report)
    fields: dict[str, str] = {}
    for name in ("category", "grid", "description", "address", "urgency", "channel"):
        value = report.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if name == "grid" and position is not None:
                continue  # found from the position below
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
    if position is not None:
        found = grids.grid_at(session, *position)
        if found is None:
            raise InvalidField("lat", "the position (lat, long) lies in no grid of the city")
        if fields.get("grid", found) != found:
            raise InvalidField("grid", f"the position (lat, long) lies in grid {found}, not {fields['grid']}")
        fields["grid"] = found
    grid = session.get(Grid, fields["grid"])
    if grid is None:
        raise InvalidField("grid", f"unknown grid code {fields['grid']!r}")
    return CheckedReport(category, grid, fields, position, _component(session, report, category))


def _component(session: Session, report: dict[str, Any], category: Category) -> Component | None:
    code = report.get("component")
    if code is None or code == "":
        return None
    if not isinstance(code, str):
        raise InvalidField("component", "must be a component's code")
    named = select(Component).where(Component.code == code)
    found = session.scalar(named) if column_fits(Component.code, code) else None
    if found is None:
        raise InvalidField("component", f"unknown component {code!r}")
    if found.category_code != category.code:
        raise InvalidField("component", f"component {code} is a {found.category_code}, not a {category.code}")
    return found


def check_answers(
    script_engine: GridflowScriptEngine,
    session: Session,
    spiff_task: SpiffTask,
    form: dict[str, FormField],
    submitted: Any,
) -> dict[str, Any]:
    """The answers to a task's form, cleaned; a duration's cap counts on the case's calendar."""

    def is_required(expression: str, values: dict[str, Any]) -> bool:
        try:
            return bool(script_engine.environment.evaluate(expression, {**spiff_task.data, **values}))
        except Exception as exc:  # a broken required_if is the diagram's fault, not the user's
            raise ProcessError(f"{spiff_task.task_spec.bpmn_id}: required_if {expression!r}: {exc}") from exc

    calendar = str(spiff_task.data.get("calendar") or WORKING)  # a duration's cap counts as its deadline will
    length = script_engine.calendar.length
    cleaned = clean_submission(form, submitted, is_required, lambda limit: length(limit, calendar))
    for name, spec in form.items():
        code = cleaned[name]
        if spec.type == "department" and code is not None and session.get(Department, code) is None:
            raise InvalidField(name, f"unknown department code {code!r}")
    return cleaned


def user_of(session: Session, user_id: int) -> User:
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


def task_of(session: Session, user: User, task_id: int) -> Task:
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


def answers_of(session: Session, form: dict[str, FormField], cleaned: dict[str, Any]) -> list[dict[str, str]]:
    named = [cleaned[name] for name, spec in form.items() if spec.type == "department" and cleaned.get(name)]
    departments = {code: department.name for code in named if (department := session.get(Department, code))}
    return answers(form, cleaned, departments)


def form_of(spiff_task: SpiffTask) -> dict[str, FormField]:
    return parse_form(properties(spiff_task).get("form"), spiff_task.task_spec.bpmn_id)
