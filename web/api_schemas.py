"""The bodies /api reads and writes, each described once as a pydantic model: spectree checks a
request against its model before the view runs and puts every model in the OpenAPI document
(web/openapi.py). Shape and types only; the engine still decides what is allowed (an unknown
category, a form's own fields, a newer version). A refused field answers as the engine's do,
422 {error, field}, in the engine's words."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from flask import request
from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError
from pydantic.json_schema import SkipJsonSchema
from spectree import SpecTree
from spectree.plugins.flask_plugin import FlaskPlugin

from engine import CALENDAR_DAY_KINDS, CHANNELS, URGENCIES, InvalidField

Query = TypeVar("Query", bound=BaseModel)
INTEGER_MAX = 2**31 - 1  # PostgreSQL integer: ids, pages and counts
ROW_ID = f"int(max={INTEGER_MAX})"  # the URL converter of a row id: larger ids are 404, not a 500

if TYPE_CHECKING:  # the engine's words, known only when it runs
    Urgency = str
    Channel = str
    CalendarDayKind = str
else:
    Urgency = Literal[tuple(URGENCIES)]
    Channel = Literal[tuple(CHANNELS)]
    CalendarDayKind = Literal[tuple(CALENDAR_DAY_KINDS)]


# --- requests: strict, so that "1" is no number and 1 no text ----------------------------------

class RequestBody(BaseModel):
    model_config = ConfigDict(strict=True)


class Login(RequestBody):
    username: str = Field(min_length=1)
    password: str = Field(min_length=1)


class Report(RequestBody):
    category: str
    grid: str
    description: str = Field(max_length=4000)
    address: str = Field(max_length=256)
    urgency: Urgency
    channel: Channel

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "category": "SJ0502",
                "grid": "03-02",
                "description": "商户在店外摆放货架，占用人行道",
                "address": "人民路 18 号",
                "urgency": "normal",
                "channel": "hotline",
            }
        }
    )


class Submission(RequestBody):
    """the fields the task's (or start) form declares, by name: the diagram defines them"""

    model_config = ConfigDict(extra="allow")

    def fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


Version = Field(ge=1, le=INTEGER_MAX)


class MigrationRequest(RequestBody):
    from_version: int = Version
    to_version: int = Version
    case_ids: Annotated[list[Annotated[int, Field(ge=1, le=INTEGER_MAX)]], Field(min_length=1)] | SkipJsonSchema[
        None
    ] = Field(None, description="the cases to move; left out: every open case on from_version")
    dry_run: bool = Field(description="true: only list which cases would move and why not")

    model_config = ConfigDict(json_schema_extra={"example": {"from_version": 1, "to_version": 2, "dry_run": True}})


class CalendarDayChange(RequestBody):
    kind: CalendarDayKind
    note: str = Field("", max_length=128)


class DefinitionFiles(BaseModel):
    """one or more .bpmn and .dmn files, each as the multipart field `file`"""

    file: Any = Field(json_schema_extra={"type": "string", "format": "binary"})


# --- query strings: text, so numbers are read from it ---------------------------------------------

Text = Field("")


class CaseFilter(BaseModel):
    status: str = Text
    department: str = Text
    grid: str = Text
    page: int = Field(1, ge=1, le=INTEGER_MAX)
    per_page: int = Field(50, ge=1, le=200)


class TaskFilter(BaseModel):
    stage: str = Field("", description="the BPMN task id")
    department: str = Text
    grid: str = Text
    category: str = Text
    q: str = Field("", description="a case number or address fragment")
    limit: int = Field(200, ge=0, le=INTEGER_MAX)
    offset: int = Field(0, ge=0, le=INTEGER_MAX)


LeftOutVersion = int | SkipJsonSchema[None]  # None: not given


class VersionPair(BaseModel):
    from_version: LeftOutVersion = Field(None, alias="from", ge=1, le=INTEGER_MAX, description="default: to - 1")
    to_version: LeftOutVersion = Field(None, alias="to", ge=1, le=INTEGER_MAX, description="default: the newest")


# --- answers: every property is always there (null where the type says so); more may come --------

class Problem(BaseModel):
    """one reason a deploy was refused, naming the BPMN element (null: the whole file)"""

    element: str | None
    message: str
    file: str | None


