"""The JSON API under /api. Every call but login and health needs a Bearer token."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, current_app, g, jsonify, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from spectree import Response as Answers
from werkzeug.exceptions import HTTPException

from engine import (
    Conflict,
    DefinitionError,
    DeployRefused,
    Forbidden,
    GridflowError,
    InvalidField,
    LoginThrottled,
    MigrationRequest,
    NotAuthenticated,
    NotFound,
    ProcessError,
    Upload,
)

from . import api_schemas as schemas
from . import open311, pages
from .api_schemas import ROW_ID, api_spec
from .auth import engine
from .openapi import openapi_document

bp = Blueprint("api", __name__, url_prefix="/api")
View = TypeVar("View", bound=Callable[..., Any])
# Row ids are 32-bit integers on PostgreSQL: a larger number is no row, and SQLite would fail to
# bind it at all (a 500 instead of a 404).

# Each view names its bodies and answers once, in api.validate: spectree checks the request against
# them before the view runs (a refused field is a 422 {error, field}) and web/openapi.py documents them.
# Decorators run top down: the token, then the administrator, then the body.
BEARER: dict[str, list[str]] = {"bearer": []}
OPEN: dict[str, Any] = {}  # no token: login, health, this document
UNAUTHENTICATED = (schemas.Error, "no valid Bearer token")
FORBIDDEN = (schemas.Error, "not yours to read or do")
NOT_FOUND = (schemas.Error, "no such thing")
INVALID = (schemas.Error, "a bad field: `field` names it")
CONFLICT = (schemas.Error, "already completed, claimed or changed meanwhile")


def validate(security: dict[str, Any] = BEARER, **kwargs: Any) -> Callable[[View], View]:
    return cast(Callable[[View], View], api_spec.validate(security=security, **kwargs))


def body() -> Any:
    """The request body as its model, checked."""
    return request.context.json  # type: ignore[attr-defined]


def query() -> Any:
    return request.context.query  # type: ignore[attr-defined]


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


def admin_only(what: str) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if "admin" not in g.user.role_names:
                raise Forbidden(f"only an administrator {what}")
            return view(*args, **kwargs)

        return cast(View, wrapped)

    return decorate


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
@validate(OPEN, resp=Answers(HTTP_200=(schemas.Health, "ok")))
def health() -> Response:
    """is the service up"""
    return jsonify({"status": "ok"})


@bp.get("/openapi.json")
@validate(OPEN, resp=Answers(HTTP_200=(schemas.OpenAPIDocument, "the OpenAPI document")))
def openapi() -> Response:
    """this document"""
    return jsonify(openapi_document())


@bp.post("/login")
@validate(
    OPEN,
    json=schemas.Login,
    resp=Answers(
        HTTP_200=(schemas.Session, "logged in"),
        HTTP_401=(schemas.Error, "wrong username or password"),
        HTTP_422=INVALID,
        HTTP_429=(
            schemas.Error,
            "too many failed logins for this user or from this address: try again after Retry-After seconds "
            "(`field` is username)",
        ),
    ),
)
def login() -> Response | tuple[Response, int, dict[str, str]]:
    """a token for 12 hours"""
    username, password = body().username, body().password
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
@validate(resp=Answers(HTTP_204=(None, "logged out everywhere"), HTTP_401=UNAUTHENTICATED))
def logout() -> tuple[str, int]:
    """end every token and page session of the caller, not only the token of this call"""
    engine().directory.log_out(g.user.id)
    return "", 204


# --- reference data ---------------------------------------------------------------------------

@bp.get("/categories")
@login_required
@validate(resp=Answers(HTTP_200=(list[schemas.Category], "every category"), HTTP_401=UNAUTHENTICATED))
def categories() -> Response:
    """the classification of problems"""
    return jsonify(engine().directory.categories())


@bp.get("/grids")
@login_required
@validate(resp=Answers(HTTP_200=(list[schemas.Grid], "every grid"), HTTP_401=UNAUTHENTICATED))
def grids() -> Response:
    """the grids with their zone and territory department"""
    return jsonify(engine().directory.grids())


@bp.get("/departments")
@login_required
@validate(resp=Answers(HTTP_200=(list[schemas.Department], "every department"), HTTP_401=UNAUTHENTICATED))
def departments() -> Response:
    """the departments"""
    return jsonify(engine().directory.departments())


# --- cases and tasks --------------------------------------------------------------------------

@bp.post("/cases")
@login_required
@validate(
    json=schemas.Report,
    resp=Answers(HTTP_201=(schemas.Reported, "the new case"), HTTP_401=UNAUTHENTICATED, HTTP_422=INVALID),
)
def report_case() -> tuple[Response, int]:
    """上报: report a case"""
    case_id = engine().runtime.report_case(g.user.id, body().model_dump())
    case = engine().cases.case(case_id, g.user.id)
    return jsonify({"id": case["id"], "case_no": case["case_no"], "status": case["status"]}), 201


@bp.get("/processes")
@login_required
@validate(resp=Answers(HTTP_200=(list[schemas.StartForm], "the processes"), HTTP_401=UNAUTHENTICATED))
def start_forms() -> Response:
    """发起: the processes the caller starts from a form, with their forms"""
    return jsonify(engine().runtime.start_forms(g.user.id))


@bp.post("/processes/<process_id>/cases")
@login_required
@validate(
    json=schemas.Submission,
    resp=Answers(
        HTTP_201=(schemas.Reported, "the new case"),
        HTTP_401=UNAUTHENTICATED,
        HTTP_403=FORBIDDEN,
        HTTP_404=NOT_FOUND,
        HTTP_422=INVALID,
    ),
)
def start_case(process_id: str) -> tuple[Response, int]:
    """start a case of a process from its start form (e.g. 公文办理)"""
    case_id = engine().runtime.start_case(g.user.id, process_id, body().fields())
    case = engine().cases.case(case_id, g.user.id)
    return jsonify({"id": case["id"], "case_no": case["case_no"], "status": case["status"]}), 201


@bp.get(f"/cases/<{ROW_ID}:case_id>")
@login_required
@validate(
    resp=Answers(
        HTTP_200=(schemas.Case, "the case"), HTTP_401=UNAUTHENTICATED, HTTP_403=FORBIDDEN, HTTP_404=NOT_FOUND
    )
)
def case(case_id: int) -> Response:
    """a case with its open tasks and history"""
    return jsonify(engine().cases.case(case_id, g.user.id))


@bp.get("/cases")
@login_required
@validate(
    query=schemas.CaseFilter,
    resp=Answers(HTTP_200=(schemas.CasePage, "a page"), HTTP_401=UNAUTHENTICATED, HTTP_422=INVALID),
)
def cases() -> Response:
    """a page of the cases the caller may read, newest first"""
    filter = query()
    return jsonify(
        engine().cases.page(
            g.user.id,
            status=filter.status or None,
            department=filter.department or None,
            grid=filter.grid or None,
            page=filter.page,
            per_page=filter.per_page,
        )
    )


@bp.get("/tasks")
@login_required
@validate(
    query=schemas.TaskFilter,
    resp=Answers(HTTP_200=(list[schemas.InboxTask], "open tasks"), HTTP_401=UNAUTHENTICATED, HTTP_422=INVALID),
)
def inbox() -> Response:
    """the caller's inbox, nearest deadline first"""
    filter = query()
    return jsonify(
        engine().inbox.tasks_for(
            g.user.id,
            limit=filter.limit,
            offset=filter.offset,
            stage=filter.stage or None,
            department=filter.department or None,
            grid=filter.grid or None,
            category=filter.category or None,
            search=filter.q or None,
        )
    )


