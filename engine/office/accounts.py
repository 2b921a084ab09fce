"""User accounts (账号): what an account holds, its password, the last active administrator,
and the tasks an account may no longer do going back to their lane."""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..cases import may_act
from ..errors import InvalidField, NotFound
from ..storage import Department, Task, User, UserRole, Zone, column_fits, record
from ..vocabulary import ADMINISTRATOR
from ..vocabulary import ROLES as ROLE_TITLES
from .fields import existing_row, flag, text_field

ROLES = tuple(ROLE_TITLES)  # the roles the engine knows, in one place: engine/vocabulary.py
PASSWORD_LENGTH = (8, 128)
USERNAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")
USERNAME_RULE = "may hold only lower-case letters, digits, '.', '-' and '_', and starts with a letter or digit"


class Account:
    def __init__(self, columns: dict[str, Any], roles: list[str]) -> None:
        self.columns = columns
        self.roles = roles


def account_fields(session: Session, fields: Mapping[str, Any]) -> Account:
    display_name = text_field(fields, "display_name", User.display_name)
    department = existing_row(session, Department, fields, "department", "department")
    zone = existing_row(session, Zone, fields, "zone", "zone")
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
        "active": flag(fields, "active"),
    }
    return Account(columns, [role for role in ROLES if role in roles])


def checked_password(fields: Mapping[str, Any]) -> str:
    value = fields.get("password")
    if value is None or value == "":
        raise InvalidField("password", "required")
    shortest, longest = PASSWORD_LENGTH
    if not isinstance(value, str) or not shortest <= len(value) <= longest:
        raise InvalidField("password", f"must be {shortest} to {longest} characters")
    if "\x00" in value or not value.strip():
        raise InvalidField("password", "must be characters other than spaces")
    return value


ACTIVE_ADMINISTRATOR = (User.id.in_(select(UserRole.user_id).where(UserRole.role == ADMINISTRATOR)), User.active)


def lock_administrators(session: Session) -> None:
    """Lock the active administrators' rows (PostgreSQL; SQLite has one writer at a time anyway),
    so that of two administrators stepping down at once the second waits for the first."""
    session.scalars(select(User.id).where(*ACTIVE_ADMINISTRATOR).with_for_update()).all()


def active_administrators(session: Session) -> int:
    """Counted after this change is written: PostgreSQL has the lock by then and reads what the
    other committed; SQLite's transaction begins with the write (pysqlite begins it at the first
    statement that writes), so the count reads what was committed before it, too."""
    return session.scalar(select(func.count()).select_from(User).where(*ACTIVE_ADMINISTRATOR)) or 0


def release_tasks_out_of_reach(session: Session, user: User, actor: User, now: datetime) -> list[int]:
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


def user_named(session: Session, username: str) -> User:
    named = select(User).where(User.username == username)
    user = session.scalar(named) if column_fits(User.username, username) else None
    if user is None:
        raise NotFound(f"user {username!r} does not exist")
    return user


def account_row(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "department": user.department_code,
        "zone": user.zone_code,
        "roles": [role for role in ROLES if role in user.role_names] + sorted(user.role_names - set(ROLES)),
        "active": user.active,
    }
