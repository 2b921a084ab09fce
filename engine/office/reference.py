"""基础数据管理: the administrator's changes to the reference data - zones, grids, departments,
categories and user accounts. (The calendar's extra days are CalendarDays' own.)

Every command is one transaction with one audit event `reference_<kind>` whose detail says what
changed, from what to what. A bad field is refused naming it, before anything is written. Codes
(and user names) are fixed once created: a rename changes the name only. Nothing is deleted:
rows are referenced by cases, tasks and the audit trail for ever, and an account that should no
longer log in is deactivated."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import generate_password_hash

from ..deadlines import Clock
from ..errors import InvalidField
from ..storage import Category, Department, Grid, User, UserRole, Zone, record
from ..vocabulary import ADMINISTRATOR
from .accounts import (
    USERNAME,
    USERNAME_RULE,
    account_fields,
    account_row,
    active_administrators,
    checked_password,
    lock_administrators,
    release_tasks_out_of_reach,
    user_named,
)
from .fields import (
    administrator,
    choice,
    code_field,
    existing_row,
    flag,
    get_row,
    refuse_new_code,
    text_field,
)

DEPARTMENT_KINDS = ("functional", "street")  # 职能部门 own things (先属主), 街道/镇 own territory (后属地)
FAMILIES = ("component", "event")  # 部件 / 事件
LIMIT_CLASSES = ("normal", "complex", "hard")  # the limit classes of time_limits.dmn


class ReferenceData:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    # --- reads (departments, grids and categories as lists: Directory) ------------------------

    def zones(self) -> list[dict[str, Any]]:
        with self._sessions() as session:
            return [_zone(z) for z in session.scalars(select(Zone).order_by(Zone.code))]

    def users(self) -> list[dict[str, Any]]:
        with self._sessions() as session:
            return [account_row(u) for u in session.scalars(select(User).order_by(User.username))]

    def zone(self, code: str) -> dict[str, Any]:
        with self._sessions() as session:
            return _zone(get_row(session, Zone, code, "zone"))

    def department(self, code: str) -> dict[str, Any]:
        with self._sessions() as session:
            return _department(get_row(session, Department, code, "department"))

    def grid(self, code: str) -> dict[str, Any]:
        with self._sessions() as session:
            return _grid(get_row(session, Grid, code, "grid"))

    def category(self, code: str) -> dict[str, Any]:
        with self._sessions() as session:
            return _category(get_row(session, Category, code, "category"))

    def user(self, username: str) -> dict[str, Any]:
        with self._sessions() as session:
            return account_row(user_named(session, username))

    # --- zones (网区) ---------------------------------------------------------------------------

    def add_zone(self, actor_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        with self._command("zone", actor_id, fields) as (session, actor):
            code = code_field(fields, "code", Zone.code)
            if session.get(Zone, code) is not None:
                raise InvalidField("code", f"zone {code} exists already")
            zone = Zone(code=code, name=text_field(fields, "name", Zone.name))
            session.add(zone)
            self._record(session, actor, "zone", code, None, _zone(zone))
        return _zone(zone)

    def change_zone(self, actor_id: int, code: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        with self._command("zone", actor_id, fields) as (session, actor):
            zone = get_row(session, Zone, code, "zone")
            before = _zone(zone)
            refuse_new_code(fields, before, "code")
            zone.name = text_field(fields, "name", Zone.name)
            self._record(session, actor, "zone", code, before, _zone(zone))
        return _zone(zone)

    # --- departments (部门) ----------------------------------------------------------------------

    def add_department(self, actor_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        with self._command("department", actor_id, fields) as (session, actor):
            code = code_field(fields, "code", Department.code)
            if session.get(Department, code) is not None:
                raise InvalidField("code", f"department {code} exists already")
            name = text_field(fields, "name", Department.name)
            department = Department(code=code, name=name, kind=choice(fields, "kind", DEPARTMENT_KINDS))
            session.add(department)
            self._record(session, actor, "department", code, None, _department(department))
        return _department(department)

    def change_department(self, actor_id: int, code: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        with self._command("department", actor_id, fields) as (session, actor):
            department = get_row(session, Department, code, "department")
            before = _department(department)
            refuse_new_code(fields, before, "code")
            name, kind = text_field(fields, "name", Department.name), choice(fields, "kind", DEPARTMENT_KINDS)
            if department.kind == "street" and kind != "street":
                territory = list(session.scalars(select(Grid.code).where(Grid.territory_department_code == code)))
                if territory:
                    raise InvalidField(
                        "kind", f"{code} is the street office of grids {', '.join(sorted(territory))}; it stays street"
                    )
            department.name, department.kind = name, kind
            self._record(session, actor, "department", code, before, _department(department))
        return _department(department)

    # --- grids (网格) ---------------------------------------------------------------------------

    def add_grid(self, actor_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        with self._command("grid", actor_id, fields) as (session, actor):
            code = code_field(fields, "code", Grid.code)
            if session.get(Grid, code) is not None:
                raise InvalidField("code", f"grid {code} exists already")
            grid = Grid(code=code, **_grid_fields(session, fields))
            session.add(grid)
            session.flush()
            self._record(session, actor, "grid", code, None, _grid(grid))
        return _grid(grid)

    def change_grid(self, actor_id: int, code: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        with self._command("grid", actor_id, fields) as (session, actor):
            grid = get_row(session, Grid, code, "grid")
            before = _grid(grid)
            refuse_new_code(fields, before, "code")
            for attribute, value in _grid_fields(session, fields).items():
                setattr(grid, attribute, value)
            self._record(session, actor, "grid", code, before, _grid(grid))
        return _grid(grid)

    # --- categories (案件类别) --------------------------------------------------------------------

    def add_category(self, actor_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        with self._command("category", actor_id, fields) as (session, actor):
            code = code_field(fields, "code", Category.code)
            if session.get(Category, code) is not None:
                raise InvalidField("code", f"category {code} exists already")
            family = choice(fields, "family", FAMILIES)
            class_code = code_field(fields, "class_code", Category.class_code)
            class_name = text_field(fields, "class_name", Category.class_name)
            named = _class_name(session, family, class_code)
            if named is not None and named != class_name:
                raise InvalidField(
                    "class_name",
                    f"class {class_code} of this family is named {named!r}; "
                    "rename a class by changing the class name of one of its categories",
                )
            category = Category(
                code=code,
                family=family,
                class_code=class_code,
                class_name=class_name,
                **_category_fields(session, fields),
            )
            session.add(category)
            self._record(session, actor, "category", code, None, _category(category))
        return _category(category)

    def change_category(self, actor_id: int, code: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Family and class code belong to the code (BJ0101 is 部件, class 01) and stay. A new
        class name renames the class: every category of the class takes it, in this change."""
        with self._command("category", actor_id, fields) as (session, actor):
            category = get_row(session, Category, code, "category")
            before = _category(category)
            refuse_new_code(fields, before, "code", "family", "class_code")
            class_name = text_field(fields, "class_name", Category.class_name)
            for attribute, value in _category_fields(session, fields).items():
                setattr(category, attribute, value)
            renamed: list[str] = []
            if class_name != category.class_name:
                same_class = select(Category).where(
                    Category.family == category.family, Category.class_code == category.class_code
                )
                for member in session.scalars(same_class):
                    member.class_name = class_name
                    if member.code != code:
                        renamed.append(member.code)
                category.class_name = class_name
            extra = {"class_renamed_for": sorted(renamed)} if renamed else {}
            self._record(session, actor, "category", code, before, _category(category), extra)
        return _category(category)

    # --- user accounts (账号) -------------------------------------------------------------------

    def add_user(self, actor_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        with self._command("user", actor_id, fields) as (session, actor):
            username = text_field(fields, "username", User.username)
            if not USERNAME.fullmatch(username):
                raise InvalidField("username", USERNAME_RULE)
            if session.scalar(select(User.id).where(User.username == username)) is not None:
                raise InvalidField("username", f"user {username} exists already")
            account = account_fields(session, fields)
            password = checked_password(fields)
            user = User(username=username, password_hash=generate_password_hash(password), **account.columns)
            user.roles = [UserRole(role=role) for role in account.roles]
            session.add(user)
            session.flush()
            self._record(session, actor, "user", username, None, account_row(user), {"password": "set"})
        return account_row(user)

    def change_user(self, actor_id: int, username: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Everything but the user name; an empty password keeps the one there is. The last
        active administrator keeps his role and stays active."""
        with self._command("user", actor_id, fields) as (session, actor):
            user = user_named(session, username)
            before = account_row(user)
            refuse_new_code(fields, before, "username")
            account = account_fields(session, fields)
            password = checked_password(fields) if fields.get("password") not in (None, "") else None
            stepping_down = None
            if user.active and ADMINISTRATOR in user.role_names:
                stepping_down = "active" if not account.columns["active"] else None
                stepping_down = stepping_down or ("roles" if ADMINISTRATOR not in account.roles else None)
            if stepping_down:
                lock_administrators(session)
            for attribute, value in account.columns.items():
                setattr(user, attribute, value)
            kept = set(account.roles)
            for role in [r for r in user.roles if r.role not in kept]:
                user.roles.remove(role)  # removed and added by difference: the same role is never inserted twice
            user.roles.extend(UserRole(role=role) for role in account.roles if role not in before["roles"])
            if password is not None:
                user.password_hash = generate_password_hash(password)
            if password is not None or user.active != before["active"]:
                user.credential_version += 1  # ends every session and token issued before (see User)
            session.flush()
            if stepping_down and active_administrators(session) == 0:  # counted after the write: see there
                reason = f"{username} is the last active administrator; make another one first"
                raise InvalidField(stepping_down, reason)
            extra: dict[str, Any] = {"password": "changed"} if password is not None else {}
            released = release_tasks_out_of_reach(session, user, actor, self._clock.now())
            if released:
                extra["released_tasks"] = released
            self._record(session, actor, "user", username, before, account_row(user), extra)
        return account_row(user)

    # --- the transaction and its audit event ----------------------------------------------------

    @contextmanager
    def _command(self, kind: str, actor_id: int, fields: Mapping[str, Any]) -> Iterator[tuple[Session, User]]:
        """One transaction as the acting administrator: refused (Forbidden) for anyone else and
        rolled back on any error. A row committed meanwhile under the same code (the check
        before the insert saw none) is named as that field."""
        if not isinstance(fields, Mapping):
            raise InvalidField("body", "must be an object of fields")
        try:
            with self._sessions.begin() as session:
                yield session, administrator(session, actor_id)
        except IntegrityError as exc:
            field = "username" if kind == "user" else "code"
            raise InvalidField(field, f"a {kind} with this {field} was added meanwhile") from exc

    def _record(
        self,
        session: Session,
        actor: User,
        kind: str,
        code: str,
        before: dict[str, Any] | None,
        after: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> None:
        """One audit event saying what changed, from what to what; nothing when nothing did."""
        changes = {
            name: {"from": None if before is None else before.get(name), "to": value}
            for name, value in after.items()
            if name != "id" and (before is None or before.get(name) != value)
        }
        if before is not None and not changes and not extra:
            return
        record(
            session,
            at=self._clock.now(),
            actor=actor.username,
            action=f"reference_{kind}",
            detail={"code": code, "created": before is None, "changes": changes, **(extra or {})},
        )


def _grid_fields(session: Session, fields: Mapping[str, Any]) -> dict[str, Any]:
    name = text_field(fields, "name", Grid.name)
    zone = existing_row(session, Zone, fields, "zone", "zone")
    if zone is None:
        raise InvalidField("zone", "required")
    territory = existing_row(session, Department, fields, "territory_department", "department")
    if territory is None:
        raise InvalidField("territory_department", "required: the street office the grid belongs to (属地)")
    if territory.kind != "street":
        raise InvalidField("territory_department", f"{territory.code} is not a street office (街道/镇)")
    return {"name": name, "zone_code": zone.code, "territory_department_code": territory.code}


def _category_fields(session: Session, fields: Mapping[str, Any]) -> dict[str, Any]:
    """What a category's change may touch besides its class name."""
    name = text_field(fields, "name", Category.name)
    owner = existing_row(session, Department, fields, "owner_department", "department")
    return {
        "name": name,
        "owner_department_code": owner.code if owner else None,  # none: the grid's street office (属地)
        "limit_class": choice(fields, "limit_class", LIMIT_CLASSES),
        "emergency": flag(fields, "emergency"),
    }


def _class_name(session: Session, family: str, class_code: str) -> str | None:
    same_class = select(Category.class_name).where(Category.family == family, Category.class_code == class_code)
    return session.scalar(same_class.limit(1))


# --- rows as dicts (the same shapes as Directory's lists) ----------------------------------------


def _zone(zone: Zone) -> dict[str, Any]:
    return {"code": zone.code, "name": zone.name}


def _department(department: Department) -> dict[str, Any]:
    return {"code": department.code, "name": department.name, "kind": department.kind}


def _grid(grid: Grid) -> dict[str, Any]:
    return {
        "code": grid.code,
        "name": grid.name,
        "zone": grid.zone_code,
        "territory_department": grid.territory_department_code,
    }


def _category(category: Category) -> dict[str, Any]:
    return {
        "code": category.code,
        "family": category.family,
        "class_code": category.class_code,
        "class_name": category.class_name,
        "name": category.name,
        "owner_department": category.owner_department_code,
        "limit_class": category.limit_class,
        "emergency": category.emergency,
    }


