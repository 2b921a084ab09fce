"""The administrator's fields: each check reads one field, names it when refused, and fits what
its column can hold."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from ..errors import Forbidden, InvalidField, NotFound
from ..storage import User, column_fits, column_text
from ..vocabulary import ADMINISTRATOR

CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
CODE_RULE = "may hold only letters, digits, '-' and '_', and starts with a letter or digit"


def administrator(session: Session, actor_id: int | None) -> User:
    actor = session.get(User, actor_id) if isinstance(actor_id, int) else None
    if actor is None or not actor.active or ADMINISTRATOR not in actor.role_names:
        raise Forbidden("only an administrator changes the reference data")
    return actor


def refuse_new_code(fields: Mapping[str, Any], stored: dict[str, Any], *names: str) -> None:
    """A code is fixed once created: a change may repeat it (a form sends the whole row) but
    never give another."""
    for name in names:
        if name in fields and fields[name] != stored[name]:
            raise InvalidField(name, f"is fixed once created ({stored[name]}); only names and settings change")


def text_field(fields: Mapping[str, Any], name: str, column: Any) -> str:
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidField(name, "required")
    return column_text(column, name, value.strip() if isinstance(value, str) else value)


def code_field(fields: Mapping[str, Any], name: str, column: Any) -> str:
    value = text_field(fields, name, column)
    if not CODE.fullmatch(value):
        raise InvalidField(name, CODE_RULE)
    return value


def choice(fields: Mapping[str, Any], name: str, choices: Sequence[str]) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or value not in choices:  # an object or a list cannot be looked up
        raise InvalidField(name, f"must be one of: {', '.join(choices)}")
    return value


def flag(fields: Mapping[str, Any], name: str) -> bool:
    value = fields.get(name)
    if not isinstance(value, bool):
        raise InvalidField(name, "must be true or false")
    return value


def optional_code(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidField(name, "must be a code")
    return value


def existing_row(session: Session, model: type[Any], fields: Mapping[str, Any], name: str, what: str) -> Any:
    code = optional_code(fields, name)
    if code is None:
        return None
    row = session.get(model, column_text(model.code, name, code))
    if row is None:
        raise InvalidField(name, f"unknown {what} {code!r}")
    return row


def get_row(session: Session, model: type[Any], code: str, what: str) -> Any:
    row = session.get(model, code) if column_fits(model.code, code) else None
    if row is None:
        raise NotFound(f"{what} {code!r} does not exist")
    return row