@bp.get(f"/tasks/<{ROW_ID}:task_id>")
@login_required
@validate(
    resp=Answers(
        HTTP_200=(schemas.TaskForm, "the form"), HTTP_401=UNAUTHENTICATED, HTTP_403=FORBIDDEN, HTTP_404=NOT_FOUND
    )
)
def task(task_id: int) -> Response:
    """a task's form, prefilled"""
    return jsonify(engine().runtime.task_form(g.user.id, task_id))


@bp.post(f"/tasks/<{ROW_ID}:task_id>/complete")
@login_required
@validate(
    json=schemas.Submission,
    resp=Answers(
        HTTP_200=(schemas.Case, "the case after the step"),
        HTTP_401=UNAUTHENTICATED,
        HTTP_403=FORBIDDEN,
        HTTP_404=NOT_FOUND,
        HTTP_409=CONFLICT,
        HTTP_422=INVALID,
    ),
)
def complete_task(task_id: int) -> Response:
    """complete a task with its form's fields"""
    case_id = engine().runtime.complete_task(g.user.id, task_id, body().fields())
    return jsonify(engine().cases.case(case_id, g.user.id))


# --- process definitions ----------------------------------------------------------------------

@bp.get("/definitions")
@login_required
@admin_only("reads the deployed process definitions")  # a case's own diagram is read with the case
@validate(
    resp=Answers(HTTP_200=(schemas.Definitions, "the versions"), HTTP_401=UNAUTHENTICATED, HTTP_403=FORBIDDEN)
)
def definitions() -> Response:
    """every deployed file and process version, with running cases (administrator)"""
    return jsonify(engine().repository.overview())


