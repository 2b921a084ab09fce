"""Every table, in one place for whoever needs them all (Alembic, the benchmarks). Every instant
is stored in UTC and comes back timezone-aware."""
from __future__ import annotations

from .base import Base, UtcDateTime
from .case_tables import (
    AuditEvent,
    CalendarDay,
    Case,
    CaseNumberCounter,
    CasePhoto,
    CaseWorkflow,
    DefinitionFile,
    ProcessVersion,
    Task,
    Timer,
)
from .office_tables import (
    Category,
    Component,
    Department,
    Grid,
    GridInspection,
    GridInspectionPhoto,
    LoginFailure,
    Open311Client,
    ReferenceVersion,
    SamplingDraw,
    User,
    UserRole,
    Zone,
)

__all__ = [
    "AuditEvent",
    "Base",
    "CalendarDay",
    "Case",
    "CaseNumberCounter",
    "CasePhoto",
    "CaseWorkflow",
    "Category",
    "Component",
    "DefinitionFile",
    "Department",
    "Grid",
    "GridInspection",
    "GridInspectionPhoto",
    "LoginFailure",
    "Open311Client",
    "ProcessVersion",
    "ReferenceVersion",
    "SamplingDraw",
    "Task",
    "Timer",
    "User",
    "UserRole",
    "UtcDateTime",
    "Zone",
]
