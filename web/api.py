"""The JSON API under /api. Every call but login and health needs a Bearer token."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, current_app, g, jsonify, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException

from engine.case_migration import MigrationRequest
from engine.definition_checks import DeployRefused
from engine.directory import LoginThrottled
from engine.errors import (
    Conflict,
    DefinitionError,
    Forbidden,
    GridflowError,
    InvalidField,
    NotAuthenticated,
    NotFound,
    ProcessError,
)
from engine.repository import Upload

from . import open311, pages
from .auth import engine
from .openapi import INTEGER_MAX, ROW_ID, openapi_document

bp = Blueprint("api", __name__, url_prefix="/api")
View = TypeVar("View", bound=Callable[..., Any])
# Row ids are 32-bit integers on PostgreSQL: a larger number is no row, and SQLite would fail to
# bind it at all (a 500 instead of a 404).


def _tokens() -> URLSafeTimedSerializer:
    """A token is {"uid": user id, "cv": his credential version}: it ends with the version."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="gridflow-api-token")


def login_required(view: View) -> View:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise NotAuthenticated("missing Authorization: Bearer <token>")
        try:
            token = _tokens().loads(header[7:], max_age=current_app.config["API_TOKEN_MAX_AGE"])
        except SignatureExpired as exc:
            raise NotAuthenticated("token expired; log in again") from exc
        except BadSignature as exc:
            raise NotAuthenticated("invalid token") from exc
        g.user = engine().directory.signed_in(token["uid"], token.get("cv"))  # NotAuthenticated once ended
        return view(*args, **kwargs)

    return cast(View, wrapped)


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidField("body", "must be a JSON object (Content-Type: application/json)")
    return body


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise InvalidField(name, "must be a whole number") from exc
    if not 0 <= number <= INTEGER_MAX:  # a negative LIMIT or OFFSET is an error on PostgreSQL
        raise InvalidField(name, f"must be a whole number from 0 to {INTEGER_MAX}")
    return number


# --- errors: each engine error is one status with a JSON body ----------------------------------

_STATUS: dict[type[GridflowError], int] = {
    NotAuthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    InvalidField: 422,
    pages.UnreadableBody: 400,  # no field of it could be read
    DefinitionError: 422,
    DeployRefused: 422,
    ProcessError: 500,
}


@bp.errorhandler(GridflowError)
def engine_error(error: GridflowError) -> tuple[Response, int]:
    """The JSON answer to an engine's refusal; the administrator's editor answers with it too."""
    body: dict[str, Any] = {"error": str(error)}
    if isinstance(error, InvalidField):
        body = {"error": error.reason, "field": error.field}
    elif isinstance(error, DefinitionError):
        # Every problem of a refused deploy, each with its element; `element` and `file` are the first's.
        problems = (
            error.problems
            if isinstance(error, DeployRefused)
            else [{"element": error.element_id, "message": str(error), "file": error.file_name}]
        )
        body |= {"file": error.file_name, "element": error.element_id, "problems": problems}
    elif isinstance(error, ProcessError):
        body = {"error": f"the process definition failed: {error}"}
    return jsonify(body), _STATUS.get(type(error), 400)


def http_error(error: HTTPException) -> Any:
    """Registered on the app: routing errors (404, 405, 413) never reach a blueprint."""
    if request.path.startswith(bp.url_prefix or "/api"):
        # A 405 names the methods the path takes in Allow, as a page's does.
        allowed = [(name, value) for name, value in error.get_headers() if name == "Allow"]
        return jsonify({"error": error.description}), error.code or 500, allowed
    if request.path.startswith(open311.bp.url_prefix or "/open311"):
        return open311.http_error(error)  # in the standard's error format
    return pages.error_page(error)


# --- session ----------------------------------------------------------------------------------

@bp.get("/health")
def health() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


@bp.post("/login")
def login() -> Response | tuple[Response, int, dict[str, str]]:
    body = json_body()
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not username:
        raise InvalidField("username", "required")
    if not isinstance(password, str) or not password:
        raise InvalidField("password", "required")
    try:
        user = engine().directory.log_in(username, password, request.remote_addr or "")
    except LoginThrottled as refused:
        return jsonify({"error": str(refused), "field": "username"}), 429, {"Retry-After": str(refused.retry_after)}
    if user is None:
        raise NotAuthenticated("wrong username or password")
    return jsonify(
        {
            "token": _tokens().dumps({"uid": user.id, "cv": user.credential_version}),
            "user": {"username": user.username, "display_name": user.display_name, "roles": sorted(user.role_names)},
        }
    )


@bp.post("/logout")
@login_required
def logout() -> tuple[str, int]:
    """Ends every token and page session of the caller, not only the token of this call."""
    engine().directory.log_out(g.user.id)
    return "", 204


# --- reference data ---------------------------------------------------------------------------

@bp.get("/categories")
@login_required
def categories() -> Response:
    return jsonify(engine().directory.categories())


@bp.get("/grids")
@login_required
def grids() -> Response:
    return jsonify(engine().directory.grids())


@bp.get("/departments")
@login_required
def departments() -> Response:
    return jsonify(engine().directory.departments())


# --- cases and tasks --------------------------------------------------------------------------

@bp.post("/cases")
@login_required
def report_case() -> tuple[Response, int]:
    case_id = engine().runtime.report_case(g.user.id, json_body())
    case = engine().cases.case(case_id, g.user.id)
    return jsonify({"id": case["id"], "case_no": case["case_no"], "status": case["status"]}), 201


