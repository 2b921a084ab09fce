"""The bodies /api reads and writes, each described once as a pydantic model: spectree checks a
request against its model before the view runs and puts every model in the OpenAPI document
(web/api/document.py). Shape and types only; the engine still decides what is allowed (an unknown
category, a form's own fields, a newer version). A refused field answers as the engine's do,
422 {error, field}, in the engine's words."""
from __future__ import annotations

from typing import Annotated, Any, TypeVar

from flask import request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import SkipJsonSchema
from spectree import SpecTree
from spectree.plugins.flask_plugin import FlaskPlugin

from engine import InvalidField

from .answers import CalendarDayKind, Channel, Error, Urgency

Query = TypeVar("Query", bound=BaseModel)
INTEGER_MAX = 2**31 - 1  # PostgreSQL integer: ids, pages and counts
ROW_ID = f"int(max={INTEGER_MAX})"  # the URL converter of a row id: larger ids are 404, not a 500



# --- requests: strict, so that "1" is no number and 1 no text ----------------------------------

class RequestBody(BaseModel):
    model_config = ConfigDict(strict=True)


class Login(RequestBody):
    username: str = Field(min_length=1)
    password: str = Field(min_length=1)


class Report(RequestBody):
    category: str
    grid: str | None = Field(None, description="the grid's code; found from lat and long when not given")
    description: str = Field(max_length=4000)
    address: str = Field(max_length=256)
    urgency: Urgency
    channel: Channel
    lat: float | None = Field(None, ge=-90, le=90, description="WGS84 latitude of the problem, with long")
    long: float | None = Field(None, ge=-180, le=180, description="WGS84 longitude of the problem, with lat")
    component: str | None = Field(None, description="the code of the 部件 reported, as the census names it")

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "category": "SJ0502",
                "grid": "03-02",
                "description": "商户在店外摆放货架，占用人行道",
                "address": "人民路 18 号",
                "urgency": "normal",
                "channel": "hotline",
            }
        }
    )


class Submission(RequestBody):
    """the fields the task's (or start) form declares, by name: the diagram defines them"""

    model_config = ConfigDict(extra="allow")

    def fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


Version = Field(ge=1, le=INTEGER_MAX)


class MigrationRequest(RequestBody):
    from_version: int = Version
    to_version: int = Version
    case_ids: Annotated[list[Annotated[int, Field(ge=1, le=INTEGER_MAX)]], Field(min_length=1)] | SkipJsonSchema[
        None
    ] = Field(None, description="the cases to move; left out: every open case on from_version")
    dry_run: bool = Field(description="true: only list which cases would move and why not")

    model_config = ConfigDict(json_schema_extra={"example": {"from_version": 1, "to_version": 2, "dry_run": True}})


class CalendarDayChange(RequestBody):
    kind: CalendarDayKind
    note: str = Field("", max_length=128)


class DefinitionFiles(BaseModel):
    """one or more .bpmn and .dmn files, each as the multipart field `file`"""

    file: Any = Field(json_schema_extra={"type": "string", "format": "binary"})


# --- query strings: text, so numbers are read from it ---------------------------------------------

Text = Field("")


class CaseFilter(BaseModel):
    status: str = Text
    department: str = Text
    grid: str = Text
    page: int = Field(1, ge=1, le=INTEGER_MAX)
    per_page: int = Field(50, ge=1, le=200)


class TaskFilter(BaseModel):
    stage: str = Field("", description="the BPMN task id")
    department: str = Text
    grid: str = Text
    category: str = Text
    q: str = Field("", description="a case number or address fragment")
    limit: int = Field(200, ge=0, le=INTEGER_MAX)
    offset: int = Field(0, ge=0, le=INTEGER_MAX)


LeftOutVersion = int | SkipJsonSchema[None]  # None: not given


class VersionPair(BaseModel):
    from_version: LeftOutVersion = Field(None, alias="from", ge=1, le=INTEGER_MAX, description="default: to - 1")
    to_version: LeftOutVersion = Field(None, alias="to", ge=1, le=INTEGER_MAX, description="default: the newest")


# --- a refused model is a refused field, in the engine's words --------------------------------------

