"""Cases: the commands that move them (report, start, complete, claim, fire timers), the rows
projected for inboxes and timers, photos, reading a case and its history, moving running cases
to a newer process version, and the scheduler that fires due timers."""
from __future__ import annotations

from .inbox import Inbox, may_act
from .map_queries import CaseMap, parse_bbox, parse_period
from .migration import CaseMigration, MigrationRequest
from .photos import PhotoStore
from .queries import CaseQueries
from .runtime import CaseRuntime
from .scheduler import TimerScheduler

__all__ = [
    "CaseMap",
    "CaseMigration",
    "CaseQueries",
    "CaseRuntime",
    "Inbox",
    "MigrationRequest",
    "PhotoStore",
    "TimerScheduler",
    "may_act",
    "parse_bbox",
    "parse_period",
]
