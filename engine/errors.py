"""Errors the engine raises to its callers; web/ maps each to one HTTP status."""
from __future__ import annotations


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
