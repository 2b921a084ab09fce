"""The JSON API under /api. Every call but login and health needs a Bearer token."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, current_app, g, jsonify, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException

from engine import (
    Conflict,
    DefinitionError,
    DeployRefused,
    Forbidden,
    GridflowError,
    InvalidField,
    NotAuthenticated,
    NotFound,
    ProcessError,
)

from .. import open311, pages
from ..auth import engine
from . import answers
from .requests import api_spec

bp = Blueprint("api", __name__, url_prefix="/api")
View = TypeVar("View", bound=Callable[..., Any])
# Row ids are 32-bit integers on PostgreSQL: a larger number is no row, and SQLite would fail to
# bind it at all (a 500 instead of a 404).

# Each view names its bodies and answers once, in validate(): spectree checks the request against
# them before the view runs (a refused field is a 422 {error, field}) and document.py documents them.
# Decorators run top down: the token, then the administrator, then the body.
BEARER: dict[str, list[str]] = {"bearer": []}
OPEN: dict[str, Any] = {}  # no token: login, health, this document
UNAUTHENTICATED = (answers.Error, "no valid Bearer token")
FORBIDDEN = (answers.Error, "not yours to read or do")
NOT_FOUND = (answers.Error, "no such thing")
INVALID = (answers.Error, "a bad field: `field` names it")
CONFLICT = (answers.Error, "already completed, claimed or changed meanwhile")


def validate(security: dict[str, Any] = BEARER, **kwargs: Any) -> Callable[[View], View]:
    return cast(Callable[[View], View], api_spec.validate(security=security, **kwargs))


def body() -> Any:
    """The request body as its model, checked."""
    return request.context.json  # type: ignore[attr-defined]


def query() -> Any:
    return request.context.query  # type: ignore[attr-defined]


def tokens() -> URLSafeTimedSerializer:
    """A token is {"uid": user id, "cv": his credential version}: it ends with the version."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="gridflow-api-token")


def login_required(view: View) -> View:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise NotAuthenticated("missing Authorization: Bearer <token>")
        try:
            token = tokens().loads(header[7:], max_age=current_app.config["API_TOKEN_MAX_AGE"])
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


