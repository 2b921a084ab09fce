"""系统管理: process definitions, the BPMN modeler and DMN editor, deploying new versions."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, render_template, request

from engine import Forbidden, GridflowError, InvalidField, MigrationRequest

from . import api
from .auth import engine, login_required
from .pages import send_diagram

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _administrators_only() -> None:
    # login_required on each view sends strangers to the login page first; this is the rest.
    if g.get("user") is not None and "admin" not in g.user.role_names:
        raise Forbidden("the administration area is for administrators")


@bp.get("/")
@login_required
def index() -> str:
    overview = engine().repository.overview()
    files: dict[str, list[dict[str, object]]] = {}
    for file in overview["files"]:
        files.setdefault(str(file["name"]), []).append(file)
    processes: dict[str, list[dict[str, object]]] = {}
    for process in overview["processes"]:
        processes.setdefault(str(process["id"]), []).append(process)
    return render_template("admin/index.html", files=files, processes=processes)


@bp.get("/files/<name>/<int(max=2147483647):version>")
@login_required
def download(name: str, version: int) -> Response:
    return send_diagram(engine().repository.file_content(name, version), download_name=f"v{version}-{name}")


@bp.get("/files/<name>/<int(max=2147483647):version>/edit")
@login_required
def edit(name: str, version: int) -> str:
    engine().repository.file_content(name, version)  # 404 before drawing an editor for nothing
    kind = "dmn" if name.endswith(".dmn") else "bpmn"
    return render_template("admin/edit.html", name=name, version=version, kind=kind)


@bp.post("/deploy")
@login_required
def deploy() -> tuple[Response, int]:
    """The editor's 部署 button: the same deploy and the same JSON answers as the API's, for the
    page's script; a refusal lists each problem with its element."""
    try:
        return api.deploy_files(request.files.getlist("file"), g.user.username)
    except GridflowError as error:
        return api.engine_error(error)


@bp.get("/processes/<process_id>/diff")
@login_required
def diff(process_id: str) -> str:
    """What a version changed against the one it follows (default: the newest against the one before)."""
    report = engine().repository.diff(process_id, api.version_arg("from"), api.version_arg("to"))
    return render_template("admin/diff.html", report=report)


@bp.route("/processes/<process_id>/migrate", methods=["GET", "POST"])
@login_required
def migrate(process_id: str) -> str | tuple[str, int]:
    """迁移: move running cases to a newer version; 试运行 (dry run) lists what would move and why not."""
    versions = [p for p in engine().repository.overview()["processes"] if p["id"] == process_id]
    if not versions:
        raise InvalidField("process_id", f"process {process_id!r} is not deployed")
    form = {name: request.form.get(name, "") for name in ("from_version", "to_version", "case_ids")}
    dry_run = request.form.get("dry_run") == "on"
    report, error = None, None
    if request.method == "POST":

        def number(text: str) -> int | str:  # MigrationRequest names a field that is no number
            return int(text) if text.isdigit() else text

        body: dict[str, Any] = {"from_version": number(form["from_version"]),
                                "to_version": number(form["to_version"]), "dry_run": dry_run}
        ids = [int(part) for part in form["case_ids"].replace("，", ",").split(",") if part.strip().isdigit()]
        if ids:
            body["case_ids"] = ids
        try:
            report = engine().migrations.migrate(process_id, MigrationRequest.from_json(body), g.user.username)
        except InvalidField as exc:
            error = exc
    page = render_template("admin/migrate.html", process_id=process_id, versions=versions, form=form,
                           dry_run=dry_run, report=report.as_dict() if report else None, error=error)
    return (page, 422) if error else page