class Error(BaseModel):
    error: str
    field: str | SkipJsonSchema[None] = None
    file: str | None = None
    element: str | None = None
    problems: list[Problem] | SkipJsonSchema[None] = None


class Health(BaseModel):
    status: Literal["ok"]


class OpenAPIDocument(RootModel[dict[str, Any]]):
    """this document"""


class SessionUser(BaseModel):
    username: str
    display_name: str
    roles: list[str]


class Session(BaseModel):
    token: str
    user: SessionUser


class Category(BaseModel):
    code: str
    family: Literal["component", "event"]
    class_code: str
    class_name: str
    name: str
    owner_department: str | None
    limit_class: str
    emergency: bool


class Grid(BaseModel):
    code: str
    name: str
    zone: str
    zone_name: str | None
    territory_department: str | None


class Department(BaseModel):
    code: str
    name: str
    kind: Literal["functional", "street"]


class Reported(BaseModel):
    id: int
    case_no: str
    status: str


class CaseCategory(BaseModel):
    code: str
    name: str | None


class CaseGrid(BaseModel):
    code: str
    name: str | None
    zone: str | None


class CaseDepartment(BaseModel):
    code: str
    name: str


class CaseSummary(BaseModel):
    id: int
    case_no: str
    status: str
    # null for a case of a process without categories, grids and addresses (公文办理)
    category: CaseCategory | None
    grid: CaseGrid | None
    department: CaseDepartment | None
    address: str | None
    description: str
    urgency: str
    channel: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int


class CaseProcess(BaseModel):
    id: str
    version: int
    version_id: int


class Photo(BaseModel):
    sha256: str
    content_type: str
    size: int
    uploaded_by: str
    uploaded_at: datetime


class Task(BaseModel):
    id: int
    case_id: int
    case_no: str
    task: str
    title: str
    role: str | None
    department: str | None
    zone: str | None
    assignee_id: int | None
    state: Literal["open", "completed", "cancelled"]
    deadline_state: Literal["normal", "warning", "overdue"]
    created_at: datetime
    due_at: datetime | None
    completed_at: datetime | None
    completed_by: str | None


class InboxTask(Task):
    address: str = Field(description="the case's address, or the start of its subject when it has none (a document)")
    grid: str | None
    category: str | None


