"""Gridflow's engine: a library with no Flask in it. Build one Gridflow per database and use
its services; web/, the command line, tests and benchmarks all come in through here."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url

from .assessment import ASSESSORS, FAILS_FLAGGED, PASS_MARK, SCORE_WEIGHTS, Assessment, GridSampling, Period, draw_grids
from .cases import (  # 一张图
    CaseMap,
    CaseMigration,
    CaseQueries,
    CaseRuntime,
    Inbox,
    MigrationRequest,
    PhotoStore,
    TimerScheduler,
    parse_bbox,
    parse_period,
)
from .deadlines import (
    DEFAULT_WORKING_HOURS,
    BusinessCalendar,
    CalendarDays,
    Clock,
    ManualClock,
    SystemClock,
    parse_working_hours,
)
from .definitions import DefinitionRepository, Upload
from .errors import (
    Conflict,
    DefinitionError,
    DeployRefused,
    Forbidden,
    GridflowError,
    InvalidField,
    LoginThrottled,
    NotAuthenticated,
    NotFound,
    Problem,
    ProcessError,
)
from .execution import DEFAULT_TIME_LIMIT, GridflowScriptEngine, WorkflowCache, WorkflowCodec
from .geo import NEAREST_WITHIN_M, ComponentCensus, GridMap, ImportReport, csv_lines
from .intake import OPEN311_FIELD_LENGTHS, OPEN311_STATUSES, Open311, PublicCase
from .office import DEMO_PASSWORD, Directory, ReferenceData, load_demo_data
from .storage import User, connect, session_factory, upgrade_schema
from .storage import models as tables  # the typed tables, for benchmarks that copy and count rows
from .vocabulary import ADMINISTRATOR, CALENDAR_DAY_KINDS, CHANNELS, ROLES, SYSTEM_ACTOR, URGENCIES

# The one door: web/, the command line and the benchmarks import these names from `engine` and
# nothing from its packages - the services Gridflow builds, what callers hand in and get back,
# the errors they catch, and the engine's words.
__all__ = [
    "ADMINISTRATOR", "ASSESSORS", "CALENDAR_DAY_KINDS", "CHANNELS", "DEMO_PASSWORD", "FAILS_FLAGGED",
    "OPEN311_FIELD_LENGTHS", "OPEN311_STATUSES", "PASS_MARK", "ROLES", "SCORE_WEIGHTS", "SYSTEM_ACTOR",
    "URGENCIES", "WORKFLOWS_DIR",
    "Assessment", "BusinessCalendar", "CalendarDays", "CaseMigration", "CaseQueries", "CaseRuntime", "Clock",
    "Conflict", "DefinitionError", "DefinitionRepository", "DeployRefused", "Directory", "Forbidden",
    "ComponentCensus", "Gridflow", "GridflowError", "GridMap", "GridSampling", "ImportReport", "Inbox",
    "InvalidField", "LoginThrottled", "ManualClock",
    "MigrationRequest", "NotAuthenticated", "NotFound", "Open311", "Period", "PhotoStore", "Problem",
    "ProcessError", "PublicCase", "ReferenceData", "Settings", "SystemClock", "TimerScheduler", "Upload", "User",
    "draw_grids", "parse_working_hours", "tables",
    "csv_lines",
    "CaseMap", "parse_bbox", "parse_period",
]

WORKFLOWS_DIR = Path(__file__).resolve().parent.parent / "workflows"


@dataclass(frozen=True)
class Settings:
    database_url: str
    timezone: str = "Asia/Shanghai"
    working_hours: tuple[tuple[time, time], ...] = DEFAULT_WORKING_HOURS
    timer_sweep_seconds: float = 60.0
    photo_dir: Path | None = None  # default: beside the SQLite file, else ./instance/photos
    clock: Clock = field(default_factory=SystemClock)
    workflow_cache_size: int = 1000  # open cases whose workflow stays in memory (30-80 KB each)
    sampling_count: int = 11  # grids drawn for the monthly inspection (每月网格抽查), of all grids
    script_time_limit: float = DEFAULT_TIME_LIMIT  # seconds each of a diagram's expressions or scripts may run
    nearest_component_m: float = NEAREST_WITHIN_M  # a reported 部件 proposes the nearest of its subtype this close


class Gridflow:
    """The engine's services, each named for what it holds:
    repository (definitions), runtime (commands on cases), inbox (tasks per person),
    cases (reading cases and their history), directory (people and the organisation),
    calendar_days (the extra holidays and working days), timers (firing what is due)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = settings.clock
        self.db = connect(settings.database_url)
        self.sessions = session_factory(self.db)
        self.calendar = BusinessCalendar(settings.timezone, settings.working_hours)
        self.calendar_days = CalendarDays(self.sessions, self.calendar, self.clock)
        self.photos = PhotoStore(settings.photo_dir or _photo_dir_beside(settings.database_url))
        codec = self.codec = WorkflowCodec()  # specs once, state per case
        self.repository = DefinitionRepository(self.sessions, self.clock, codec, settings.script_time_limit)
        self.directory = Directory(self.sessions, self.clock)
        self.reference = ReferenceData(self.sessions, self.clock)  # 基础数据: the administrator's changes
        self.inbox = Inbox(self.sessions)
        self.cases = CaseQueries(self.sessions)
        self.case_map = CaseMap(self.sessions, ZoneInfo(settings.timezone))  # 一张图: open cases on the map
        self.sampling = GridSampling(
            self.sessions, self.clock, self.photos, ZoneInfo(settings.timezone), settings.sampling_count
        )
        self.assessment = Assessment(self.sessions, ZoneInfo(settings.timezone))
        # Diagrams' functions, one instant a command, each evaluation restricted and time-limited.
        script_engine = GridflowScriptEngine(self.calendar, self.clock, settings.script_time_limit)
        self.script_engine = script_engine
        self.grids = GridMap(self.sessions, self.clock)  # outlines, and which grid a position is in
        self.components = ComponentCensus(self.sessions, self.clock, settings.nearest_component_m)  # 部件普查
        self.runtime = CaseRuntime(
            self.sessions,
            ZoneInfo(settings.timezone),
            self.repository,
            codec,
            script_engine,
            self.photos,
            WorkflowCache(settings.workflow_cache_size),
            self.grids,
        )
        self.timers = TimerScheduler(
            self.sessions, self.runtime, self.clock, self.calendar_days, sweep_seconds=settings.timer_sweep_seconds
        )
        self.runtime.timer_listeners.append(self.timers.timers_changed)
        # Moving running cases to a newer process version (迁移); it tells the scheduler too.
        self.migrations = CaseMigration(self.sessions, self.repository, codec, script_engine)
        self.migrations.timer_listeners.append(self.timers.timers_changed)
        self.open311 = Open311(self.sessions, self.clock, self.runtime)  # outside clients' keys and requests

    def init(self, workflows: Path = WORKFLOWS_DIR, demo: bool = False) -> None:
        """Create or upgrade the schema, deploy workflows/ where it changed, load demo data."""
        upgrade_schema(self.db)
        if demo:
            load_demo_data(self.sessions, self.clock)
        self.repository.deploy_directory(workflows, deployed_by=SYSTEM_ACTOR)
        self.calendar_days.reload()

    def close(self) -> None:
        self.timers.stop()
        self.db.dispose()


def _photo_dir_beside(database_url: str) -> Path:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / "photos"
    return Path("instance") / "photos"
