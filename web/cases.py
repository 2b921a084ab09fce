"""上报 (report a problem), the case page, and the task page with the form its BPMN task defines."""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from engine import Conflict, Forbidden, InvalidField

from .api import ROW_ID
from .auth import engine, login_required
from .pages import CHANNEL_NAMES, EVENT_NAMES, STATUS_NAMES, URGENCY_NAMES, back_to_referrer, send_diagram, send_photo

bp = Blueprint("cases", __name__)


def _local(instant: str | None) -> str:
    if not instant:
        return ""
    return datetime.fromisoformat(instant).astimezone(engine().calendar.tz).strftime("%Y-%m-%d %H:%M")


@bp.app_context_processor
def helpers() -> dict[str, Any]:
    return {
        "local_time": _local,
        "status_name": lambda s: STATUS_NAMES.get(s, s),
        "event_name": lambda e: EVENT_NAMES.get(e, e),
    }


@bp.route("/report", methods=["GET", "POST"])
@login_required
def report() -> ResponseReturnValue:
    gridflow = engine()
    values = request.form.to_dict() if request.method == "POST" else {}
    if request.method == "POST":
        photos = [f.read() for f in request.files.getlist("photos") if f.filename]
        try:
            case_id = gridflow.runtime.report_case(g.user.id, _with_position(values), photos)
        except InvalidField as error:
            return _report_page(values, {error.field: error.reason}), 422
        flash(_("已上报"))
        return redirect(url_for("cases.case", case_id=case_id))
    default_channel = "collector" if "collector" in g.user.role_names else "hotline"
    return _report_page({"channel": default_channel, "urgency": "normal"}, {})


def _with_position(values: dict[str, str]) -> dict[str, Any]:
    """The map fills the hidden `lat` and `long` as text; the engine takes numbers (and finds the
    grid from them, or refuses a point in no grid or in another grid than the one chosen)."""
    report: dict[str, Any] = {k: v for k, v in values.items() if k not in ("lat", "long", "component")}
    if values.get("component"):
        report["component"] = values["component"]
    for name in ("lat", "long"):
        text = values.get(name, "").strip()
        if not text:
            continue
        try:
            number = float(text)
        except ValueError:
            raise InvalidField(name, _("须为经纬度数字")) from None
        if not math.isfinite(number):
            raise InvalidField(name, _("须为经纬度数字"))
        report[name] = number
    if ("lat" in report) != ("long" in report):
        raise InvalidField("lat", _("请在地图上选点"))
    return report


def _zone_outlines() -> dict[str, Any]:
    """The grids a reporter's map shows: a collector's own zone, everyone else the whole city."""
    collection = engine().grids.export()
    zone = g.user.zone_code if "collector" in g.user.role_names else None
    if zone:
        features = [f for f in collection["features"] if f["properties"].get("zone") == zone]
        collection = collection | {"features": features}
    return collection


def _report_page(values: dict[str, str], errors: dict[str, str]) -> str:
    gridflow = engine()
    categories: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for category in gridflow.directory.categories():
        family = _("部件") if category["family"] == "component" else _("事件")
        categories.setdefault(family, {}).setdefault(category["class_name"], []).append(category)
    return render_template(
        "cases/report.html",
        categories=categories,
        grids=gridflow.directory.grids(),
        urgencies=URGENCY_NAMES,
        channels=CHANNEL_NAMES,
        values=values,
        errors=errors,
        outlines=_zone_outlines(),
        component_categories=[c["code"] for c in gridflow.directory.categories() if c["family"] == "component"],
    )


def case_place(found: dict[str, Any]) -> dict[str, Any] | None:
    """What a case's small map draws: its point, its grid's outline and its component; None when
    the case was reported with no position."""
    if found.get("lat") is None or found.get("long") is None:
        return None
    grid = (found.get("grid") or {}).get("code")
    features = [f for f in engine().grids.export()["features"] if f["properties"].get("code") == grid]
    return {
        "lat": found["lat"],
        "long": found["long"],
        "component": found.get("component"),
        "outlines": {"type": "FeatureCollection", "features": features},
    }


@bp.get(f"/cases/<{ROW_ID}:case_id>")
@login_required
def case(case_id: int) -> str:
    found = engine().cases.case(case_id, g.user.id)
    done = sorted({e["task"] for e in found["history"] if e["task"] and e["action"] in ("complete", "timer")})
    current = sorted({t["task"] for t in found["tasks"]})
    return render_template("cases/case.html", case=found, done=done, current=current, place=case_place(found))


