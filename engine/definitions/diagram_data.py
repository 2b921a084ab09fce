"""What data a diagram reads and where it comes from, checked at deploy.

A name an expression reads (a condition, a timer, a task property, a form's required_if or
default, a script, a DMN cell) must be provided by something: the case's start data, a DMN
table's output, a form field, a script assignment or a data object. The start data of the
grid-management lifecycle is what CaseRuntime.report_case (上报) puts on its start event; a
process started from its start event's own form (a start event with `start_roles`, see
CaseRuntime.start_case) starts with that form's fields and the case number only. A name nothing
provides is a misspelling (`handle_limt`) that would otherwise fail in front of a user weeks
later. The check is by name over the whole diagram, not by path: it catches a name nobody
gives, not one read before it is given.

Timer expressions are also evaluated, on sample task data built from the same sources:
- the start data below (one real-looking case: a normal hotline report in grid 03-02), or for a
  process started from a form, its case number;
- each form field a value of its type (a choice its first value);
- each DMN output's value in the first row of its table that gives it one (the cell evaluated
  on the data above);
- each script run on all of that, as often as needed for scripts reading others' results.
All of it runs as cases run it: restricted, with the time limit (engine/sandbox.py), so a
deploy check has no side effects; a script or cell that runs past the limit, or does what
diagrams may not, on the sample is refused (`refused`), naming its element.
The result must be what the timer needs: an ISO 8601 instant (timeDate), duration
(timeDuration) or R[n]/<instant>/<interval> cycle (timeCycle). One sample cannot prove every row
of a table right (the deploy checks every duration cell on its own), but it proves that the
expression reads and yields the right kind of value."""
from __future__ import annotations

import ast
import builtins
import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.dmn.specs.business_rule_task_mixin import BusinessRuleTaskMixin

from ..execution import (
    BUILTINS,
    ScriptRefused,
    compile_restricted,
    parse_cycle,  # the cycle format our clocked timers accept, read the same way
)

# What CaseRuntime.report_case gives the start event, with sample values of the right type.
# tests/test_deploy_checks.py keeps the names equal to what a real case starts with.
START_DATA: dict[str, Any] = {
    "case_no": "20261125-0001",
    "category": "SJ0502",
    "category_name": "店外经营",
    "family": "event",
    "class_code": "05",
    "owner_department": "CGJ",
    "component": None,  # the 部件 reported, when the reporter confirmed one
    "component_owner": None,  # its owner: 先属主 for this very object
    "limit_class": "normal",
    "emergency": False,
    "grid": "03-02",
    "zone": "03",
    "territory_department": "JD03",
    "urgency": "normal",
    "channel": "hotline",
}
FORM_START_DATA: dict[str, Any] = {"case_no": "20261125-0001"}  # besides the start form's fields
FIELD_SAMPLES: dict[str, Any] = {"boolean": True, "text": "样例", "department": "JD03", "duration": "P1D"}
# The DMN engine's name for the input value ("?") in an input entry; it is not task data.
DMN_INPUT = "dmninputexpr"
_PYTHON_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class Expression:
    """One piece of Python the diagram or a table carries, as it will be evaluated."""

    element: str
    what: str  # e.g. "condition towards register", "timer expression", "property zone"
    source: str
    mode: str  # "eval" or "exec"
    file: str | None = None


@dataclass(frozen=True)
class Unread:
    """A name an expression reads that nothing in the diagram provides."""

    expression: Expression
    name: str
    suggestion: str | None  # the closest name something provides, with what provides it

    def message(self) -> str:
        if self.name in _PYTHON_BUILTINS:
            return (
                f"{self.expression.what} {self.expression.source!r} reads {self.name!r}, a Python built-in a "
                f"diagram may not use (it has its own functions and {', '.join(sorted(BUILTINS))})"
            )
        hint = f"; did you mean {self.suggestion}?" if self.suggestion else ""
        return (
            f"{self.expression.what} {self.expression.source!r} reads {self.name!r}, which nothing provides "
            f"(no DMN output, form field, script assignment or case start data){hint}"
        )


@dataclass(frozen=True)
class TimerFailure:
    element: str
    message: str
    # Elements whose scripts would have given the timer its data but failed on the sample: when
    # one of them is reported already, this failure is its consequence, not news.
    because: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Refusal:
    """A script or table cell that, run on the sample, ran past the time limit or did what a
    diagram may not (engine/sandbox.py)."""

    element: str
    message: str