class Event(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    task: str | None
    from_status: str | None
    to_status: str | None
    detail: dict[str, Any]
    department_code: str | None
    outcome: str | None
    deadline_state: str | None
    working_seconds: int | None
    overdue_seconds: int | None


class Case(CaseSummary):
    """a case with its process, photos, open tasks and history"""

    process: CaseProcess
    photos: list[Photo]
    tasks: list[Task]
    history: list[Event]


class CasePage(BaseModel):
    page: int
    per_page: int
    total: int
    cases: list[CaseSummary]


class FormField(BaseModel):
    name: str
    type: str
    label: str
    required: bool
    required_if: str | None
    choices: dict[str, str] | None
    default: Any = Field(description="the value the diagram prefills")


class TaskForm(BaseModel):
    id: int
    case_id: int
    task: str
    title: str
    role: str | None
    assignee_id: int | None
    state: str
    fields: list[FormField]


class StartForm(BaseModel):
    id: str
    name: str
    version: int
    fields: list[dict[str, Any]]


class DeployedFile(BaseModel):
    name: str
    kind: Literal["bpmn", "dmn"]
    version: int
    sha256: str
    deployed_by: str
    deployed_at: datetime


class DeployedProcess(BaseModel):
    id: str
    name: str
    version: int
    files: dict[str, int]
    deployed_by: str
    deployed_at: datetime
    running_cases: int


class Definitions(BaseModel):
    files: list[DeployedFile]
    processes: list[DeployedProcess]


class FileVersion(BaseModel):
    name: str
    version: int


class ProcessVersion(BaseModel):
    id: str
    version: int


class Deployment(BaseModel):
    files: list[FileVersion]
    processes: list[ProcessVersion]


class DefinitionElement(BaseModel):
    element: str
    process: str
    type: str
    name: str | None
    lane: str | None


class ElementChange(BaseModel):
    what: str = Field(
        description="name, lane, property <name>, timer, script, condition towards <element>, incoming, outgoing, "
        "attached to, decision table <id> rule <id>, ..."
    )
    before: Any = Field(alias="from", description="before; null: absent")
    after: Any = Field(alias="to", description="after; null: absent")


class ChangedElement(DefinitionElement):
    changes: list[ElementChange]


class DiffedVersion(BaseModel):
    version: int
    files: dict[str, int]
    deployed_by: str
    deployed_at: datetime


class DefinitionDiff(BaseModel):
    process_id: str
    from_version: DiffedVersion = Field(alias="from")
    to_version: DiffedVersion = Field(alias="to")
    added: list[DefinitionElement]
    removed: list[DefinitionElement]
    changed: list[ChangedElement]


class CaseMove(BaseModel):
    case_id: int
    case_no: str | None
    status: str | None
    waiting_on: list[str]
    reasons: list[str]


class MigrationReport(BaseModel):
    process_id: str
    from_version: int
    to_version: int
    dry_run: bool
    migrated: list[CaseMove]
    not_migrated: list[CaseMove]


class CalendarDay(BaseModel):
    day: date
    kind: CalendarDayKind
    note: str


# --- a refused model is a refused field, in the engine's words --------------------------------------

def _refusal(error: ValidationError, model: type[BaseModel]) -> InvalidField:
    """The first problem pydantic found, as the engine would have named it."""
    problem = error.errors(include_url=False)[0]
    where = problem["loc"]
    field = str(where[0]) if where else "body"
    schema = _property(model, where)
    kind, context = problem["type"], problem.get("ctx") or {}
    if kind == "missing" or (problem.get("input") is None and kind.endswith("_type")):
        return InvalidField(field, "required")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return InvalidField(field, "must be a JSON object")
    if kind == "string_type":
        return InvalidField(field, "must be a string")
    if kind == "string_too_short" and context.get("min_length") == 1:
        return InvalidField(field, "required")
    if kind == "string_too_long":
        return InvalidField(field, f"must be at most {context['max_length']} characters")
    if kind in ("bool_type", "bool_parsing"):
        return InvalidField(field, "must be true or false")
    if kind in ("literal_error", "enum"):
        return InvalidField(field, f"must be one of: {', '.join(map(str, schema.get('enum', [])))}")
    if kind.startswith("int_") or kind in ("greater_than_equal", "less_than_equal"):
        if "minimum" in schema and "maximum" in schema:
            return InvalidField(field, f"must be a whole number from {schema['minimum']} to {schema['maximum']}")
        return InvalidField(field, "must be a whole number")
    if kind in ("list_type", "too_short"):
        return InvalidField(field, "must be a non-empty list")
    return InvalidField(field, problem["msg"])


def _property(model: type[BaseModel], where: tuple[int | str, ...]) -> dict[str, Any]:
    """The JSON schema of the value at `where` in the model: its bounds and choices."""
    schema: dict[str, Any] = model.model_json_schema()
    for step in where:
        schema = schema.get("properties", {}).get(step, {}) if isinstance(step, str) else schema.get("items", {})
        if "$ref" in schema or "anyOf" in schema:
            return {}
    return schema


def read_query(model: type[Query]) -> Query:
    """The query string as its model, for a page that is no /api operation."""
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as error:
        raise _refusal(error, model) from error


class _GridflowPlugin(FlaskPlugin):
    """Spectree's Flask plugin answering a refused request as the engine does; a response is
    not checked at run time (schemathesis in the tests checks answers against the document)."""

    def request_validation(self, request: Any, query: Any, json: Any, form: Any, headers: Any, cookies: Any) -> None:
        if json is not None and not isinstance(request.get_json(silent=True), dict):
            raise InvalidField("body", "must be a JSON object (Content-Type: application/json)")
        try:
            super().request_validation(request, query, json, form, headers, cookies)
        except ValidationError as error:
            model = next(m for m in (query, json, form) if m is not None and m.__name__ == error.title)
            raise _refusal(error, model) from error

    def validate_response(self, resp: Any, resp_model: Any, skip_validation: bool, force_resp_serialize: bool) -> Any:
        return super().validate_response(resp, resp_model, True, force_resp_serialize)


# Only the routes decorated with api_spec.validate are documented; component names are the models'.
api_spec = SpecTree(
    backend=_GridflowPlugin,
    mode="strict",
    annotations=False,
    validation_error_status=422,
    validation_error_model=Error,
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
)
