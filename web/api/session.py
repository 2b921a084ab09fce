"""/api's session and reference data: health, this document, login and logout, the
classification, grids and departments."""
from __future__ import annotations

from flask import Response, g, jsonify, request
from spectree import Response as Answers

from engine import LoginThrottled, NotAuthenticated

from ..auth import engine
from . import answers, requests
from .blueprint import (
    INVALID,
    OPEN,
    UNAUTHENTICATED,
    body,
    bp,
    login_required,
    tokens,
    validate,
)
from .document import openapi_document

# --- session ----------------------------------------------------------------------------------

@bp.get("/health")
@validate(OPEN, resp=Answers(HTTP_200=(answers.Health, "ok")))
def health() -> Response:
    """is the service up"""
    return jsonify({"status": "ok"})


@bp.get("/openapi.json")
@validate(OPEN, resp=Answers(HTTP_200=(answers.OpenAPIDocument, "the OpenAPI document")))
def openapi() -> Response:
    """this document"""
    return jsonify(openapi_document())


@bp.post("/login")
@validate(
    OPEN,
    json=requests.Login,
    resp=Answers(
        HTTP_200=(answers.Session, "logged in"),
        HTTP_401=(answers.Error, "wrong username or password"),
        HTTP_422=INVALID,
        HTTP_429=(
            answers.Error,
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
            "token": tokens().dumps({"uid": user.id, "cv": user.credential_version}),
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
@validate(resp=Answers(HTTP_200=(list[answers.Category], "every category"), HTTP_401=UNAUTHENTICATED))
def categories() -> Response:
    """the classification of problems"""
    return jsonify(engine().directory.categories())


@bp.get("/grids")
@login_required
@validate(resp=Answers(HTTP_200=(list[answers.Grid], "every grid"), HTTP_401=UNAUTHENTICATED))
def grids() -> Response:
    """the grids with their zone and territory department"""
    return jsonify(engine().directory.grids())


@bp.get("/departments")
@login_required
@validate(resp=Answers(HTTP_200=(list[answers.Department], "every department"), HTTP_401=UNAUTHENTICATED))
def departments() -> Response:
    """the departments"""
    return jsonify(engine().directory.departments())


