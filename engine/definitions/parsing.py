"""What SpiffWorkflow's parser reads of an upload, checked before anything is stored: a new or
changed BPMN file holds an executable process, and every table of a new or changed DMN file
parses and passes the cell checks, whether a diagram calls it or not. A bad cell is named by its
table, rule and column."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser import SpiffBpmnParser

from ..errors import Problem
from .checks import check_table

KINDS = {".bpmn": "bpmn", ".dmn": "dmn"}


def files_without_process(parser: SpiffBpmnParser, changed_files: set[str]) -> list[Problem]:
    """A new or changed BPMN file must hold an executable process: stored without one, it
    would be a file version that nothing runs."""
    with_process = {p.filename for p in parser.process_parsers.values() if p.process_executable}
    return [
        Problem(None, "holds no executable process (bpmn:process with isExecutable=\"true\")", name)
        for name in sorted(changed_files)
        if KINDS[Path(name).suffix] == "bpmn" and name not in with_process
    ]


def parse_tables(parser: SpiffBpmnParser, changed_files: set[str]) -> list[Problem]:
    """Parse the decision tables of new or changed DMN files; the problem of each that does
    not parse (an output cell that is no Python), naming the cell by table, rule and column."""
    problems: list[Problem] = []
    for dmn in parser.dmn_parsers.values():
        if dmn.filename not in changed_files:
            continue
        try:
            dmn.parse()
        except ValidationException as exc:
            problems.append(_cell_problem(dmn, exc))
        except SpiffWorkflowException as exc:
            problems.append(Problem(None, str(exc), dmn.filename))
    return problems


def _cell_problem(dmn: Any, exc: ValidationException) -> Problem:
    """The parser names a bad cell by its own id; an administrator looks for its table, rule and
    column, as the other checks name a cell."""
    found = dmn.node.xpath(".//*[@id=$id]", id=exc.id) if exc.id else []
    cell = found[0] if found else None
    rule = cell.getparent() if cell is not None else None
    if rule is None or _local(rule) != "rule":
        return Problem(exc.id or None, str(exc), dmn.filename)
    table = rule.getparent()
    kind = _local(cell).removesuffix("Entry")  # input | output
    row = [c for c in table if _local(c) == "rule"].index(rule) + 1
    column = [c for c in rule if _local(c) == _local(cell)].index(cell)
    headers = [c for c in table if _local(c) == kind]
    header = headers[column] if column < len(headers) else None
    name = (header.get("name") or header.get("label") or header.get("id")) if header is not None else column + 1
    where = f"decision table {table.get('id')}, rule {row} ({rule.get('id')}), {kind} {name}"
    return Problem(table.get("id"), f"{where}: {str(exc.args[0]).strip()}", dmn.filename)


def _local(node: Any) -> str:
    """An XML element's name without its namespace; "" for a comment."""
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def check_tables(parser: SpiffBpmnParser, changed_files: set[str]) -> list[Problem]:
    """Every decision table of a new or changed DMN file, whether a diagram calls it or not."""
    return [
        problem
        for dmn in parser.dmn_parsers.values()
        if dmn.filename in changed_files
        for table in dmn.decision.decisionTables
        for problem in check_table(table, dmn.filename)
    ]


def decision_table_files(parser: SpiffBpmnParser) -> dict[str, str]:
    """Decision table id -> the DMN file it is in, so that a bad table cell names its file."""
    files: dict[str, str] = {}
    for dmn in parser.dmn_parsers.values():
        for table_id in dmn.node.xpath(".//*[local-name()='decisionTable']/@id"):
            files[str(table_id)] = dmn.filename
    return files
