"""/api's process definitions and calendar: deploy, list, diff, migrate running cases, and the
administrator's extra calendar days."""
from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request
from spectree import Response as Answers

from engine import InvalidField, MigrationRequest, Upload

from ..auth import engine
from . import answers, requests
from .blueprint import (
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    UNAUTHENTICATED,
    admin_only,
    body,
    bp,
    login_required,
    validate,
)

# --- process definitions ----------------------------------------------------------------------

@bp.get("/definitions")
@login_required
@admin_only("reads the deployed process definitions")  # a case's own diagram is read with the case
@validate(
    resp=Answers(HTTP_200=(answers.Definitions, "the versions"), HTTP_401=UNAUTHENTICATED, HTTP_403=FORBIDDEN)
)
def definitions() -> Response:
    """every deployed file and process version, with running cases (administrator)"""
    return jsonify(engine().repository.overview())


@bp.post("/definitions")
@login_required
@admin_only("deploys process definitions")
@validate(
    form=requests.DefinitionFiles,
    resp=Answers(
        HTTP_200=(answers.Deployment, "nothing changed"),
        HTTP_201=(answers.Deployment, "the new versions"),
        HTTP_401=UNAUTHENTICATED,
        HTTP_403=FORBIDDEN,
        HTTP_422=(
            answers.Error,
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
    query=requests.VersionPair,
    resp=Answers(
        HTTP_200=(answers.DefinitionDiff, "the differences"),
        HTTP_401=UNAUTHENTICATED,
        HTTP_403=FORBIDDEN,
        HTTP_404=(answers.Error, "no such process or version (or only one version)"),
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
    json=requests.MigrationRequest,
    resp=Answers(
        HTTP_200=(
            answers.MigrationReport,
            "the cases moved (in a dry run: that would move) and those that cannot, with why",
        ),
        HTTP_401=UNAUTHENTICATED,
        HTTP_403=FORBIDDEN,
        HTTP_404=(answers.Error, "no such process or version"),
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
    versions = requests.read_query(requests.VersionPair)
    return versions.from_version if name == "from" else versions.to_version


# --- the business calendar's extra days ---------------------------------------------------------

@bp.get("/calendar/days")
@login_required
@validate(resp=Answers(HTTP_200=(list[answers.CalendarDay], "the days"), HTTP_401=UNAUTHENTICATED))
def calendar_days() -> Response:
    """the administrator's extra holidays and working days"""
    return jsonify(engine().calendar_days.list())


@bp.put("/calendar/days/<day>")
@login_required
@admin_only("edits the calendar")
@validate(
    json=requests.CalendarDayChange,
    resp=Answers(
        HTTP_200=(answers.CalendarDay, "the day as stored"),
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


