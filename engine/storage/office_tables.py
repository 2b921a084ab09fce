"""The tables of the organisation (departments, zones, grids and their outlines, the component
census, categories, users and logins), of the monthly grid sampling and of outside clients."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from .base import Base

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
    """A unit grid (单元网格). Its outline is GeoJSON text (a Polygon or MultiPolygon in WGS84
    longitude/latitude) beside its bounding box, so that both databases index it with no
    extension; shapely reads the text in memory (engine/geo)."""

    __tablename__ = "grid"
    __table_args__ = (Index("ix_grid_bbox", "min_lon", "min_lat"),)
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    zone_code: Mapped[str] = mapped_column(ForeignKey("zone.code"), index=True)
    territory_department_code: Mapped[str | None] = mapped_column(ForeignKey("department.code"))
    outline: Mapped[str | None] = deferred(mapped_column(Text))
    min_lon: Mapped[float | None] = mapped_column(Float)
    min_lat: Mapped[float | None] = mapped_column(Float)
    max_lon: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)


class Component(Base):
    """A located object of the component census (部件普查): a manhole cover, a lamp, a bin. Its
    owner is the department that 先属主 sends its cases to."""

    __tablename__ = "component"
    __table_args__ = (Index("ix_component_position", "lat", "lon"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("category.code"))
    owner_department_code: Mapped[str | None] = mapped_column(ForeignKey("department.code"))
    state: Mapped[str] = mapped_column(String(16), default="normal")  # normal | damaged | missing | removed
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(String(128), default="")


class ReferenceVersion(Base):
    """A counter per kind of reference data that processes keep in memory (grid outlines): a
    change bumps it in its own transaction, and every process rebuilds its copy when it sees a
    newer number, with no restart."""

    __tablename__ = "reference_version"
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


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


# --- the monthly grid sampling (每月网格抽查) --------------------------------------------------

class SamplingDraw(Base):
    """One month's random draw of grids to inspect. The seed and the grid list drawn from are
    kept so that anyone can re-do the draw (engine.draw_grids) and check it."""

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
