"""The demo county town on the map: its 33 grids as street blocks around 35.17 N 118.83 E. Each
zone (网区) is a column of three blocks, six zones to a row; the blocks' corners are one lattice,
nudged a little so that streets do not run dead straight, and neighbours share their edges."""
from __future__ import annotations

import hashlib
import json

from shapely.geometry import Polygon, mapping

ORIGIN = (118.8180, 35.1790)  # longitude, latitude of the town's north-west corner
BLOCK = (0.0050, 0.0036)  # about 455 m east-west and 400 m north-south at this latitude
NUDGE = 0.0005  # at most about 45 m
ZONES_A_ROW = 6
GRIDS_A_ZONE = 3


def _corner(column: int, row: int) -> tuple[float, float]:
    """A lattice point; the border of the town stays straight, the inner streets bend a little."""
    lon = ORIGIN[0] + column * BLOCK[0]
    lat = ORIGIN[1] - row * BLOCK[1]
    if 0 < column < ZONES_A_ROW and 0 < row < 2 * GRIDS_A_ZONE:
        digest = hashlib.sha256(f"{column},{row}".encode()).digest()
        lon += (digest[0] / 255 - 0.5) * 2 * NUDGE
        lat += (digest[1] / 255 - 0.5) * 2 * NUDGE
    return round(lon, 6), round(lat, 6)


def grid_outline(zone: int, grid: int) -> Polygon:
    """The block of grid `grid` (1-3) of zone `zone` (1-11)."""
    column = (zone - 1) % ZONES_A_ROW
    row = ((zone - 1) // ZONES_A_ROW) * GRIDS_A_ZONE + (grid - 1)
    corners = [_corner(column, row), _corner(column + 1, row), _corner(column + 1, row + 1), _corner(column, row + 1)]
    return Polygon(corners + corners[:1])


def outline_columns(zone: int, grid: int) -> dict[str, object]:
    """The Grid row's outline and bounding box columns."""
    outline = grid_outline(zone, grid)
    min_lon, min_lat, max_lon, max_lat = outline.bounds
    return {
        "outline": json.dumps(mapping(outline), separators=(",", ":")),
        "min_lon": min_lon, "min_lat": min_lat, "max_lon": max_lon, "max_lat": max_lat,
    }


# The demo census (部件普查): manhole covers, lamps and hydrants, a few to a grid. Most belong to
# their category's owner; some to another department, so that 先属主 for this very object sends
# its case elsewhere than the category would (a 城管局 rain-water cover, a 住建局 lamp, ...).
CENSUS_CATEGORIES = ("BJ0101", "BJ0102", "BJ0103", "BJ0104", "BJ0105", "BJ0106")
OTHER_OWNERS = {"BJ0101": "CGJ", "BJ0102": "HBJ", "BJ0103": "CGJ", "BJ0104": "ZJJ", "BJ0105": "ZJJ", "BJ0106": "ZJJ"}
OTHER_EVERY = 5  # one component in five has another owner than its category's


def census_rows(grids: list[tuple[int, int]], owners: dict[str, str | None]) -> list[dict[str, object]]:
    """Two components per grid, deterministic, inside the grid (between its centroid and a corner),
    cycling through the census categories: 66 for the demo's 33 grids."""
    rows: list[dict[str, object]] = []
    for zone, grid in grids:
        outline = grid_outline(zone, grid)
        centre = outline.centroid
        corners = list(outline.exterior.coords)[:4]
        for slot in range(2):
            number = len(rows)
            category = CENSUS_CATEGORIES[number % len(CENSUS_CATEGORIES)]
            digest = hashlib.sha256(f"{zone}-{grid}-{slot}".encode()).digest()
            corner = corners[(digest[0] + slot) % 4]
            share = 0.15 + 0.5 * digest[1] / 255  # from the centroid towards the corner, never to it
            lon = round(centre.x + (corner[0] - centre.x) * share, 6)
            lat = round(centre.y + (corner[1] - centre.y) * share, 6)
            other = number % OTHER_EVERY == OTHER_EVERY - 1
            rows.append({
                "code": f"{category}-{zone:02d}{grid:02d}{slot + 1}",
                "category_code": category,
                "owner_department_code": OTHER_OWNERS[category] if other else owners[category],
                "state": "normal",
                "lon": lon,
                "lat": lat,
                "note": "",
            })
    return rows