@bp.post("/definitions")
@login_required
@admin_only("deploys process definitions")
@validate(
    form=schemas.DefinitionFiles,
    resp=Answers(
        HTTP_200=(schemas.Deployment, "nothing changed"),
        HTTP_201=(schemas.Deployment, "the new versions"),
        HTTP_401=UNAUTHENTICATED,
        HTTP_403=FORBIDDEN,
        HTTP_422=(
            schemas.Error,
            "refused, nothing stored: every problem the parser and our checks found in `problems`, each naming "
            "its element; `error` has them all as text, `file` and `element` the first's",
        ),
    ),
)
def deploy() -> tuple[Response, int]:
    """deploy .bpmn and .dmn files (administrator)"""
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
@admin_only("compares process definitions")
@validate(
    query=schemas.VersionPair,
    resp=Answers(
        HTTP_200=(schemas.DefinitionDiff, "the differences"),
        HTTP_401=UNAUTHENTICATED,
        HTTP_403=FORBIDDEN,
        HTTP_404=(schemas.Error, "no such process or version (or only one version)"),
        HTTP_422=INVALID,
    ),
)
def definition_diff(process_id: str) -> Response:
    """what changed between two versions of a process: elements added, removed, changed (administrator)"""
    return jsonify(engine().repository.diff(process_id, version_arg("from"), version_arg("to")))


@bp.post("/definitions/<process_id>/migrations")
@login_required
@admin_only("migrates running cases")
@validate(
    json=schemas.MigrationRequest,
    resp=Answers(
        HTTP_200=(
            schemas.MigrationReport,
            "the cases moved (in a dry run: that would move) and those that cannot, with why",
        ),
        HTTP_401=UNAUTHENTICATED,
        HTTP_403=FORBIDDEN,
        HTTP_404=(schemas.Error, "no such process or version"),
        HTTP_422=INVALID,
    ),
)
def migrate_cases(process_id: str) -> Response:
    """move running cases to a newer version of their process, or list what would (administrator)"""
    request_ = MigrationRequest.from_json(body().model_dump(exclude_unset=True))
    report = engine().migrations.migrate(process_id, request_, g.user.username)
    return jsonify(report.as_dict())


def version_arg(name: str) -> int | None:
    """A process version in the query string, "from" or "to": None when not given. The
    administrator's compare page reads it too."""
    versions = schemas.read_query(schemas.VersionPair)
    return versions.from_version if name == "from" else versions.to_version


# --- the business calendar's extra days ---------------------------------------------------------

@bp.get("/calendar/days")
@login_required
@validate(resp=Answers(HTTP_200=(list[schemas.CalendarDay], "the days"), HTTP_401=UNAUTHENTICATED))
def calendar_days() -> Response:
    """the administrator's extra holidays and working days"""
    return jsonify(engine().calendar_days.list())


@bp.put("/calendar/days/<day>")
@login_required
@admin_only("edits the calendar")
@validate(
    json=schemas.CalendarDayChange,
    resp=Answers(
        HTTP_200=(schemas.CalendarDay, "the day as stored"),
        HTTP_401=UNAUTHENTICATED,
        HTTP_403=FORBIDDEN,
        HTTP_422=INVALID,
    ),
)
def set_calendar_day(day: str) -> Response:
    """set a day as a holiday or a working day (administrator)"""
    change = body()
    return jsonify(engine().calendar_days.set(day, change.kind, change.note, g.user.username))


@bp.delete("/calendar/days/<day>")
@login_required
@admin_only("edits the calendar")
@validate(
    resp=Answers(
        HTTP_204=(None, "removed"),
        HTTP_401=UNAUTHENTICATED,
        HTTP_403=FORBIDDEN,
        HTTP_404=NOT_FOUND,
        HTTP_422=INVALID,
    )
)
def remove_calendar_day(day: str) -> tuple[str, int]:
    """remove a day from the table (administrator)"""
    engine().calendar_days.remove(day, g.user.username)
    return "", 204


@bp.post(f"/tasks/<{ROW_ID}:task_id>/claim")
@login_required
@validate(
    resp=Answers(
        HTTP_200=(schemas.TaskForm, "the task"),
        HTTP_401=UNAUTHENTICATED,
        HTTP_403=FORBIDDEN,
        HTTP_404=NOT_FOUND,
        HTTP_409=CONFLICT,
    )
)
def claim_task(task_id: int) -> Response:
    """签收: take a task the lane shares"""
    engine().runtime.claim_task(g.user.id, task_id)
    return jsonify(engine().runtime.task_form(g.user.id, task_id))


@bp.post(f"/tasks/<{ROW_ID}:task_id>/release")
@login_required
@validate(
    resp=Answers(
        HTTP_200=(schemas.TaskForm, "the task"),
        HTTP_401=UNAUTHENTICATED,
        HTTP_403=FORBIDDEN,
        HTTP_404=NOT_FOUND,
        HTTP_409=CONFLICT,
    )
)
def release_task(task_id: int) -> Response:
    """退回: give a claimed task back to the lane"""
    engine().runtime.release_task(g.user.id, task_id)
    return jsonify(engine().runtime.task_form(g.user.id, task_id))
