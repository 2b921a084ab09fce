"""基础数据管理: the administrator's changes to the reference data - zones, grids, departments,
categories and user accounts. (The calendar's extra days are CalendarDays' own.)

Every command is one transaction with one audit event `reference_<kind>` whose detail says what
changed, from what to what. A bad field is refused naming it, before anything is written. Codes
(and user names) are fixed once created: a rename changes the name only. Nothing is deleted:
rows are referenced by cases, tasks and the audit trail for ever, and an account that should no
longer log in is deactivated."""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import generate_password_hash

from .clock import Clock
from .errors import Forbidden, InvalidField, NotFound
from .history import record
from .inbox import may_act
from .models import Category, Department, Grid, Task, User, UserRole, Zone
from .roles import ROLES as ROLE_TITLES

ADMINISTRATOR = "admin"
# Every role the diagrams' lanes and the services know: the case lifecycle's lanes, the
# assessment office, the administrator and the accounts outside clients report as.
ROLES = tuple(ROLE_TITLES)  # the roles the engine knows, in one place: engine/roles.py
DEPARTMENT_KINDS = ("functional", "street")  # 职能部门 own things (先属主), 街道/镇 own territory (后属地)
FAMILIES = ("component", "event")  # 部件 / 事件
LIMIT_CLASSES = ("normal", "complex", "hard")  # the limit classes of time_limits.dmn
PASSWORD_LENGTH = (8, 128)

CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
USERNAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")
CODE_RULE = "may hold only letters, digits, '-' and '_', and starts with a letter or digit"
USERNAME_RULE = "may hold only lower-case letters, digits, '.', '-' and '_', and starts with a letter or digit"


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
            return [_user(u) for u in session.scalars(select(User).order_by(User.username))]

    def zone(self, code: str) -> dict[str, Any]:
        with self._sessions() as session:
            return _zone(_get(session, Zone, code, "zone"))

    def department(self, code: str) -> dict[str, Any]:
        with self._sessions() as session:
            return _department(_get(session, Department, code, "department"))

    def grid(self, code: str) -> dict[str, Any]:
        with self._sessions() as session:
            return _grid(_get(session, Grid, code, "grid"))

    def category(self, code: str) -> dict[str, Any]:
        with self._sessions() as session:
            return _category(_get(session, Category, code, "category"))

    def user(self, username: str) -> dict[str, Any]:
        with self._sessions() as session:
            return _user(_user_named(session, username))

    # --- zones (网区) ---------------------------------------------------------------------------

    def add_zone(self, actor_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        with self._command("zone", actor_id, fields) as (session, actor):
            code = _code(fields, "code", Zone.code)
            if session.get(Zone, code) is not None:
                raise InvalidField("code", f"zone {code} exists already")
            zone = Zone(code=code, name=_text(fields, "name", Zone.name))
            session.add(zone)
            self._record(session, actor, "zone", code, None, _zone(zone))
        return _zone(zone)

    def change_zone(self, actor_id: int, code: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        with self._command("zone", actor_id, fields) as (session, actor):
            zone = _get(session, Zone, code, "zone")
            before = _zone(zone)
            _fixed(fields, before, "code")
            zone.name = _text(fields, "name", Zone.name)
            self._record(session, actor, "zone", code, before, _zone(zone))
        return _zone(zone)

    # --- departments (部门) ----------------------------------------------------------------------

    def add_department(self, actor_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        with self._command("department", actor_id, fields) as (session, actor):
            code = _code(fields, "code", Department.code)
            if session.get(Department, code) is not None:
                raise InvalidField("code", f"department {code} exists already")
            department = Department(
                code=code, name=_text(fields, "name", Department.name), kind=_choice(fields, "kind", DEPARTMENT_KINDS)
            )
            session.add(department)
            self._record(session, actor, "department", code, None, _department(department))
        return _department(department)

    def change_department(self, actor_id: int, code: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        with self._command("department", actor_id, fields) as (session, actor):
            department = _get(session, Department, code, "department")
            before = _department(department)
            _fixed(fields, before, "code")
            name, kind = _text(fields, "name", Department.name), _choice(fields, "kind", DEPARTMENT_KINDS)
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
            code = _code(fields, "code", Grid.code)
            if session.get(Grid, code) is not None:
                raise InvalidField("code", f"grid {code} exists already")
            grid = Grid(code=code, **_grid_fields(session, fields))
            session.add(grid)
            session.flush()
            self._record(session, actor, "grid", code, None, _grid(grid))
        return _grid(grid)

    def change_grid(self, actor_id: int, code: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        with self._command("grid", actor_id, fields) as (session, actor):
            grid = _get(session, Grid, code, "grid")
            before = _grid(grid)
            _fixed(fields, before, "code")
            for attribute, value in _grid_fields(session, fields).items():
                setattr(grid, attribute, value)
            self._record(session, actor, "grid", code, before, _grid(grid))
        return _grid(grid)

    # --- categories (案件类别) --------------------------------------------------------------------

    def add_category(self, actor_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        with self._command("category", actor_id, fields) as (session, actor):
            code = _code(fields, "code", Category.code)
            if session.get(Category, code) is not None:
                raise InvalidField("code", f"category {code} exists already")
            family = _choice(fields, "family", FAMILIES)
            class_code = _code(fields, "class_code", Category.class_code)
            class_name = _text(fields, "class_name", Category.class_name)
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
            category = _get(session, Category, code, "category")
            before = _category(category)
            _fixed(fields, before, "code", "family", "class_code")
            class_name = _text(fields, "class_name", Category.class_name)
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
            username = _text(fields, "username", User.username)
            if not USERNAME.fullmatch(username):
                raise InvalidField("username", USERNAME_RULE)
            if session.scalar(select(User.id).where(User.username == username)) is not None:
                raise InvalidField("username", f"user {username} exists already")
            account = _user_fields(session, fields)
            password = _password(fields)
            user = User(username=username, password_hash=generate_password_hash(password), **account.columns)
            user.roles = [UserRole(role=role) for role in account.roles]
            session.add(user)
            session.flush()
            self._record(session, actor, "user", username, None, _user(user), {"password": "set"})
        return _user(user)

    def change_user(self, actor_id: int, username: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Everything but the user name; an empty password keeps the one there is. The last
        active administrator keeps his role and stays active."""
        with self._command("user", actor_id, fields) as (session, actor):
            user = _user_named(session, username)
            before = _user(user)
            _fixed(fields, before, "username")
            account = _user_fields(session, fields)
            password = _password(fields) if fields.get("password") not in (None, "") else None
            stepping_down = None
            if user.active and ADMINISTRATOR in user.role_names:
                stepping_down = "active" if not account.columns["active"] else None
                stepping_down = stepping_down or ("roles" if ADMINISTRATOR not in account.roles else None)
            if stepping_down:
                _lock_administrators(session)
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
            if stepping_down and _active_administrators(session) == 0:  # counted after the write: see there
                reason = f"{username} is the last active administrator; make another one first"
                raise InvalidField(stepping_down, reason)
            extra: dict[str, Any] = {"password": "changed"} if password is not None else {}
            released = _release_tasks_out_of_reach(session, user, actor, self._clock.now())
            if released:
                extra["released_tasks"] = released
            self._record(session, actor, "user", username, before, _user(user), extra)
        return _user(user)

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
                yield session, _administrator(session, actor_id)
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


# --- checks, each naming its field ----------------------------------------------------------------


def _administrator(session: Session, actor_id: int | None) -> User:
    actor = session.get(User, actor_id) if isinstance(actor_id, int) else None
    if actor is None or not actor.active or ADMINISTRATOR not in actor.role_names:
        raise Forbidden("only an administrator changes the reference data")
    return actor


def _fixed(fields: Mapping[str, Any], stored: dict[str, Any], *names: str) -> None:
    """A code is fixed once created: a change may repeat it (a form sends the whole row) but
    never give another."""
    for name in names:
        if name in fields and fields[name] != stored[name]:
            raise InvalidField(name, f"is fixed once created ({stored[name]}); only names and settings change")


def column_text(column: Any, name: str, value: Any) -> str:
    """`value` if the column holds it, else an error naming the field `name`: text, no longer
    than the column's String length (read from the model, so a check never drifts from its
    column; PostgreSQL refuses what is longer, SQLite would keep it), without U+0000 (PostgreSQL
    refuses it) and encodable as UTF-8 (a lone surrogate from JSON's \\ud800 is not)."""
    if not isinstance(value, str):
        raise InvalidField(name, "must be text")
    if "\x00" in value:
        raise InvalidField(name, "must not contain the character U+0000")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidField(name, "must be Unicode text (a lone surrogate is not)") from exc
    limit = column.type.length
    if limit is not None and len(value) > limit:
        raise InvalidField(name, f"must be at most {limit} characters")
    return value


def _fits(column: Any, value: Any) -> bool:
    """Whether the column could hold the value: a code that cannot is not looked up (it exists
    nowhere, and PostgreSQL would refuse the query)."""
    try:
        column_text(column, "", value)
    except InvalidField:
        return False
    return True


def _text(fields: Mapping[str, Any], name: str, column: Any) -> str:
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidField(name, "required")
    return column_text(column, name, value.strip() if isinstance(value, str) else value)


def _code(fields: Mapping[str, Any], name: str, column: Any) -> str:
    value = _text(fields, name, column)
    if not CODE.fullmatch(value):
        raise InvalidField(name, CODE_RULE)
    return value


def _choice(fields: Mapping[str, Any], name: str, choices: Sequence[str]) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or value not in choices:  # an object or a list cannot be looked up
        raise InvalidField(name, f"must be one of: {', '.join(choices)}")
    return value


def _flag(fields: Mapping[str, Any], name: str) -> bool:
    value = fields.get(name)
    if not isinstance(value, bool):
        raise InvalidField(name, "must be true or false")
    return value


def _optional_code(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidField(name, "must be a code")
    return value


def _existing(session: Session, model: type[Any], fields: Mapping[str, Any], name: str, what: str) -> Any:
    code = _optional_code(fields, name)
    if code is None:
        return None
    row = session.get(model, column_text(model.code, name, code))
    if row is None:
        raise InvalidField(name, f"unknown {what} {code!r}")
    return row


def _grid_fields(session: Session, fields: Mapping[str, Any]) -> dict[str, Any]:
    name = _text(fields, "name", Grid.name)
    zone = _existing(session, Zone, fields, "zone", "zone")
    if zone is None:
        raise InvalidField("zone", "required")
    territory = _existing(session, Department, fields, "territory_department", "department")
    if territory is None:
        raise InvalidField("territory_department", "required: the street office the grid belongs to (属地)")
    if territory.kind != "street":
        raise InvalidField("territory_department", f"{territory.code} is not a street office (街道/镇)")
    return {"name": name, "zone_code": zone.code, "territory_department_code": territory.code}


def _category_fields(session: Session, fields: Mapping[str, Any]) -> dict[str, Any]:
    """What a category's change may touch besides its class name."""
    name = _text(fields, "name", Category.name)
    owner = _existing(session, Department, fields, "owner_department", "department")
    return {
        "name": name,
        "owner_department_code": owner.code if owner else None,  # none: the grid's street office (属地)
        "limit_class": _choice(fields, "limit_class", LIMIT_CLASSES),
        "emergency": _flag(fields, "emergency"),
    }


def _class_name(session: Session, family: str, class_code: str) -> str | None:
    same_class = select(Category.class_name).where(Category.family == family, Category.class_code == class_code)
    return session.scalar(same_class.limit(1))


class _Account:
    def __init__(self, columns: dict[str, Any], roles: list[str]) -> None:
        self.columns = columns
        self.roles = roles


def _user_fields(session: Session, fields: Mapping[str, Any]) -> _Account:
    display_name = _text(fields, "display_name", User.display_name)
    department = _existing(session, Department, fields, "department", "department")
    zone = _existing(session, Zone, fields, "zone", "zone")
    roles = fields.get("roles")
    if not isinstance(roles, list | tuple) or not all(isinstance(r, str) for r in roles):
        raise InvalidField("roles", "must be a list of roles")
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise InvalidField("roles", f"unknown role {unknown[0]!r}; roles are {', '.join(ROLES)}")
    if not roles:
        raise InvalidField("roles", "a user keeps at least one role")
    # The diagram narrows a handler's tasks to his department and a collector's to his zone:
    # without one, the account would see none of its lane's work.
    if "department" in roles and department is None:
        raise InvalidField("department", "required for the role department (处置部门)")
    if "collector" in roles and zone is None:
        raise InvalidField("zone", "required for the role collector (信息采集员)")
    columns = {
        "display_name": display_name,
        "department_code": department.code if department else None,
        "zone_code": zone.code if zone else None,
        "active": _flag(fields, "active"),
    }
    return _Account(columns, [role for role in ROLES if role in roles])


def _password(fields: Mapping[str, Any]) -> str:
    value = fields.get("password")
    if value is None or value == "":
        raise InvalidField("password", "required")
    shortest, longest = PASSWORD_LENGTH
    if not isinstance(value, str) or not shortest <= len(value) <= longest:
        raise InvalidField("password", f"must be {shortest} to {longest} characters")
    if "\x00" in value or not value.strip():
        raise InvalidField("password", "must be characters other than spaces")
    return value


_ACTIVE_ADMINISTRATOR = (User.id.in_(select(UserRole.user_id).where(UserRole.role == ADMINISTRATOR)), User.active)


def _lock_administrators(session: Session) -> None:
    """Lock the active administrators' rows (PostgreSQL; SQLite has one writer at a time anyway),
    so that of two administrators stepping down at once the second waits for the first."""
    session.scalars(select(User.id).where(*_ACTIVE_ADMINISTRATOR).with_for_update()).all()


def _active_administrators(session: Session) -> int:
    """Counted after this change is written: PostgreSQL has the lock by then and reads what the
    other committed; SQLite's transaction begins with the write (pysqlite begins it at the first
    statement that writes), so the count reads what was committed before it, too."""
    return session.scalar(select(func.count()).select_from(User).where(*_ACTIVE_ADMINISTRATOR)) or 0


def _release_tasks_out_of_reach(session: Session, user: User, actor: User, now: datetime) -> list[int]:
    """The open tasks this account had claimed and may no longer do (deactivated, or its role,
    department or zone changed) go back to their lane, as if released, instead of staying
    hidden from everyone else. Each release is on the case's timeline."""
    released = []
    held = select(Task).where(Task.assignee_id == user.id, Task.state == "open").order_by(Task.id)
    for task in list(session.scalars(held)):
        if user.active and may_act(user, task):
            continue
        still_held = (Task.id == task.id, Task.state == "open", Task.assignee_id == user.id)  # not finished meanwhile
        result = session.execute(
            update(Task).where(*still_held).values(assignee_id=None).execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            continue
        record(
            session,
            at=now,
            actor=actor.username,
            action="release",
            case_id=task.case_id,
            task=task.task,
            detail={"task_id": task.id, "assignee": user.username, "reason": "account changed"},
        )
        released.append(task.id)
    return released


# --- rows as dicts (the same shapes as Directory's lists) ----------------------------------------


def _get(session: Session, model: type[Any], code: str, what: str) -> Any:
    row = session.get(model, code) if _fits(model.code, code) else None
    if row is None:
        raise NotFound(f"{what} {code!r} does not exist")
    return row


def _user_named(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username)) if _fits(User.username, username) else None
    if user is None:
        raise NotFound(f"user {username!r} does not exist")
    return user


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


def _user(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "department": user.department_code,
        "zone": user.zone_code,
        "roles": [role for role in ROLES if role in user.role_names] + sorted(user.role_names - set(ROLES)),
        "active": user.active,
    }