@bp.get("/processes")
@login_required
def start_forms() -> Response:
    """The processes the caller starts from a form (发起), with their forms."""
    return jsonify(engine().runtime.start_forms(g.user.id))


@bp.post("/processes/<process_id>/cases")
@login_required
def start_case(process_id: str) -> tuple[Response, int]:
    case_id = engine().runtime.start_case(g.user.id, process_id, json_body())
    case = engine().cases.case(case_id, g.user.id)
    return jsonify({"id": case["id"], "case_no": case["case_no"], "status": case["status"]}), 201


@bp.get(f"/cases/<{ROW_ID}:case_id>")
@login_required
def case(case_id: int) -> Response:
    return jsonify(engine().cases.case(case_id, g.user.id))


@bp.get("/cases")
@login_required
def cases() -> Response:
    return jsonify(
        engine().cases.page(
            g.user.id,
            status=request.args.get("status") or None,
            department=request.args.get("department") or None,
            grid=request.args.get("grid") or None,
            page=_int_arg("page", 1),
            per_page=_int_arg("per_page", 50),
        )
    )


@bp.get("/tasks")
@login_required
def inbox() -> Response:
    return jsonify(
        engine().inbox.tasks_for(
            g.user.id,
            limit=_int_arg("limit", 200),
            offset=_int_arg("offset", 0),
            stage=request.args.get("stage") or None,
            department=request.args.get("department") or None,
            grid=request.args.get("grid") or None,
            category=request.args.get("category") or None,
            search=request.args.get("q") or None,
        )
    )


@bp.get(f"/tasks/<{ROW_ID}:task_id>")
@login_required
def task(task_id: int) -> Response:
    return jsonify(engine().runtime.task_form(g.user.id, task_id))


@bp.post(f"/tasks/<{ROW_ID}:task_id>/complete")
@login_required
def complete_task(task_id: int) -> Response:
    case_id = engine().runtime.complete_task(g.user.id, task_id, json_body())
    return jsonify(engine().cases.case(case_id, g.user.id))


# --- process definitions ----------------------------------------------------------------------

@bp.get("/definitions")
@login_required
def definitions() -> Response:
    _admin_only("reads the deployed process definitions")  # a case's own diagram is read with the case
    return jsonify(engine().repository.overview())


@bp.post("/definitions")
@login_required
def deploy() -> tuple[Response, int]:
    _admin_only("deploys process definitions")
    return deploy_files(request.files.getlist("file"), g.user.username)


def deploy_files(files: list[Any], deployed_by: str) -> tuple[Response, int]:
    """Deploy uploaded files; the API and the administrator's editor both come through here."""
    if not files:
        raise InvalidField("file", "attach one or more .bpmn or .dmn files as multipart field 'file'")
    deployment = engine().repository.deploy([Upload(f.filename or "", f.read()) for f in files], deployed_by)
    body = {
        "files": [{"name": f.name, "version": f.version} for f in deployment.files],
        "processes": [{"id": p.process_id, "version": p.version} for p in deployment.processes],
    }
    return jsonify(body), 201 if deployment.files else 200


@bp.get("/definitions/<process_id>/diff")
@login_required
def definition_diff(process_id: str) -> Response:
    _admin_only("compares process definitions")
    return jsonify(engine().repository.diff(process_id, version_arg("from"), version_arg("to")))


@bp.post("/definitions/<process_id>/migrations")
@login_required
def migrate_cases(process_id: str) -> Response:
    _admin_only("migrates running cases")
    report = engine().migrations.migrate(process_id, MigrationRequest.from_json(json_body()), g.user.username)
    return jsonify(report.as_dict())


def version_arg(name: str) -> int | None:
    """A process version in the query string: None when not given."""
    if request.args.get(name) is None:
        return None
    version = _int_arg(name, 0)
    if version < 1:
        raise InvalidField(name, f"must be a whole number from 1 to {INTEGER_MAX}")
    return version


# --- the business calendar's extra days ---------------------------------------------------------

@bp.get("/calendar/days")
@login_required
def calendar_days() -> Response:
    return jsonify(engine().calendar_days.list())


@bp.put("/calendar/days/<day>")
@login_required
def set_calendar_day(day: str) -> Response:
    _admin_only("edits the calendar")
    body = json_body()
    return jsonify(engine().calendar_days.set(day, body.get("kind"), body.get("note", ""), g.user.username))


@bp.delete("/calendar/days/<day>")
@login_required
def remove_calendar_day(day: str) -> tuple[str, int]:
    _admin_only("edits the calendar")
    engine().calendar_days.remove(day, g.user.username)
    return "", 204


def _admin_only(what: str) -> None:
    if "admin" not in g.user.role_names:
        raise Forbidden(f"only an administrator {what}")


@bp.post(f"/tasks/<{ROW_ID}:task_id>/claim")
@login_required
def claim_task(task_id: int) -> Response:
    engine().runtime.claim_task(g.user.id, task_id)
    return jsonify(engine().runtime.task_form(g.user.id, task_id))


@bp.post(f"/tasks/<{ROW_ID}:task_id>/release")
@login_required
def release_task(task_id: int) -> Response:
    engine().runtime.release_task(g.user.id, task_id)
    return jsonify(engine().runtime.task_form(g.user.id, task_id))