def _refusal(error: ValidationError, model: type[BaseModel]) -> InvalidField:
    """The first problem pydantic found, as the engine would have named it."""
    problem = error.errors(include_url=False)[0]
    where = problem["loc"]
    field = str(where[0]) if where else "body"
    schema = _property(model, where)
    kind, context = problem["type"], problem.get("ctx") or {}
    if kind == "missing" or (problem.get("input") is None and kind.endswith("_type")):
        return InvalidField(field, "required")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return InvalidField(field, "must be a JSON object")
    if kind == "string_type":
        return InvalidField(field, "must be a string")
    if kind == "string_too_short" and context.get("min_length") == 1:
        return InvalidField(field, "required")
    if kind == "string_too_long":
        return InvalidField(field, f"must be at most {context['max_length']} characters")
    if kind in ("float_type", "float_parsing", "finite_number"):
        return InvalidField(field, "must be a number")
    if kind in ("greater_than_equal", "less_than_equal") and isinstance(problem.get("input"), float):
        bound = f"at least {context['ge']}" if kind == "greater_than_equal" else f"at most {context['le']}"
        return InvalidField(field, f"must be {bound}")
    if kind in ("bool_type", "bool_parsing"):
        return InvalidField(field, "must be true or false")
    if kind in ("literal_error", "enum"):
        return InvalidField(field, f"must be one of: {', '.join(map(str, schema.get('enum', [])))}")
    if kind.startswith("int_") or kind in ("greater_than_equal", "less_than_equal"):
        if "minimum" in schema and "maximum" in schema:
            return InvalidField(field, f"must be a whole number from {schema['minimum']} to {schema['maximum']}")
        return InvalidField(field, "must be a whole number")
    if kind in ("list_type", "too_short"):
        return InvalidField(field, "must be a non-empty list")
    return InvalidField(field, problem["msg"])


def _property(model: type[BaseModel], where: tuple[int | str, ...]) -> dict[str, Any]:
    """The JSON schema of the value at `where` in the model: its bounds and choices."""
    schema: dict[str, Any] = model.model_json_schema()
    for step in where:
        schema = schema.get("properties", {}).get(step, {}) if isinstance(step, str) else schema.get("items", {})
        if "$ref" in schema or "anyOf" in schema:
            return {}
    return schema


def read_query(model: type[Query]) -> Query:
    """The query string as its model, for a page that is no /api operation."""
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as error:
        raise _refusal(error, model) from error


class _GridflowPlugin(FlaskPlugin):
    """Spectree's Flask plugin answering a refused request as the engine does; a response is
    not checked at run time (schemathesis in the tests checks answers against the document)."""

    def request_validation(self, request: Any, query: Any, json: Any, form: Any, headers: Any, cookies: Any) -> None:
        if json is not None and not isinstance(request.get_json(silent=True), dict):
            raise InvalidField("body", "must be a JSON object (Content-Type: application/json)")
        try:
            super().request_validation(request, query, json, form, headers, cookies)
        except ValidationError as error:
            model = next(m for m in (query, json, form) if m is not None and m.__name__ == error.title)
            raise _refusal(error, model) from error

    def validate_response(self, resp: Any, resp_model: Any, skip_validation: bool, force_resp_serialize: bool) -> Any:
        return super().validate_response(resp, resp_model, True, force_resp_serialize)


# Only the routes decorated with api_spec.validate are documented; component names are the models'.
api_spec = SpecTree(
    backend=_GridflowPlugin,
    mode="strict",
    annotations=False,
    validation_error_status=422,
    validation_error_model=Error,
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
)


# --- the map (一张图) -----------------------------------------------------------------------------

class MapCaseFilter(BaseModel):
    bbox: str = Field(description="minLon,minLat,maxLon,maxLat (WGS84 degrees)", examples=["118.80,35.15,118.86,35.19"])
    status: str = Text
    category: str = Text
    department: str = Text
    urgency: str = Text
    period: str = Field("", description="reported in: YYYY, YYYY-Qn, YYYY-MM or YYYY-MM-DD/YYYY-MM-DD")
    limit: int = Field(1000, ge=1, le=5000)
    offset: int = Field(0, ge=0, le=INTEGER_MAX)


class NearPoint(BaseModel):
    lat: float = Field(ge=-90, le=90)
    long: float = Field(ge=-180, le=180)
    category: str = Field("", description="a 部件 subtype; empty: every subtype")
    within: float = Field(30, gt=0, le=1000, description="metres")
