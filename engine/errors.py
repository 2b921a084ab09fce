"""Errors the engine raises to its callers; web/ maps each to one HTTP status."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta


class GridflowError(Exception):
    """Base of every error the engine reports to a user."""


class NotFound(GridflowError):
    pass


class NotAuthenticated(GridflowError):
    pass


class Forbidden(GridflowError):
    pass


class Conflict(GridflowError):
    """Someone else changed the case or finished the task first."""


class InvalidField(GridflowError):
    """One input field is missing or wrong; names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class DefinitionError(GridflowError):
    """A BPMN or DMN file was refused; the message is the parser's."""

    def __init__(self, message: str, file_name: str | None = None, element_id: str | None = None) -> None:
        super().__init__(message)
        self.file_name = file_name
        self.element_id = element_id


class ProcessError(GridflowError):
    """The diagram itself failed while running (a broken expression, a gateway with no way out)."""


@dataclass(frozen=True)
class Problem:
    """One reason a deploy is refused: the element (a BPMN id; None for a whole file) and why."""

    element: str | None
    message: str
    file: str | None = None

    def __str__(self) -> str:
        return f"{self.element or self.file or 'definition'}: {self.message}"

    def as_dict(self) -> dict[str, str | None]:
        return {"element": self.element, "message": self.message, "file": self.file}


class DeployRefused(DefinitionError):
    """A deploy refused for one or more problems; `problems` lists them all as {element,
    message, file}, and the error's own element and file are the first problem's."""

    def __init__(self, problems: list[Problem]) -> None:
        assert problems, "a deploy is refused for at least one problem"
        first = problems[0]
        super().__init__("\n".join(str(p) for p in problems), file_name=first.file, element_id=first.element)
        self.problems = [p.as_dict() for p in problems]


class LoginThrottled(GridflowError):
    """Too many wrong passwords for this account or from this address: no password is
    checked until the lock ends."""

    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after = max(1, math.ceil(retry_after.total_seconds()))  # whole seconds, as Retry-After
        self.minutes = math.ceil(self.retry_after / 60)
        super().__init__(f"too many failed logins; try again in {self.minutes} minutes")