@dataclass
class DiagramData:
    """The names a set of task specs provides, and sample task data for evaluating timers."""

    provided: dict[str, str] = field(default_factory=dict)  # name -> what provides it, in words
    sample: dict[str, Any] = field(default_factory=dict)
    # element -> (why its script failed on the sample, the names that script would have set)
    script_failures: dict[str, tuple[str, set[str]]] = field(default_factory=dict)
    refused: list[Refusal] = field(default_factory=list)

    @classmethod
    def of(
        cls, task_specs: Iterable[Any], data_objects: Iterable[str], script_engine: PythonScriptEngine
    ) -> DiagramData:
        specs = list(task_specs)
        start = FORM_START_DATA if any(started_from_form(s) for s in specs) else START_DATA
        data = cls(sample=dict(start))
        data.provided = dict.fromkeys(start, "case start data") | dict.fromkeys(data_objects, "data object")
        for task_spec in specs:
            for name, spec in raw_form(task_spec).items():
                data.provided.setdefault(name, f"form field of {element_id(task_spec)}")
                data.sample.setdefault(name, _field_sample(spec))
        for task_spec in specs:
            if isinstance(task_spec, BusinessRuleTaskMixin):
                data._add_table(element_id(task_spec), task_spec.dmnEngine.decision_table, script_engine)
        scripts = [(element_id(s), script) for s in specs for script in _scripts(s)]
        for element, script in scripts:
            for name in assigned_names(script):
                data.provided.setdefault(name, f"set by the script of {element}")
        data._run_scripts(scripts, script_engine)
        return data

    def unread(self, expressions: Iterable[Expression], known: Iterable[str]) -> list[Unread]:
        """Names each expression reads that nothing provides, with the closest provided name."""
        available = set(self.provided) | set(known) | set(BUILTINS)
        found: list[Unread] = []
        for expression in expressions:
            for name in sorted(read_names(expression.source, expression.mode) - available - {DMN_INPUT}):
                close = difflib.get_close_matches(name, sorted(self.provided), n=1, cutoff=0.75)
                suggestion = f"{close[0]!r} ({self.provided[close[0]]})" if close else None
                found.append(Unread(expression, name, suggestion))
        return found

    def evaluate_timers(self, task_specs: Iterable[Any], script_engine: PythonScriptEngine) -> list[TimerFailure]:
        """Evaluate every timer expression on the sample data; each must give what its kind needs."""
        failures: list[TimerFailure] = []
        for task_spec in task_specs:
            definition = getattr(task_spec, "event_definition", None)
            if not isinstance(definition, TimerEventDefinition):
                continue
            element = element_id(task_spec)
            try:
                value = script_engine.environment.evaluate(definition.expression, dict(self.sample))
            except NameError as exc:
                # Provided by name, but only by scripts that themselves failed on the sample.
                failed = {e: m for e, (m, names) in self.script_failures.items() if exc.name in names}
                why = "; ".join(f"the script of {e} fails: {m}" for e, m in failed.items()) or str(exc)
                message = f"timer expression {definition.expression!r} has no sample value for {exc.name!r}: {why}"
                failures.append(TimerFailure(element, message, frozenset(failed)))
                continue
            except Exception as exc:  # whatever the expression raises, the administrator needs it named
                failures.append(
                    TimerFailure(
                        element,
                        f"timer expression {definition.expression!r} fails on sample data "
                        f"({_sample_words(definition.expression, self.sample)}): {type(exc).__name__}: {exc}",
                    )
                )
                continue
            problem = _timer_value_problem(definition, value)
            if problem:
                failures.append(
                    TimerFailure(element, f"timer expression {definition.expression!r} gives {value!r}: {problem}")
                )
        return failures

    def _add_table(self, element: str, table: Any, script_engine: PythonScriptEngine) -> None:
        for output in table.outputs:
            if not output.name:
                continue
            self.provided.setdefault(output.name, f"output of decision table {table.id}, called by {element}")
            for rule in table.rules:
                entry = next((e for e in rule.outputEntries if e.output is output and e.text), None)
                if entry is None or not _compiles(entry.text, "eval"):
                    continue
                try:
                    value = script_engine.environment.evaluate(entry.text, dict(self.sample))
                except ScriptRefused as exc:
                    where = f"decision table {table.id}, rule {rule.row_number} ({rule.id}), output {output.name}"
                    self.refused.append(Refusal(table.id, f"{where} {entry.text!r}, run on sample data: {exc}"))
                    continue
                except Exception:  # a cell that fails is reported by the name and syntax checks
                    continue
                self.sample.setdefault(output.name, value)
                break

    def _run_scripts(self, scripts: list[tuple[str, str]], script_engine: PythonScriptEngine) -> None:
        """Run each script on the sample, again and again while some succeed: a script may read
        what another one sets (the extension moves the deadline the dispatch set)."""
        waiting = list(scripts)
        while waiting:
            failed: list[tuple[str, str]] = []
            for element, script in waiting:
                context = dict(self.sample)
                try:
                    if not _compiles(script, "exec"):  # reported by the syntax check
                        raise SyntaxError("the script does not compile")
                    script_engine.environment.execute(script, context)
                except ScriptRefused as exc:  # not run again: once past the time limit is enough
                    self.refused.append(Refusal(element, f"script, run on sample data: {exc}"))
                    self.script_failures[element] = (f"{type(exc).__name__}: {exc}", assigned_names(script))
                    continue
                except Exception as exc:  # kept to explain a timer that needed its result
                    self.script_failures[element] = (f"{type(exc).__name__}: {exc}", assigned_names(script))
                    failed.append((element, script))
                    continue
                self.script_failures.pop(element, None)
                for name, value in context.items():
                    self.sample.setdefault(name, value)
            if len(failed) == len(waiting):
                return
            waiting = failed


