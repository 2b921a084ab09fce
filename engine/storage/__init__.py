"""Storage: the typed tables, connecting and migrating (Alembic), the append-only audit trail,
and what a column can hold. Every other package reads and writes through these names."""
from __future__ import annotations

from . import models
from .audit import case_history, event_as_dict, record
from .columns import column_fits, column_length, column_text
from .db import MIGRATIONS, connect, session_factory, upgrade_schema
from .models import *  # noqa: F403  (every table: models.__all__ lists them once)

__all__ = [
    *models.__all__,
    "MIGRATIONS",
    "case_history",
    "column_fits",
    "column_length",
    "column_text",
    "connect",
    "event_as_dict",
    "record",
    "session_factory",
    "upgrade_schema",
]
