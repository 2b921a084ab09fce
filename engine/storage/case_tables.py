"""The tables of process definitions and of cases: their workflow state, their tasks, photos and
timers, the calendar's extra days and the audit trail. (The organisation's tables, the sampling's
and the outside world's are in office_tables.py.)"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from .base import Base

# --- process definitions ---------------------------------------------------------------------

class DefinitionFile(Base):
    """One deployed version of one BPMN or DMN file, kept for ever."""

    __tablename__ = "definition_file"
    __table_args__ = (UniqueConstraint("name", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(8))  # bpmn | dmn
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = deferred(mapped_column(Text, nullable=False))
    sha256: Mapped[str] = mapped_column(String(64))
    deployed_by: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime]


class ProcessVersion(Base):
    """One executable process as parsed from a set of file versions; cases start on one."""

    __tablename__ = "process_version"
    __table_args__ = (UniqueConstraint("process_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    spec: Mapped[str] = deferred(mapped_column(Text, nullable=False))  # serialized spec + subprocess specs
    sha256: Mapped[str] = mapped_column(String(64))
    files: Mapped[dict[str, Any]]  # file name -> file version it was built from
    deployed_by: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime]


# --- cases and their work --------------------------------------------------------------------

class Case(Base):
    __tablename__ = "case"
    __table_args__ = (
        Index("ix_case_status", "status"),
        Index("ix_case_department", "department_code"),
        Index("ix_case_grid", "grid_code"),
        Index("ix_case_id_grid", "id", "grid_code"),  # a case's grid without reading its row (assessment)
        Index("ix_case_position", "lat", "lon"),  # 一张图: the cases in a map's bounding box
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(32), unique=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"))
    status: Mapped[str] = mapped_column(String(32))
    # A grid-management case has a category, a grid and an address; a case of another process
    # (公文办理: a document) has none of them, only what its start form asked.
    category_code: Mapped[str | None] = mapped_column(ForeignKey("category.code"))
    grid_code: Mapped[str | None] = mapped_column(ForeignKey("grid.code"))
    zone_code: Mapped[str | None] = mapped_column(ForeignKey("zone.code"))
    department_code: Mapped[str | None] = mapped_column(ForeignKey("department.code"))
    address: Mapped[str | None] = mapped_column(String(256))
    # Where it was reported (WGS84); no position for cases reported without one.
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    # The component it concerns (部件), a plain id: components come and go by census imports.
    component_id: Mapped[int | None] = mapped_column(Integer, index=True)
    description: Mapped[str] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    reporter_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    # Optimistic lock: every command bumps it, and the UPDATE matches only the version it read,
    # so a second writer fails with a conflict instead of overwriting the first - even when
    # its change leaves every other column as it was.
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class CaseWorkflow(Base):
    """The SpiffWorkflow state of one case, without its spec (kept once per ProcessVersion)."""

    __tablename__ = "case_workflow"
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), primary_key=True)
    state: Mapped[str] = mapped_column(Text)


class Task(Base):
    """A human task SpiffWorkflow made ready, projected so inboxes never load a workflow."""

    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_open_role", "state", "role", "due_at"),
        Index("ix_task_open_department", "state", "department_code"),
        Index("ix_task_open_zone", "state", "zone_code"),
        Index("ix_task_case", "case_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    task: Mapped[str] = mapped_column(String(128))  # the BPMN element id
    title: Mapped[str] = mapped_column(String(128))
    role: Mapped[str | None] = mapped_column(String(32))  # the lane
    department_code: Mapped[str | None] = mapped_column(String(16))
    zone_code: Mapped[str | None] = mapped_column(String(8))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | completed | cancelled
    deadline_state: Mapped[str] = mapped_column(String(16), default="normal")  # normal | warning | overdue
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(64))


class CasePhoto(Base):
    """A photo of a case. The bytes live on disk under their SHA-256 (beside the database);
    the row says whose case, who took it, when, and the hash to check the file against."""

    __tablename__ = "case_photo"
    __table_args__ = (Index("ix_case_photo_case", "case_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]


class Timer(Base):
    """A timer SpiffWorkflow is waiting on, projected with its due instant so that the scheduler
    finds what is due with one indexed query and never loads a workflow to look."""

    __tablename__ = "timer"
    __table_args__ = (
        Index("ix_timer_waiting_due", "state", "due_at"),
        Index("ix_timer_case", "case_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    event: Mapped[str] = mapped_column(String(128))  # the BPMN id of the timer event
    kind: Mapped[str] = mapped_column(String(32))  # warning | overdue | reminder | step_up | timer
    attached_task: Mapped[str | None] = mapped_column(String(128))  # the activity a boundary timer sits on
    due_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(16), default="waiting")  # waiting | fired | cancelled
    fired_count: Mapped[int] = mapped_column(Integer, default=0)  # a cycle (催办) fires many times
    fired_at: Mapped[datetime | None]


class CalendarDay(Base):
    """A day the holiday package does not know yet: an extra holiday or an extra working day."""

    __tablename__ = "calendar_day"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # holiday | working
    note: Mapped[str] = mapped_column(String(128), default="")


class AuditEvent(Base):
    """Append-only: who did what, when, and from which status to which. A completion also
    records what the assessment (考核) counts, fixed at the moment it happened: the department
    answerable, how the task ended, whether it was late and by how much working time."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_case", "case_id", "id"),
        # The assessment reads only these columns of a period's events: the index covers them,
        # so its aggregates never read the wide rows (detail JSON) of 100,000 cases.
        Index(
            "ix_audit_assessment", "action", "at", "department_code", "outcome", "deadline_state",
            "overdue_seconds", "working_seconds", "case_id", "actor",
        ),
        Index("ix_audit_outcome_case", "outcome", "case_id", "department_code", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    task: Mapped[str | None] = mapped_column(String(128))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    department_code: Mapped[str | None] = mapped_column(String(16))  # answerable for the case then
    outcome: Mapped[str | None] = mapped_column(String(32))  # the task's `outcome` property
    deadline_state: Mapped[str | None] = mapped_column(String(16))  # of the task when completed / set by a timer
    working_seconds: Mapped[int | None] = mapped_column(Integer)  # from the task opening to its completion
    overdue_seconds: Mapped[int | None] = mapped_column(Integer)  # past the task's deadline, 0 when in time


class CaseNumberCounter(Base):
    __tablename__ = "case_number_counter"
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)
