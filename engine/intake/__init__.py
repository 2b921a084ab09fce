"""Channels through which cases arrive from outside systems: Open311 GeoReport v2."""
from __future__ import annotations

from .open311 import FIELD_LENGTHS as OPEN311_FIELD_LENGTHS
from .open311 import OPEN311_STATUSES, Open311, PublicCase

__all__ = [
    "OPEN311_FIELD_LENGTHS",
    "OPEN311_STATUSES",
    "Open311",
    "PublicCase",
]
