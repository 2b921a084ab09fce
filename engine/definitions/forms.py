"""The fields a user task takes, declared in the diagram as a `form` property (JSON), and the
checking of what a user submits against them."""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..deadlines import TimeLimit
from ..errors import DefinitionError, InvalidField

FIELD_TYPES = ("boolean", "text", "choice", "department", "duration")
TEXT_MAX = 2000
DURATION_MAX = "P90D"


@dataclass(frozen=True)
class FormField:
    name: str
    type: str
    label: str
    required: bool = False
    required_if: str | None = None  # an expression over the task data and the submitted fields
    choices: dict[str, str] = field(default_factory=dict)  # value -> Chinese label
    default: str | None = None  # an expression over the task data, for prefilling
    max: str | None = None  # for durations: the longest accepted (ISO 8601)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "label": self.label,
            "required": self.required,
            "required_if": self.required_if,
            "choices": self.choices or None,
        }


def parse_form(text: str | None, element_id: str) -> dict[str, FormField]:
    """Read a task's form property; a malformed one is a deploy error naming the element."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DefinitionError(f"{element_id}: form is not valid JSON: {exc}", element_id=element_id) from exc
    if not isinstance(raw, dict):
        raise DefinitionError(f"{element_id}: form must be a JSON object of fields", element_id=element_id)
    fields: dict[str, FormField] = {}
    for name, spec in raw.items():
        if not isinstance(spec, dict) or spec.get("type") not in FIELD_TYPES:
            raise DefinitionError(
                f"{element_id}: form field {name!r} needs a type, one of {', '.join(FIELD_TYPES)}",
                element_id=element_id,
            )
        if spec["type"] == "choice" and not isinstance(spec.get("choices"), dict):
            raise DefinitionError(
                f"{element_id}: choice field {name!r} needs choices {{value: label}}", element_id=element_id
            )
        fields[name] = FormField(
            name=name,
            type=spec["type"],
            label=str(spec.get("label") or name),
            required=bool(spec.get("required", False)),
            required_if=spec.get("required_if"),
            choices=spec.get("choices") or {},
            default=spec.get("default"),
            max=spec.get("max") or (DURATION_MAX if spec["type"] == "duration" else None),
        )
    return fields


def clean_submission(
    form: Mapping[str, FormField],
    submitted: Any,
    is_required: Callable[[str, dict[str, Any]], bool],
    length: Callable[[TimeLimit], int] = TimeLimit.magnitude,
) -> dict[str, Any]:
    """The submitted values checked and normalised; every declared field is present (None when
    left out) so that a value from an earlier round never leaks into this one. `length` measures
    a duration on the case's calendar (BusinessCalendar.length) for comparing it with its field's
    `max`: on the working calendar P30D is 30 working days and PT720H is 96 of them."""
    if not isinstance(submitted, dict):
        raise InvalidField("fields", "must be a JSON object of field values")
    for name in submitted:
        if name not in form:
            raise InvalidField(name, "this task has no such field")
    cleaned: dict[str, Any] = {}
    for name, spec in form.items():
        value = submitted.get(name)
        if isinstance(value, str):
            value = value.strip()
        cleaned[name] = None if value in (None, "") else _check_value(spec, value, length)
    for name, spec in form.items():
        if cleaned[name] is None:
            needed = spec.required or (spec.required_if is not None and bool(is_required(spec.required_if, cleaned)))
            if needed:
                raise InvalidField(name, f"{spec.label}为必填项 (required)")
    return cleaned


def answers(form: Mapping[str, FormField], cleaned: Mapping[str, Any], department_names: Mapping[str, str]) -> list[
    dict[str, str]
]:
    """The answered fields as the person saw them - the diagram's label and the value's own
    words (a choice's label, 是/否, a department's name, a duration as 2天4小时) - kept on the
    audit event so that whoever works on the case next reads what was decided and why, in the
    words of that day's form."""
    shown = []
    for name, spec in form.items():
        value = cleaned.get(name)
        if value is None:
            continue
        if spec.type == "boolean":
            text = "是" if value else "否"
        elif spec.type == "choice":
            text = spec.choices.get(value, str(value))
        elif spec.type == "department":
            text = department_names.get(value, str(value))
        elif spec.type == "duration":
            text = TimeLimit.parse(value).in_words()
        else:
            text = str(value)
        shown.append({"label": spec.label, "value": text})
    return shown


def _check_value(spec: FormField, value: Any, length: Callable[[TimeLimit], int]) -> Any:
    if spec.type == "boolean":
        if not isinstance(value, bool):
            raise InvalidField(spec.name, "must be true or false")
        return value
    if not isinstance(value, str):
        raise InvalidField(spec.name, "must be a string")
    if spec.type == "text":
        if len(value) > TEXT_MAX:
            raise InvalidField(spec.name, f"must be at most {TEXT_MAX} characters")
        return value
    if spec.type == "choice":
        if value not in spec.choices:
            raise InvalidField(spec.name, f"must be one of: {', '.join(spec.choices)}")
        return value
    if spec.type == "duration":
        try:
            limit = TimeLimit.parse(value)
        except ValueError as exc:
            raise InvalidField(spec.name, str(exc)) from exc
        if limit.days == 0 and limit.seconds == 0:
            raise InvalidField(spec.name, "must be longer than zero")
        if spec.max and length(limit) > length(TimeLimit.parse(spec.max)):
            raise InvalidField(spec.name, f"must be at most {spec.max}")
        return value
    return value  # a department code: the caller checks it against the directory
