"""系统管理: process definitions, the BPMN modeler and DMN editor, deploying new versions."""
from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, render_template, request

from engine.case_migration import MigrationRequest
from engine.errors import DefinitionError, Forbidden, GridflowError, InvalidField
from engine.repository import Upload

from .auth import engine, login_required

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
    content = engine().repository.file_content(name, version)
    return Response(
        content,
        mimetype="application/xml",
        headers={"Content-Disposition": f"attachment; filename=v{version}-{name}"},
    )


@bp.get("/files/<name>/<int(max=2147483647):version>/edit")
@login_required
def edit(name: str, version: int) -> str:
    engine().repository.file_content(name, version)  # 404 before drawing an editor for nothing
    kind = "dmn" if name.endswith(".dmn") else "bpmn"
    return render_template("admin/edit.html", name=name, version=version, kind=kind)


@bp.post("/deploy")
@login_required
def deploy() -> tuple[Response, int]:
    """The editor's 部署 button: the edited file becomes a new version if every check passes.
    Answers JSON for the page's script; refusals list each problem with its element."""
    upload = request.files.get("file")
    if upload is None:
        raise InvalidField("file", "attach the edited file as multipart field 'file'")
    try:
        deployment = engine().repository.deploy([Upload(upload.filename or "", upload.read())], g.user.username)
    except DefinitionError as error:
        problems = getattr(error, "problems", None) or [{"element": error.element_id, "message": str(error)}]
        return jsonify({"error": str(error), "problems": problems}), 422
    except GridflowError as error:
        return jsonify({"error": str(error), "problems": [{"element": None, "message": str(error)}]}), 422
    body = {
        "files": [{"name": f.name, "version": f.version} for f in deployment.files],
        "processes": [{"id": p.process_id, "version": p.version} for p in deployment.processes],
    }
    return jsonify(body), 201 if deployment.files else 200


@bp.get("/processes/<process_id>/diff")
@login_required
def diff(process_id: str) -> str:
    """What a version changed against the one it follows (default: the newest against the one before)."""
    def version(name: str) -> int | None:
        value = request.args.get(name, "")
        return int(value) if value.isdigit() else None

    report = engine().repository.diff(process_id, version("from"), version("to"))
    return render_template("admin/diff.html", report=report)


@bp.route("/processes/<process_id>/migrate", methods=["GET", "POST"])
@login_required
def migrate(process_id: str) -> str | tuple[str, int]:
    """迁移: move running cases to a newer version; 试运行 (dry run) lists what would move and why not."""
    versions = [p for p in engine().repository.overview()["processes"] if p["id"] == process_id]
    if not versions:
        raise InvalidField("process_id", f"process {process_id!r} is not deployed")
    form = {"from_version": request.form.get("from_version", ""), "to_version": request.form.get("to_version", ""),
            "case_ids": request.form.get("case_ids", ""), "dry_run": request.form.get("dry_run") == "on"}
    report, error = None, None
    if request.method == "POST":
        body = {
            "from_version": int(form["from_version"]) if form["from_version"].isdigit() else form["from_version"],
            "to_version": int(form["to_version"]) if form["to_version"].isdigit() else form["to_version"],
            "dry_run": form["dry_run"],
        }
        ids = [int(part) for part in form["case_ids"].replace("，", ",").split(",") if part.strip().isdigit()]
        if ids:
            body["case_ids"] = ids
        try:
            report = engine().migrations.migrate(process_id, MigrationRequest.from_json(body), g.user.username)
        except InvalidField as exc:
            error = exc
    page = render_template("admin/migrate.html", process_id=process_id, versions=versions, form=form,
                           report=report.as_dict() if report else None, error=error)
    return (page, 422) if error else page

