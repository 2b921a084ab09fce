"""/api's map (一张图): the grids as GeoJSON, the open cases in a bounding box (paged, scoped as
case reads are), and the components near a point. GeoJSON answered as application/json, the one
type every /api answer has (the page's /map routes say application/geo+json)."""
from __future__ import annotations

from flask import Response, g, jsonify
from spectree import Response as Answers

from engine import Forbidden, parse_bbox

from ..auth import engine
from . import answers, requests
from .blueprint import FORBIDDEN, INVALID, UNAUTHENTICATED, bp, login_required, query, validate


@bp.get("/grids.geojson")
@login_required
@validate(resp=Answers(HTTP_200=(answers.GridCollection, "every grid's outline"), HTTP_401=UNAUTHENTICATED))
def grids_geojson() -> Response:
    """the grids' outlines as a GeoJSON FeatureCollection (properties code, name, zone)"""
    return jsonify(engine().grids.export())


@bp.get("/map/cases")
@login_required
@validate(
    query=requests.MapCaseFilter,
    resp=Answers(HTTP_200=(answers.MapCases, "a page of open cases"), HTTP_401=UNAUTHENTICATED, HTTP_422=INVALID),
)
def map_cases() -> Response:
    """一张图: the open cases the caller may read inside a bounding box, as GeoJSON points"""
    filter = query()
    return jsonify(
        engine().case_map.cases(
            g.user.id,
            parse_bbox(filter.bbox),
            status=filter.status or None,
            category=filter.category or None,
            department=filter.department or None,
            urgency=filter.urgency or None,
            period=filter.period,
            limit=filter.limit,
            offset=filter.offset,
        )
    )


@bp.get("/components/near")
@login_required
@validate(
    query=requests.NearPoint,
    resp=Answers(
        HTTP_200=(list[answers.NearComponent], "components within the distance, nearest first (at most 200)"),
        HTTP_401=UNAUTHENTICATED,
        HTTP_403=FORBIDDEN,
        HTTP_422=INVALID,
    ),
)
def components_near() -> Response:
    """部件: the components near a point, of one subtype or all (the office's accounts)"""
    if not g.user.role_names - {"citizen"}:
        raise Forbidden("the component census is for the office's accounts")
    point = query()
    return jsonify(engine().components.near(point.long, point.lat, point.within, point.category or None))