@bp.get(f"/cases/<{ROW_ID}:case_id>/diagram.bpmn")
@login_required
def diagram(case_id: int) -> Response:
    """The diagram this case runs on (its own process version, not the newest)."""
    found = engine().cases.case(case_id, g.user.id)
    return send_diagram(engine().repository.diagram(found["process"]["version_id"]))


@bp.get("/photos/<sha256>")
@login_required
def photo(sha256: str) -> Response:
    gridflow = engine()
    digest, content_type = gridflow.cases.photo(sha256, g.user.id)
    return send_photo(gridflow.photos.path(digest), content_type)


@bp.route(f"/tasks/<{ROW_ID}:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int) -> ResponseReturnValue:
    gridflow = engine()
    form = gridflow.runtime.task_form(g.user.id, task_id)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {f["name"]: f["default"] for f in form["fields"]}
    if request.method == "POST":
        submitted = _submitted(form["fields"])
        values = dict(submitted)
        try:
            gridflow.runtime.complete_task(g.user.id, task_id, submitted)
        except InvalidField as error:
            errors[error.field] = error.reason
        except Conflict as error:
            flash(_("此任务已被处理或案件已变更，请刷新后重试：") + str(error))
            return redirect(url_for("inbox.index"))
        else:
            flash(_("已办理：") + form["title"])
            return redirect(url_for("inbox.index"))
    case_view = gridflow.cases.case(form["case_id"], g.user.id)
    page = render_template(
        "tasks/task.html",
        form=form,
        case=case_view,
        values=values,
        errors=errors,
        departments=gridflow.directory.departments(),
        place=case_place(case_view),
    )
    return (page, 422) if errors else page


@bp.get("/start")
@login_required
def start_list() -> str:
    """发起: the processes this person starts from a form (e.g. 公文办理 for the clerk)."""
    return render_template("start/index.html", forms=engine().runtime.start_forms(g.user.id))


@bp.route("/start/<process_id>", methods=["GET", "POST"])
@login_required
def start(process_id: str) -> ResponseReturnValue:
    gridflow = engine()
    forms = gridflow.runtime.start_forms(g.user.id, process_id)
    if not forms:
        raise Forbidden(f"process {process_id!r} is not started by your role")
    [form] = forms
    errors: dict[str, str] = {}
    values: dict[str, Any] = {f["name"]: f["default"] for f in form["fields"]}
    if request.method == "POST":
        submitted = _submitted(form["fields"])
        values = dict(submitted)
        try:
            case_id = gridflow.runtime.start_case(g.user.id, process_id, submitted)
        except InvalidField as error:
            errors[error.field] = error.reason
        else:
            flash(_("已发起：") + form["name"])
            return redirect(url_for("cases.case", case_id=case_id))
    page = render_template(
        "start/form.html", form=form, values=values, errors=errors, departments=gridflow.directory.departments()
    )
    return (page, 422) if errors else page


@bp.post(f"/tasks/<{ROW_ID}:task_id>/claim")
@login_required
def claim(task_id: int) -> ResponseReturnValue:
    return _assign(task_id, claim=True)


@bp.post(f"/tasks/<{ROW_ID}:task_id>/release")
@login_required
def release(task_id: int) -> ResponseReturnValue:
    return _assign(task_id, claim=False)


def _assign(task_id: int, claim: bool) -> ResponseReturnValue:
    runtime = engine().runtime
    try:
        (runtime.claim_task if claim else runtime.release_task)(g.user.id, task_id)
    except Conflict:
        flash(_("此任务已被他人签收或已办结"))
    else:
        flash(_("已签收") if claim else _("已退回任务池"))
    return redirect(back_to_referrer())


def _submitted(fields: list[dict[str, Any]]) -> dict[str, Any]:
    """Form posts are strings; the engine checks types, so booleans become booleans here."""
    submitted: dict[str, Any] = {}
    for field in fields:
        raw = request.form.get(field["name"])
        if raw is None or raw == "":
            continue
        if field["type"] == "boolean":
            submitted[field["name"]] = {"true": True, "false": False}.get(raw, raw)
        else:
            submitted[field["name"]] = raw
    return submitted
