"""Our checks on a parsed process, on top of SpiffWorkflow's parser. A definition that fails is
refused at deploy, instead of failing in front of a user later; every problem is reported at
once, each naming its element, so that one upload shows the administrator all there is to fix.

In the order they are reported (the first is usually the cause of the rest):
1. every Python expression or script the diagram and its tables carry compiles under the diagram
   rules (engine/sandbox.py: no import, no "_" names, ...), every form reads and each of its
   fields has a type, no table cell is a zero duration, and what the database stores of the
   diagram (ids, titles, statuses) fits its column;
2. every user task is in a lane, and every lane names a role the engine knows (engine/roles.py);
3. every name an expression reads is provided by something (diagram_data.py);
4. every script and the expressions giving sample data run on it within the time limit and the
   diagram rules;
5. every timer expression evaluates, on sample data, to what its timer needs.
A DMN table is checked whole (check_table) whether a diagram calls it or not; a bad cell names
the table, the rule and the column, not the task that calls it."""
from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.dmn.specs.business_rule_task_mixin import BusinessRuleTaskMixin
from SpiffWorkflow.specs.MultiChoice import MultiChoice
from SpiffWorkflow.spiff.specs.defaults import UserTask

from ..deadlines import TimeLimit
from ..errors import DefinitionError, Problem
from ..execution import ScriptRefused, Specs, compile_restricted
from ..storage import Case, ProcessVersion, Task, Timer, column_length
from ..vocabulary import ROLES
from .diagram_data import DMN_INPUT, DiagramData, Expression, element_id, raw_form, started_from_form
from .forms import parse_form

