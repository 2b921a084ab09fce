"""The tables. Every instant is stored in UTC and comes back timezone-aware."""
from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column, relationship


class UtcDateTime(TypeDecorator[datetime]):
    """Naive UTC in the database (SQLite keeps no zone), aware UTC in Python."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON}


# --- reference data: the organisation -------------------------------------------------------

class Department(Base):
    __tablename__ = "department"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    # "functional" bureaus own things (先属主); "street" offices own territory (后属地)
    kind: Mapped[str] = mapped_column(String(16), default="functional")


class Zone(Base):
    __tablename__ = "zone"
    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))


class Grid(Base):
    __tablename__ = "grid"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    zone_code: Mapped[str] = mapped_column(ForeignKey("zone.code"), index=True)
    territory_department_code: Mapped[str | None] = mapped_column(ForeignKey("department.code"))


class Category(Base):
    __tablename__ = "category"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    family: Mapped[str] = mapped_column(String(16))  # component (部件) | event (事件)
    class_code: Mapped[str] = mapped_column(String(8))
    class_name: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    owner_department_code: Mapped[str | None] = mapped_column(ForeignKey("department.code"))
    limit_class: Mapped[str] = mapped_column(String(16), default="normal")  # normal | complex | hard
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)  # natural time, 24x7


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(256))
    department_code: Mapped[str | None] = mapped_column(ForeignKey("department.code"))
    zone_code: Mapped[str | None] = mapped_column(ForeignKey("zone.code"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # In every session cookie and API token; logging out, a new password, deactivation and
    # reactivation add one, and every cookie and token carrying an older number stops working.
    credential_version: Mapped[int] = mapped_column(Integer, default=0)
    roles: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}


class UserRole(Base):
    __tablename__ = "user_role"
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


class LoginFailure(Base):
    """Wrong passwords counted per account ("user:<name>") and per client address ("addr:<ip>"),
    in the database so that every process of the service counts the same failures."""

    __tablename__ = "login_failure"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime]  # the first failure counted
    locked_until: Mapped[datetime | None]  # refused without a look at the password until then


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


# --- the monthly grid sampling (每月网格抽查) --------------------------------------------------

class SamplingDraw(Base):
    """One month's random draw of grids to inspect. The seed and the grid list drawn from are
    kept so that anyone can re-do the draw (engine.sampling.draw_grids) and check it."""

    __tablename__ = "sampling_draw"
    __table_args__ = (UniqueConstraint("month", name="uq_sampling_draw_month"),)  # one draw a month
    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM in the office's time zone
    seed: Mapped[str] = mapped_column(String(20))  # decimal: a 64-bit seed does not fit a signed BIGINT
    count: Mapped[int] = mapped_column(Integer)
    population: Mapped[list[str]] = mapped_column(JSON)  # every grid code at the draw, sorted
    grids: Mapped[list[str]] = mapped_column(JSON)  # the grid codes drawn, in the order drawn
    drawn_by: Mapped[str] = mapped_column(String(64))
    drawn_at: Mapped[datetime]


class GridInspection(Base):
    """The assessment team's result for one drawn grid; recorded once, never replaced."""

    __tablename__ = "grid_inspection"
    __table_args__ = (UniqueConstraint("draw_id", "grid_code", name="uq_grid_inspection_draw_grid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("sampling_draw.id"))
    grid_code: Mapped[str] = mapped_column(ForeignKey("grid.code"))
    passed: Mapped[bool] = mapped_column(Boolean)  # 合格 / 不合格
    problems: Mapped[int] = mapped_column(Integer)  # problems found on the spot
    notes: Mapped[str] = mapped_column(Text)
    inspected_by: Mapped[str] = mapped_column(String(64))
    inspected_at: Mapped[datetime]


class GridInspectionPhoto(Base):
    """A photo taken at an inspection; the bytes live in the PhotoStore under their SHA-256."""

    __tablename__ = "grid_inspection_photo"
    __table_args__ = (Index("ix_grid_inspection_photo_inspection", "inspection_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("grid_inspection.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)


# --- the outside world -----------------------------------------------------------------------

class Open311Client(Base):
    """An outside system (a citizens' portal, the 12345 platform) that reports cases through
    Open311. Only the SHA-256 of its key is kept: the key itself is shown once, when issued."""

    __tablename__ = "open311_client"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))  # its cases are reported as this account
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
