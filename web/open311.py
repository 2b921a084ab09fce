"""Open311 GeoReport v2 at /open311/v2: the outside world reports and follows cases."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