# Task properties whose values are Python expressions evaluated on the task data.
EXPRESSION_PROPERTIES = ("department", "zone", "case_department", "outcome", "subject")
_DURATION_LIKE = re.compile(r"^P(?=\d|T\d)")
_DMN_INPUT_PLACEHOLDER = re.compile(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")


def check_specs(specs: Specs, script_engine: PythonScriptEngine, table_files: dict[str, str]) -> list[Problem]:
    """Every problem of one parsed process. `table_files` names the DMN file of each decision
    table (by table id), so that a bad cell names its file; the script engine is the one the
    diagram will run on, for evaluating timers."""
    spec, subprocess_specs = specs
    process_specs: list[BpmnProcessSpec] = [spec, *subprocess_specs.values()]
    owned = [(task_spec, p.file) for p in process_specs for task_spec in p.task_specs.values()]
    task_specs = [task_spec for task_spec, _ in owned]

    readable: list[Problem] = _check_process_fits(spec)
    compiled: list[Expression] = []
    for task_spec, file in owned:
        readable += _check_form(task_spec, file) + _check_fits(task_spec, file)
        for expression in _expressions(task_spec, file, table_files):
            checked = _compile(expression)
            if isinstance(checked, Problem):
                readable.append(checked)
            else:
                compiled.append(checked)
        if isinstance(task_spec, BusinessRuleTaskMixin):
            table = task_spec.dmnEngine.decision_table
            readable += _check_duration_cells(table, table_files.get(table.id))

    data = DiagramData.of(task_specs, [name for p in process_specs for name in p.data_objects], script_engine)
    unread = data.unread(compiled, known=script_engine.environment.globals)
    names = [Problem(u.expression.element, u.message(), u.expression.file) for u in unread]
    # A timer that reads a name nothing provides is reported once, by the name check.
    # Nor does a timer whose data comes from a script refused on the sample.
    unevaluable = {u.expression.element for u in unread} | {p.element for p in readable}
    unevaluable |= {r.element for r in data.refused}
    files = {element_id(task_spec): file for task_spec, file in owned} | {
        table_id: file for table_id, file in table_files.items()
    }
    refused = [Problem(r.element, r.message, files.get(r.element)) for r in data.refused]
    timers = [
        Problem(failure.element, failure.message, files.get(failure.element))
        for failure in data.evaluate_timers(task_specs, script_engine)
        if failure.element not in unevaluable and not failure.because & unevaluable
    ]
    return _unique(readable + _check_lanes(owned) + names + refused + timers)


def check_table(table: Any, file: str | None) -> list[Problem]:
    """Every cell of one decision table compiles and no duration cell is zero, whether a
    diagram calls the table or not (a table nobody calls today is called tomorrow)."""
    compiled = [_compile(expression) for expression in _table_expressions(table, file)]
    return [c for c in compiled if isinstance(c, Problem)] + _check_duration_cells(table, file)


# --- 1. everything reads ---------------------------------------------------------------------

def _expressions(task_spec: Any, file: str | None, table_files: dict[str, str]) -> list[Expression]:
    """Every piece of Python this task spec carries, as the engine will evaluate it."""
    element = element_id(task_spec)
    found: list[Expression] = []
    properties = getattr(task_spec, "extensions", {}).get("properties", {})
    for name in EXPRESSION_PROPERTIES:
        if properties.get(name):
            found.append(Expression(element, f"property {name}", properties[name], "eval", file))
    if isinstance(task_spec, UserTask) or started_from_form(task_spec):
        for name, field in raw_form(task_spec).items():
            for key in ("required_if", "default"):
                if isinstance(field, dict) and isinstance(field.get(key), str) and field[key]:
                    found.append(Expression(element, f"form field {name} {key}", field[key], "eval", file))
    if isinstance(task_spec, MultiChoice):
        for condition, target in task_spec.cond_task_specs:
            if condition is not None:
                what = f"condition towards {_target(target)}"
                found.append(Expression(element, what, condition.args[0], "eval", file))
    for script_name in ("script", "prescript", "postscript"):
        script = getattr(task_spec, script_name, None)
        if isinstance(script, str) and script.strip():
            found.append(Expression(element, script_name, script, "exec", file))
    event_definition = getattr(task_spec, "event_definition", None)
    if isinstance(event_definition, TimerEventDefinition):
        found.append(Expression(element, "timer expression", event_definition.expression, "eval", file))
    if isinstance(task_spec, BusinessRuleTaskMixin):
        table = task_spec.dmnEngine.decision_table
        found += _table_expressions(table, table_files.get(table.id))
    return found


def _table_expressions(table: Any, file: str | None) -> list[Expression]:
    """A table's cells, each named by the table (the element), its rule and its column."""
    found = [
        Expression(table.id, f"decision table {table.id}, input {_column(i)}", i.expression, "eval", file)
        for i in table.inputs
        if i.expression
    ]
    for rule in table.rules:
        where = f"decision table {table.id}, {_rule(rule)}"
        for entry in rule.inputEntries:
            for text in entry.lhs:
                if text is not None:
                    what = f"{where}, input {_column(entry.input)}"
                    found.append(Expression(table.id, what, text, "dmn-input", file))
        for entry in rule.outputEntries:
            if entry.text:
                what = f"{where}, output {_column(entry.output)}"
                found.append(Expression(table.id, what, entry.text, "eval", file))
    return found


def _rule(rule: Any) -> str:
    return f"rule {rule.row_number} ({rule.id})" if rule.id else f"rule {rule.row_number}"


def _column(column: Any) -> str:
    """A table's column as the modeler shows it: an output by its name, an input by its label
    and the expression it reads."""
    expression = getattr(column, "expression", None)
    if expression and column.label:
        return f"{column.label} ({expression})"
    return str(column.name or column.label or expression or column.id)


def _compile(expression: Expression) -> Expression | Problem:
    """The expression as it compiled, or the problem. A DMN input entry is compiled the way the
    DMN engine reads it: '?' is the input value, and an entry without an operator ("urgent",
    != None) is a comparison with the input; the names check then reads what compiled."""
    candidates = [expression]
    if expression.mode == "dmn-input":
        text = _DMN_INPUT_PLACEHOLDER.sub(DMN_INPUT, expression.source)
        candidates = [replace(expression, source=s, mode="eval") for s in (text, f"{DMN_INPUT} {text}")]
    message = ""
    for candidate in candidates:
        try:
            compile_restricted(candidate.source, candidate.mode)
        except SyntaxError as exc:
            message = str(exc.msg)  # the last reading tried: "dmninputexpr <entry>" for an entry
            continue
        except ScriptRefused as exc:
            what = f"{expression.what} {expression.source!r} is not allowed in a diagram: {exc}"
            return Problem(expression.element, what, expression.file)
        return candidate
    return Problem(
        expression.element, f"{expression.what} {expression.source!r} is not valid Python: {message}", expression.file
    )


def _check_form(task_spec: Any, file: str | None) -> list[Problem]:
    """Each field of a user task's form must read (a type, choices for a choice, a duration max);
    each is checked on its own so that every bad field is named, not only the first. A start
    event that people start the process from has a form too."""
    if not (isinstance(task_spec, UserTask) or started_from_form(task_spec)):
        return []
    element = element_id(task_spec)
    text = getattr(task_spec, "extensions", {}).get("properties", {}).get("form")
    fields = raw_form(task_spec)
    if text and not fields:
        try:
            parse_form(text, element)  # an empty form reads; else this names what is wrong with it
        except DefinitionError as exc:
            return [Problem(element, _without_element(str(exc), element), file)]
    problems: list[Problem] = []
    for name, raw in fields.items():
        try:
            [field] = parse_form(json.dumps({name: raw}, ensure_ascii=False), element).values()
        except DefinitionError as exc:
            problems.append(Problem(element, _without_element(str(exc), element), file))
            continue
        if field.max:
            try:
                TimeLimit.parse(field.max)
            except ValueError as exc:
                problems.append(Problem(element, f"form field {name} max: {exc}", file))
    return problems


def _check_duration_cells(table: Any, file: str | None) -> list[Problem]:
    """A table cell that is an ISO 8601 duration is a time limit or interval: it must read and
    be longer than zero (a zero reminder interval would fire for ever)."""
    problems: list[Problem] = []
    for rule in table.rules:
        for entry in rule.outputEntries:
            if not entry.text:
                continue
            what = f"decision table {table.id}, {_rule(rule)}, output {_column(entry.output)}"
            try:
                value = ast.literal_eval(entry.text)
            except (ValueError, SyntaxError):
                continue
            if not isinstance(value, str) or not _DURATION_LIKE.match(value):
                continue
            try:
                limit = TimeLimit.parse(value)
            except ValueError as exc:
                problems.append(Problem(table.id, f"{what}: {exc}", file))
                continue
            if limit.days == 0 and limit.seconds == 0:
                problems.append(Problem(table.id, f"{what}: {value!r} must be longer than zero", file))
    return problems


def _check_process_fits(spec: BpmnProcessSpec) -> list[Problem]:
    """The process id and name fit the columns that store them, on every database."""
    checks = [("process id", spec.name, column_length(ProcessVersion.process_id))]
    checks.append(("process name", spec.description or spec.name, column_length(ProcessVersion.name)))
    return [
        Problem(spec.name, f"{what} is {len(value)} characters long; {_at_most(limit)}", spec.file)
        for what, value, limit in checks
        if len(value) > limit
    ]


def _check_fits(task_spec: Any, file: str | None) -> list[Problem]:
    """What a case stores of an element fits its column: its id (a task's, a timer's, an audit
    event's), a person's task's title, the case status it sets, a timer's kind and colour.
    PostgreSQL refuses a longer value, SQLite keeps it: checked here, the same on both."""
    element = element_id(task_spec)
    properties = getattr(task_spec, "extensions", {}).get("properties", {})
    values = [("element id", element if getattr(task_spec, "bpmn_id", None) else "", column_length(Task.task))]
    if getattr(task_spec, "manual", False):
        title = properties.get("title") or task_spec.bpmn_name or element
        values.append(("title", title, column_length(Task.title)))
    values += [
        ("property status", properties.get("status") or "", column_length(Case.status)),
        ("property kind", properties.get("kind") or "", column_length(Timer.kind)),
        ("property deadline_state", properties.get("deadline_state") or "", column_length(Task.deadline_state)),
    ]
    return [
        Problem(element, f"{what} {_shortened(value)!r} is {len(value)} characters long; {_at_most(limit)}", file)
        for what, value, limit in values
        if len(value) > limit
    ]


def _at_most(limit: int) -> str:
    return f"at most {limit} are stored"


def _shortened(value: str) -> str:
    return value if len(value) <= 40 else f"{value[:40]}…"



# --- 2. lanes are roles ----------------------------------------------------------------------

def _check_lanes(owned: list[tuple[Any, str | None]]) -> list[Problem]:
    """A user task's lane is the role whose inbox shows it: a task in no lane, or in a lane that
    is no role, would be a task nobody can see. An unknown lane is reported once, at its first
    element, with the others it holds."""
    problems: list[Problem] = []
    unknown: dict[str, list[tuple[str, str | None]]] = {}
    for task_spec, file in owned:
        lane = getattr(task_spec, "lane", None)
        if getattr(task_spec, "manual", False) and not lane:  # a user (or manual) task: a person's work
            message = "user task is in no lane; its lane names the role that works on it"
            problems.append(Problem(element_id(task_spec), message, file))
        elif lane and lane not in ROLES and getattr(task_spec, "bpmn_id", None):
            unknown.setdefault(lane, []).append((element_id(task_spec), file))
        if started_from_form(task_spec):
            starters = getattr(task_spec, "extensions", {}).get("properties", {})["start_roles"].split(",")
            for role in {r.strip() for r in starters} - set(ROLES) - {""}:
                message = f"start_roles names {role!r}, not a role the engine knows ({', '.join(ROLES)})"
                problems.append(Problem(element_id(task_spec), message, file))
    for lane, elements in unknown.items():
        (first, file), others = elements[0], [e for e, _ in elements[1:]]
        more = f" and {len(others) - 5} more" if len(others) > 5 else ""
        holding = f"; it also holds {', '.join(others[:5])}{more}" if others else ""
        problems.append(
            Problem(first, f"lane {lane!r} is not a role the engine knows ({', '.join(ROLES)}){holding}", file)
        )
    return problems


# --- helpers ---------------------------------------------------------------------------------

def _target(target: str) -> str:
    """Where a gateway's flow goes, as the diagram names it (not the engine's inner split)."""
    return target.removesuffix(".BoundaryEventSplit")


def _without_element(message: str, element: str) -> str:
    return message.removeprefix(f"{element}: ")


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    """A table used by two tasks, or a form read twice, reports each problem once."""
    return list(dict.fromkeys(problems))
