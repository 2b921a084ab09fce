"""Gridflow's engine: a library with no Flask in it. Build one Gridflow per database and use
its services; web/, the command line, tests and benchmarks all come in through here."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

from .calendar import DEFAULT_WORKING_HOURS, BusinessCalendar
from .cases import CaseQueries
from .clock import Clock, SystemClock
from .db import connect, session_factory, upgrade_schema
from .directory import Directory
from .inbox import Inbox
from .repository import DefinitionRepository
from .runtime import CaseRuntime
from .scripting import make_script_engine
from .serialization import WorkflowCodec

WORKFLOWS_DIR = Path(__file__).resolve().parent.parent / "workflows"


@dataclass(frozen=True)
class Settings:
    database_url: str
    timezone: str = "Asia/Shanghai"
    working_hours: tuple[tuple[time, time], ...] = DEFAULT_WORKING_HOURS
    clock: Clock = field(default_factory=SystemClock)


class Gridflow:
    """The engine's services, each named for what it holds:
    repository (definitions), runtime (commands on cases), inbox (tasks per person),
    cases (reading cases and their history), directory (people and the organisation)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = settings.clock
        self.db = connect(settings.database_url)
        self.sessions = session_factory(self.db)
        self.calendar = BusinessCalendar(settings.timezone, settings.working_hours)
        codec = WorkflowCodec()
        self.repository = DefinitionRepository(self.sessions, self.clock, codec)
        self.directory = Directory(self.sessions)
        self.inbox = Inbox(self.sessions)
        self.cases = CaseQueries(self.sessions)
        self.runtime = CaseRuntime(
            self.sessions,
            self.clock,
            ZoneInfo(settings.timezone),
            self.repository,
            codec,
            make_script_engine(self.calendar, self.clock),
        )

    def init(self, workflows: Path = WORKFLOWS_DIR, demo: bool = False) -> None:
        """Create or upgrade the schema, deploy workflows/ where it changed, load demo data."""
        upgrade_schema(self.db)
        if demo:
            from .demo import load_demo_data

            load_demo_data(self.sessions, self.clock)
        self.repository.deploy_directory(workflows, deployed_by="system")

    def close(self) -> None:
        self.db.dispose()
