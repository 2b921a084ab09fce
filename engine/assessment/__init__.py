"""考核: the assessment figures from the audit trail, and the monthly grid sampling."""
from __future__ import annotations

from .figures import FAILS_FLAGGED, PASS_MARK, SCORE_WEIGHTS, Assessment, Period
from .sampling import ASSESSORS, GridSampling, draw_grids

__all__ = [
    "ASSESSORS",
    "Assessment",
    "FAILS_FLAGGED",
    "GridSampling",
    "PASS_MARK",
    "Period",
    "SCORE_WEIGHTS",
    "draw_grids",
]
