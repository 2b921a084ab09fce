"""Grid outlines (单元网格) as GeoJSON: reading a FeatureCollection a city GIS exports, every
problem named per feature, and the outlines written back out. Coordinates are WGS84 longitude
and latitude (CGCS2000 is the same at city scale)."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.validation import explain_validity

METRES_PER_DEGREE = 111_320.0  # of latitude, and of longitude at the equator
OVERLAP_TOLERANCE_M2 = 1.0  # two drawn grids may touch and share a sliver, not cover each other


@dataclass(frozen=True)
class GridOutline:
    code: str
    name: str
    zone: str
    outline: Polygon | MultiPolygon
    feature: int = 0  # its position in the collection it was read from, from 1

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        min_lon, min_lat, max_lon, max_lat = self.outline.bounds
        return float(min_lon), float(min_lat), float(max_lon), float(max_lat)

    def geojson(self) -> str:
        return json.dumps(mapping(self.outline), separators=(",", ":"))


@dataclass(frozen=True)
class FeatureProblem:
    feature: int  # its position in the collection, from 1
    code: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "code": self.code, "message": self.message}


def square_metres(area_in_degrees: float, latitude: float) -> float:
    """An area measured in squared degrees, in square metres near this latitude."""
    return area_in_degrees * METRES_PER_DEGREE**2 * math.cos(math.radians(latitude))


def metres_between(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Distance on the ground (an equirectangular approximation: exact enough within a city)."""
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    y = math.radians(lat2 - lat1)
    return 6_371_000.0 * math.hypot(x, y)


def read_outlines(text: str) -> tuple[list[GridOutline], list[FeatureProblem]]:
    """Every grid of a GeoJSON FeatureCollection with the properties code, name and zone, and
    every problem found, each naming its feature: not JSON, not a polygon, invalid or
    self-intersecting, out of longitude/latitude range, a code twice, two grids overlapping."""
    try:
        collection = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return [], [FeatureProblem(0, None, f"not JSON: {exc}")]
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        return [], [FeatureProblem(0, None, "must be a GeoJSON FeatureCollection")]
    features = collection.get("features")
    if not isinstance(features, list) or not features:
        return [], [FeatureProblem(0, None, "holds no features")]
    outlines: list[GridOutline] = []
    problems: list[FeatureProblem] = []
    first_of: dict[str, int] = {}
    for number, feature in enumerate(features, start=1):
        outline, problem = _read_feature(number, feature)
        if problem is not None:
            problems.append(problem)
            continue
        assert outline is not None
        if outline.code in first_of:
            again = f"code {outline.code} is also feature {first_of[outline.code]}"
            problems.append(FeatureProblem(number, outline.code, again))
            continue
        first_of[outline.code] = number
        outlines.append(outline)
    problems.extend(_overlaps(outlines, first_of))
    return outlines, problems


def _read_feature(number: int, feature: Any) -> tuple[GridOutline | None, FeatureProblem | None]:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return None, FeatureProblem(number, None, "is not a GeoJSON Feature")
    given = feature.get("properties")
    properties: dict[str, Any] = given if isinstance(given, dict) else {}
    code = properties.get("code")
    code = str(code).strip() if isinstance(code, str | int) and str(code).strip() else None
    for name in ("code", "name", "zone"):
        value = properties.get(name)
        if not isinstance(value, str | int) or not str(value).strip():
            return None, FeatureProblem(number, code, f"property {name} is required")
    try:
        outline = shape(feature.get("geometry"))
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException) as exc:
        return None, FeatureProblem(number, code, f"geometry is not readable GeoJSON: {exc}")
    if not isinstance(outline, Polygon | MultiPolygon) or outline.is_empty:
        return None, FeatureProblem(number, code, "geometry must be a Polygon or MultiPolygon")
    if not outline.is_valid:
        return None, FeatureProblem(number, code, f"polygon is invalid: {explain_validity(outline)}")
    min_lon, min_lat, max_lon, max_lat = outline.bounds
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        return None, FeatureProblem(number, code, "coordinates must be WGS84 longitude, latitude")
    assert code is not None
    name, zone = str(properties["name"]).strip(), str(properties["zone"]).strip()
    return GridOutline(code=code, name=name, zone=zone, outline=outline, feature=number), None


def _overlaps(outlines: list[GridOutline], first_of: dict[str, int]) -> list[FeatureProblem]:
    """Pairs of grids covering each other by more than the tolerance: a point there would
    belong to two grids."""
    tree = shapely.STRtree([o.outline for o in outlines])
    problems = []
    for index, outline in enumerate(outlines):
        for other in tree.query(outline.outline, predicate="intersects"):
            if other <= index:
                continue
            shared = outline.outline.intersection(outlines[other].outline).area
            latitude = outline.outline.centroid.y
            if square_metres(shared, latitude) > OVERLAP_TOLERANCE_M2:
                metres = round(square_metres(shared, latitude))
                neighbour = outlines[other].code
                message = f"overlaps grid {neighbour} (feature {first_of[neighbour]}) by {metres} m²"
                problems.append(FeatureProblem(first_of[outline.code], outline.code, message))
    return problems


def feature_collection(grids: list[dict[str, Any]]) -> dict[str, Any]:
    """Grids ({code, name, zone, outline: GeoJSON text or None}) as a FeatureCollection, as a
    city GIS reads it back; grids without an outline have no geometry."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": g["code"], "name": g["name"], "zone": g["zone"]},
                "geometry": json.loads(g["outline"]) if g.get("outline") else None,
            }
            for g in grids
        ],
    }