def _compiles(source: str, mode: str) -> bool:
    try:
        compile_restricted(source, mode)
    except (SyntaxError, ScriptRefused):
        return False
    return True


def started_from_form(task_spec: Any) -> bool:
    """A start event naming who starts the process from its form (CaseRuntime.start_case)."""
    properties = getattr(task_spec, "extensions", {}).get("properties", {})
    return isinstance(task_spec, StartEvent) and bool(properties.get("start_roles"))


def element_id(task_spec: Any) -> str:
    return str(getattr(task_spec, "bpmn_id", None) or task_spec.name)


def read_names(source: str, mode: str) -> set[str]:
    """The free names a piece of Python reads: loaded names minus those it binds itself
    (assignments, loop and comprehension variables, lambda arguments, imports)."""
    tree = ast.parse(source, mode=mode)
    loaded: set[str] = set()
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
    return loaded - bound


def assigned_names(script: str) -> set[str]:
    """The names a script leaves in the task data (top-level assignments and other bindings)."""
    try:
        tree = ast.parse(script, mode="exec")
    except SyntaxError:
        return set()  # reported by the syntax check
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}


def _scripts(task_spec: Any) -> list[str]:
    found = []
    for name in ("prescript", "script", "postscript"):
        script = getattr(task_spec, name, None)
        if isinstance(script, str) and script.strip():
            found.append(script)
    return found


def raw_form(task_spec: Any) -> dict[str, Any]:
    """The form's fields as written, even when one of them is refused: its name is still what
    the rest of the diagram reads, so a broken field is reported once, not at every reader."""
    text = getattr(task_spec, "extensions", {}).get("properties", {}).get("form")
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return raw if isinstance(raw, dict) else {}


def _field_sample(spec: Any) -> Any:
    if not isinstance(spec, dict):
        return None
    if spec.get("type") == "choice" and isinstance(spec.get("choices"), dict):
        return next(iter(spec["choices"]), None)
    return FIELD_SAMPLES.get(str(spec.get("type")))


def _timer_value_problem(definition: TimerEventDefinition, value: Any) -> str | None:
    """Read the value as our clocked timers will (engine/timers.py); None when it reads."""
    if isinstance(definition, TimeDateEventDefinition):
        kind, read = "an ISO 8601 instant (timeDate)", TimerEventDefinition.get_datetime
    elif isinstance(definition, DurationTimerEventDefinition):
        kind, read = "an ISO 8601 duration (timeDuration)", _read_duration
    elif isinstance(definition, CycleTimerEventDefinition):
        kind, read = "a cycle R[n]/<instant>/<interval> (timeCycle)", parse_cycle
    else:
        return None
    if not isinstance(value, str):
        return f"not {kind}: a timer expression must give a string"
    try:
        read(value)
    except Exception as exc:  # SpiffWorkflow's duration parser raises a plain Exception
        return f"not {kind}: {exc}"
    return None


def _read_duration(value: str) -> Any:
    return TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(value))


def _sample_words(source: str, sample: dict[str, Any]) -> str:
    try:
        names = sorted(read_names(source, "eval") & set(sample))
    except SyntaxError:
        names = []
    return ", ".join(f"{name}={sample[name]!r}" for name in names) or "no task data read"
