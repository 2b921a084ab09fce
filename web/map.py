"""一张图: open cases on a map, coloured by deadline, with a grid choropleth, for the centres,
leaders, the assessor and the administrator; a department handler sees his department's cases and
a collector his zone's. The page's data comes from JSON routes under /map (session cookie)."""
from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import Forbidden as HTTPForbidden

from engine import URGENCIES, Forbidden, GridflowError, InvalidField, parse_bbox

from .auth import engine, login_required
from .pages import LIGHTS, STATUS_NAMES, URGENCY_NAMES, error_page

bp = Blueprint("map", __name__, url_prefix="/map")

MAP_ROLES = frozenset({"operator", "dispatcher", "leader", "assessor", "admin", "department", "collector"})


def reads_map(user: Any) -> bool:
    return bool(user and MAP_ROLES & user.role_names)


@bp.app_context_processor
def map_link() -> dict[str, bool]:
    return {"reads_map": reads_map(g.get("user"))}


def _reader() -> None:
    if not reads_map(g.user):
        raise Forbidden("the map is for the centres, leaders, departments and collectors")


@bp.errorhandler(GridflowError)
def refused(error: GridflowError) -> Any:
    """The map's JSON routes answer in JSON; the page itself as the other pages do."""
    if request.endpoint == "map.index":
        return error_page(HTTPForbidden() if isinstance(error, Forbidden) else BadRequest())
    if isinstance(error, InvalidField):
        return jsonify({"error": error.reason, "field": error.field}), 422
    status = 403 if isinstance(error, Forbidden) else 400
    return jsonify({"error": str(error)}), status


@bp.get("")
@login_required
def index() -> str:
    _reader()
    gridflow = engine()
    return render_template(
        "map/index.html",
        tiles=current_app.config.get("MAP_TILES") or "",
        attribution=current_app.config.get("MAP_ATTRIBUTION") or "",
        options={
            "statuses": {k: str(v) for k, v in STATUS_NAMES.items()},
            "urgencies": {k: str(URGENCY_NAMES.get(k, k)) for k in URGENCIES},
            "lights": LIGHTS,
            "words": {
                "open": _("打开案件"),
                "reports": _("上报数"),
                "overdue": _("超期数"),
                "none": _("无"),
                "shown": _("显示 %(shown)s / %(total)s 件"),
            },
        },
        categories=gridflow.directory.categories(),
        departments=gridflow.directory.departments(),
        statuses=STATUS_NAMES,
        urgencies={k: URGENCY_NAMES.get(k, k) for k in URGENCIES},
    )


@bp.get("/grids.geojson")
@login_required
def grids() -> Response:
    _reader()
    return _geojson(engine().grids.export())


@bp.get("/cases.geojson")
@login_required
def cases() -> Response:
    _reader()
    args = request.args
    collection = engine().case_map.cases(
        g.user.id,
        parse_bbox(args.get("bbox", "")),
        status=args.get("status") or None,
        category=args.get("category") or None,
        department=args.get("department") or None,
        urgency=args.get("urgency") or None,
        period=args.get("period", ""),
        limit=_whole("limit", 1000),
        offset=_whole("offset", 0),
    )
    return _geojson(collection)


@bp.get("/counts")
@login_required
def counts() -> Response:
    _reader()
    args = request.args
    return jsonify(engine().case_map.counts(g.user.id, args.get("period", ""), args.get("measure", "reports")))


@bp.get("/near")
@login_required
def near() -> Response:
    """What the report page shows for a point: its grid, the nearest component of the category
    and the open cases within 50 m (a possible duplicate)."""
    _reader()
    lat, lon = position(request.args)
    gridflow = engine()
    category = request.args.get("category") or None
    component = gridflow.components.nearest(category, lon, lat) if category else None
    return jsonify({
        "grid": gridflow.case_map.grid_at(gridflow.grids, lon, lat),
        "component": {
            "code": component["code"],
            "category": component["category"],
            "owner_department": component["owner_department"],
            "metres": component["metres"],
        }
        if component
        else None,
        "open_cases": gridflow.case_map.near(g.user.id, lon, lat),
    })


def position(args: Any) -> tuple[float, float]:
    """(lat, long) from the query string, in WGS84 degrees."""
    found = []
    for name, limit in (("lat", 90), ("long", 180)):
        text = args.get(name, "")
        try:
            value = float(text)
        except ValueError:
            raise InvalidField(name, "required: a number (WGS84 degrees)") from None
        if not math.isfinite(value) or not -limit <= value <= limit:
            raise InvalidField(name, f"must be from -{limit} to {limit}")
        found.append(value)
    return found[0], found[1]


def _whole(name: str, default: int) -> int:
    text = request.args.get(name, "")
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise InvalidField(name, "must be a whole number")
    return int(text)


def _geojson(collection: dict[str, Any]) -> Response:
    answer = jsonify(collection)
    answer.mimetype = "application/geo+json"
    return answer
