"""Running diagrams: SpiffWorkflow bound to our clock (timer events), to a restricted,
time-limited environment for a diagram's Python (the sandbox and the script engine), to the
stored form of a workflow (specs once, state per case) and to the cache of open workflows."""
from __future__ import annotations

from .sandbox import (
    BUILTINS,
    DEFAULT_TIME_LIMIT,
    RestrictedEnvironment,
    ScriptRefused,
    ScriptTimeLimit,
    compile_restricted,
)
from .scripting import GridflowScriptEngine
from .serialization import WorkflowCodec
from .specs import Specs
from .timers import (
    attached_activity,
    boundary_timers,
    is_timer,
    parse_cycle,
    timer_due,
    timer_instant,
    times_fired,
    use_our_clock,
)
from .workflow_cache import WorkflowCache

__all__ = [
    "BUILTINS",
    "DEFAULT_TIME_LIMIT",
    "GridflowScriptEngine",
    "RestrictedEnvironment",
    "ScriptRefused",
    "ScriptTimeLimit",
    "Specs",
    "WorkflowCache",
    "WorkflowCodec",
    "attached_activity",
    "boundary_timers",
    "compile_restricted",
    "is_timer",
    "parse_cycle",
    "timer_due",
    "timer_instant",
    "times_fired",
    "use_our_clock",
]
