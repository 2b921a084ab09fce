"""The office: people, their roles and logins, the organisation (departments, zones, grids,
categories) as the administrator keeps it, and the demo office."""
from __future__ import annotations

from .demo import DEMO_PASSWORD, load_demo_data
from .directory import Directory
from .reference import ReferenceData

__all__ = [
    "DEMO_PASSWORD",
    "Directory",
    "ReferenceData",
    "load_demo_data",
]
