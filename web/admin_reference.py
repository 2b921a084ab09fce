"""基础数据: zones, grids, departments, categories, users and their roles, calendar days."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin_reference", __name__, url_prefix="/admin/reference")
