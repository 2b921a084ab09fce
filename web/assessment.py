"""考核: the assessment figures, quarterly ranking and bulletin, charts and exports."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("assessment", __name__, url_prefix="/assessment")
