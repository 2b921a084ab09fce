"""The map's reference data: the administrator's grid outlines (export, preview, apply) and the
component census import (部件普查), and a component's own page with the cases about it.

An uploaded outline file is kept on the server under its SHA-256 between preview and apply; the
apply names only that digest and checks the stored text again, so what is applied is what was
previewed and nothing the browser re-sent."""
from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from engine import ADMINISTRATOR, DeployRefused, Forbidden, InvalidField, csv_lines

from .auth import engine, login_required

PREVIEW_KEPT_SECONDS = 24 * 3600
bp = Blueprint("admin_map", __name__)

OUTLINE_FILE_LIMIT = 20 * 1024 * 1024  # a city's 10,000 grids as GeoJSON are a few MB
DIGEST = re.compile(r"^[0-9a-f]{64}$")


@bp.before_request
def who_may() -> ResponseReturnValue | None:
    if g.user is None:
        return redirect(url_for("auth.login", next=request.path))
    if request.path.startswith("/admin/") and ADMINISTRATOR not in g.user.role_names:
        raise Forbidden("only an administrator manages the grids' outlines and the component census")
    if not set(g.user.role_names) - {"citizen"}:
        raise Forbidden("a component's page is for the office, not for outside clients")
    return None


# --- grid outlines -----------------------------------------------------------------------------


@bp.get("/admin/map/grids")
@login_required
def grids() -> str:
    return render_template("admin/map/grids.html", outlines=engine().grids.export(), error=None)


@bp.get("/admin/map/grids.geojson")
@login_required
def export() -> Response:
    body = json.dumps(engine().grids.export(), ensure_ascii=False, indent=1)
    return Response(
        body,
        mimetype="application/geo+json",
        headers={"Content-Disposition": "attachment; filename=grids.geojson"},
    )


@bp.post("/admin/map/grids/preview")
@login_required
def preview() -> ResponseReturnValue:
    upload = request.files.get("file")
    content = upload.read(OUTLINE_FILE_LIMIT + 1) if upload else b""
    if not content:
        return _grids_refused(_("请选择一个 GeoJSON 文件"))
    if len(content) > OUTLINE_FILE_LIMIT:
        return _grids_refused(_("文件超过 %(mb)s MB", mb=OUTLINE_FILE_LIMIT // (1024 * 1024)))
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _grids_refused(_("文件不是 UTF-8 编码的文本"))
    digest = hashlib.sha256(content).hexdigest()
    _uploads().mkdir(parents=True, exist_ok=True)
    # A preview nobody applied is kept a day, no longer: the folder never grows past a day's uploads.
    for stale in _uploads().glob("*.geojson"):
        if time.time() - stale.stat().st_mtime > PREVIEW_KEPT_SECONDS:
            stale.unlink(missing_ok=True)
    (_uploads() / f"{digest}.geojson").write_text(text, encoding="utf-8")
    return _preview_page(text, digest)


@bp.post("/admin/map/grids/apply")
@login_required
def apply() -> ResponseReturnValue:
    digest = request.form.get("digest", "")
    path = _uploads() / f"{digest}.geojson"
    if not DIGEST.match(digest) or not path.exists():
        return _grids_refused(_("预览已失效，请重新上传文件"), field="digest")
    text = path.read_text(encoding="utf-8")
    try:
        done = engine().grids.apply(g.user.id, text)
    except DeployRefused:
        return _preview_page(text, digest)  # the problems as the preview lists them, nothing applied
    path.unlink(missing_ok=True)
    flash(
        _(
            "网格边界已更新：新增 %(added)s，修改 %(changed)s，移除 %(removed)s",
            added=len(done["added"]),
            changed=len(done["changed"]),
            removed=len(done["removed"]),
        )
    )
    return redirect(url_for("admin_map.grids"))


def _preview_page(text: str, digest: str) -> ResponseReturnValue:
    found = engine().grids.preview(text)
    try:
        drawn = json.loads(text)
    except ValueError:
        drawn = None
    if not isinstance(drawn, dict) or drawn.get("type") != "FeatureCollection":
        drawn = None
    page = render_template(
        "admin/map/preview.html", preview=found, drawn=drawn, digest=digest, outlines=engine().grids.export()
    )
    return (page, 422) if found["problems"] else page


def _grids_refused(message: str, field: str = "file") -> tuple[str, int]:
    page = render_template(
        "admin/map/grids.html", outlines=engine().grids.export(), error={"field": field, "message": message}
    )
    return page, 422


def _uploads() -> Path:
    return Path(current_app.instance_path) / "grid-outline-uploads"


# --- the component census --------------------------------------------------------------------


@bp.route("/admin/map/components", methods=["GET", "POST"])
@login_required
def components() -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("admin/map/components.html", report=None, error=None)
    upload = request.files.get("file")
    content = upload.read() if upload else b""
    if not content:
        return _census_refused(_("请选择一个 CSV 或 GeoJSON 文件"))
    census = engine().components
    try:
        if content.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
            report = census.import_geojson(g.user.id, content.decode("utf-8-sig"))
        else:
            report = census.import_csv(g.user.id, csv_lines(content))
    except UnicodeDecodeError:
        return _census_refused(_("文件不是 UTF-8 编码的文本"))
    except InvalidField as error:
        return _census_refused(error.reason)
    return render_template("admin/map/components.html", report=report.as_dict(), error=None)


def _census_refused(message: str) -> tuple[str, int]:
    page = render_template("admin/map/components.html", report=None, error={"field": "file", "message": message})
    return page, 422


# --- a component's page ------------------------------------------------------------------------


@bp.get("/components/<code>")
@login_required
def component(code: str) -> str:
    gridflow = engine()
    found = gridflow.components.component(code)  # 404 for a code that does not exist
    found["cases"] = gridflow.case_map.component_cases(g.user.id, found["id"])  # only those one may read
    categories = {c["code"]: c for c in gridflow.directory.categories()}
    departments = {d["code"]: d["name"] for d in gridflow.directory.departments()}
    category: dict[str, Any] = categories.get(found["category"], {})
    return render_template(
        "admin/map/component.html",
        component=found,
        category_name=" / ".join(filter(None, (category.get("class_name"), category.get("name")))),
        owner_name=departments.get(found["owner_department"] or ""),
    )
