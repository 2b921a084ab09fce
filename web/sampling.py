"""每月网格抽查: the monthly random draw of grids and the inspection result per grid."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("sampling", __name__, url_prefix="/assessment/sampling")
