"""The answers /api gives, each described once as a pydantic model for the OpenAPI document:
every property is always there (null where the type says so); more may come."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, RootModel
from pydantic.json_schema import SkipJsonSchema

from engine import CALENDAR_DAY_KINDS, CHANNELS, URGENCIES

if TYPE_CHECKING:  # the engine's words, known only when it runs
    Urgency = str
    Channel = str
    CalendarDayKind = str
else:
    Urgency = Literal[tuple(URGENCIES)]
    Channel = Literal[tuple(CHANNELS)]
    CalendarDayKind = Literal[tuple(CALENDAR_DAY_KINDS)]

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




# --- the map (一张图): GeoJSON --------------------------------------------------------------------

class Coded(BaseModel):
    code: str
    name: str


class GridProperties(BaseModel):
    code: str
    name: str
    zone: str


class GridFeature(BaseModel):
    type: Literal["Feature"]
    properties: GridProperties
    geometry: dict[str, Any] | None = Field(description="a GeoJSON Polygon or MultiPolygon (WGS84); null: none yet")


class GridCollection(BaseModel):
    """the grids' outlines as a city GIS reads them"""

    type: Literal["FeatureCollection"]
    features: list[GridFeature]


class PointGeometry(BaseModel):
    type: Literal["Point"]
    coordinates: list[float] = Field(description="[longitude, latitude], WGS84")


class MapCaseProperties(BaseModel):
    id: int
    case_no: str
    status: str
    category: Coded | None
    department: Coded | None
    grid: str | None
    urgency: str
    deadline_state: Literal["normal", "warning", "overdue"] = Field(description="the worst of its open tasks")
    due_at: datetime | None = Field(description="the nearest deadline of its open tasks")
    reported_at: datetime


class MapCase(BaseModel):
    type: Literal["Feature"]
    id: int
    geometry: PointGeometry
    properties: MapCaseProperties


class MapCases(BaseModel):
    """open cases in the box, oldest first; `total` all that match, this page from `offset`"""

    type: Literal["FeatureCollection"]
    features: list[MapCase]
    total: int
    limit: int
    offset: int


class NearComponent(BaseModel):
    id: int
    code: str
    category: str
    owner_department: str | None
    state: str
    lat: float
    long: float
    metres: float
