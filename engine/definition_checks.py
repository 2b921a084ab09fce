"""Our checks on a parsed process, on top of SpiffWorkflow's parser: every Python expression or
script the diagram and its tables carry must compile, and every form must read. A definition
that fails is refused at deploy, instead of failing in front of a user later."""
from __future__ import annotations

import ast
import re
from typing import Any

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.dmn.specs.business_rule_task_mixin import BusinessRuleTaskMixin
from SpiffWorkflow.specs.MultiChoice import MultiChoice
from SpiffWorkflow.spiff.specs.defaults import UserTask

from .calendar import TimeLimit
from .errors import DefinitionError
from .forms import parse_form
from .serialization import Specs

# Task properties whose values are Python expressions evaluated on the task data.
EXPRESSION_PROPERTIES = ("department", "zone", "case_department", "outcome")
_DURATION_LIKE = re.compile(r"^P(?=\d|T\d)")
_DMN_INPUT_PLACEHOLDER = re.compile(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")


def check_specs(specs: Specs) -> None:
    spec, subprocess_specs = specs
    process_specs: list[BpmnProcessSpec] = [spec, *subprocess_specs.values()]
    for process_spec in process_specs:
        for task_spec in process_spec.task_specs.values():
            _check_task(task_spec)


def _check_task(task_spec: Any) -> None:
    element = getattr(task_spec, "bpmn_id", None) or task_spec.name
    properties = getattr(task_spec, "extensions", {}).get("properties", {})
    for name in EXPRESSION_PROPERTIES:
        if properties.get(name):
            _compile(element, f"property {name}", properties[name], "eval")
    if isinstance(task_spec, UserTask):
        for field in parse_form(properties.get("form"), element).values():
            if field.required_if:
                _compile(element, f"form field {field.name} required_if", field.required_if, "eval")
            if field.default:
                _compile(element, f"form field {field.name} default", field.default, "eval")
            if field.max:
                try:
                    TimeLimit.parse(field.max)
                except ValueError as exc:
                    message = f"{element}: form field {field.name} max: {exc}"
                    raise DefinitionError(message, element_id=element) from exc
    if isinstance(task_spec, MultiChoice):
        for condition, target in task_spec.cond_task_specs:
            if condition is not None:
                _compile(element, f"condition towards {target}", condition.args[0], "eval")
    for script_name in ("script", "prescript", "postscript"):
        script = getattr(task_spec, script_name, None)
        if isinstance(script, str) and script.strip():
            _compile(element, script_name, script, "exec")
    event_definition = getattr(task_spec, "event_definition", None)
    if isinstance(event_definition, TimerEventDefinition):
        _compile(element, "timer expression", event_definition.expression, "eval")
    if isinstance(task_spec, BusinessRuleTaskMixin):
        _check_decision_table(element, task_spec.dmnEngine.decision_table)


def _check_decision_table(element: str, table: Any) -> None:
    for rule in table.rules:
        where = f"decision table {table.id}, row {rule.row_number}"
        for entry in rule.inputEntries:
            if entry.input.expression:
                _compile(element, f"{where}, input expression", entry.input.expression, "eval")
            for text in entry.lhs:
                if text is None:
                    continue
                # The DMN engine reads '?' as the input value, and an entry without an
                # operator as a comparison for equality ("urgent" or != None).
                text = _DMN_INPUT_PLACEHOLDER.sub("dmninputexpr", text)
                try:
                    compile(text, "<dmn>", "eval")
                except SyntaxError:
                    _compile(element, f"{where}, input entry", f"dmninputexpr {text}", "eval", shown=text)
        for entry in rule.outputEntries:
            if entry.text:
                what = f"{where}, output {entry.output.name}"
                _compile(element, what, entry.text, "eval")
                _check_duration_literal(element, what, entry.text)


def _check_duration_literal(element: str, what: str, source: str) -> None:
    """A table cell that is an ISO 8601 duration is a time limit or interval: it must read and
    be longer than zero (a zero reminder interval would fire for ever)."""
    try:
        value = ast.literal_eval(source)
    except (ValueError, SyntaxError):
        return
    if not isinstance(value, str) or not _DURATION_LIKE.match(value):
        return
    try:
        limit = TimeLimit.parse(value)
    except ValueError as exc:
        raise DefinitionError(f"{element}: {what}: {exc}", element_id=element) from exc
    if limit.days == 0 and limit.seconds == 0:
        raise DefinitionError(f"{element}: {what}: {value!r} must be longer than zero", element_id=element)


def _compile(element: str, what: str, source: str, mode: str, shown: str | None = None) -> None:
    try:
        compile(source, f"<{element}>", mode)
    except SyntaxError as exc:
        raise DefinitionError(
            f"{element}: {what} {shown or source!r} is not valid Python: {exc.msg}", element_id=element
        ) from exc
