"""The map: grid outlines and which grid a position is in (地理编码), and the component census
(部件普查) with the nearest component to a point. GeoJSON text and bounding-box columns in the
tables, shapely in memory: no database extension."""
from __future__ import annotations

from .components import NEAREST_WITHIN_M, ComponentCensus, ImportReport, csv_lines, nearest_component
from .grids import OUTLINES, GridMap, checked_position
from .outlines import metres_between, read_outlines

__all__ = [
    "NEAREST_WITHIN_M",
    "OUTLINES",
    "ComponentCensus",
    "GridMap",
    "ImportReport",
    "checked_position",
    "csv_lines",
    "metres_between",
    "nearest_component",
    "read_outlines",
]
