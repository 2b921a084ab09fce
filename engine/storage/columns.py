"""What a column can hold, read from the model itself, so that a check never drifts from its
column: PostgreSQL refuses a longer value where SQLite would keep it, so the engine checks first
and names the field, the same on both."""
from __future__ import annotations

from typing import Any

from ..errors import InvalidField


def column_length(column: Any) -> int:
    """The String length of a column: a mapped attribute (Task.title) or a table's column."""
    length = _declared_length(column)
    if length is None:
        raise TypeError(f"{column} is no String column with a length")
    return length


def _declared_length(column: Any) -> int | None:
    if hasattr(column, "property"):
        column = column.property.columns[0]
    length = getattr(column.type, "length", None)
    return int(length) if length is not None else None


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
    limit = _declared_length(column)
    if limit is not None and len(value) > limit:
        raise InvalidField(name, f"must be at most {limit} characters")
    return value


def column_fits(column: Any, value: Any) -> bool:
    """Whether the column could hold the value: a code that cannot is not looked up (it exists
    nowhere, and PostgreSQL would refuse the query)."""
    try:
        column_text(column, "", value)
    except InvalidField:
        return False
    return True
