"""A diagram's Python runs restricted and time-limited (engine/sandbox.py): at deploy, where the
checks run its scripts on sample data, and in cases. What it may not do is refused at deploy,
naming the element, with nothing stored and nothing done; what runs past the limit in a case
fails the command, which changes nothing. Deploy checks also refuse what a column cannot hold,
a DMN table's broken cells whether a diagram calls the table or not, and a BPMN file with no
process."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine import Gridflow
from engine.execution.sandbox import DEFAULT_TIME_LIMIT, RestrictedEnvironment, ScriptRefused, ScriptTimeLimit
from engine.storage.models import Case, Task

from .conftest import Api
from .test_definitions import LIFECYCLE, TIME_LIMITS, upload
from .test_deploy_checks import changed, messages, refused

SCRIPT = "<bpmn:script>handle_due = deadline_after(handle_limit, calendar)</bpmn:script>"  # two script tasks


def with_script(script: str) -> str:
    """The lifecycle with this script in its first script task (set_handle_deadline) and the
    rework one, after the line they carry."""
    return changed(LIFECYCLE, SCRIPT, SCRIPT.replace("</bpmn:script>", f"\n{script}</bpmn:script>"), count=2)


def minimal(process_id: str = "minimal", name: str = "最小流程", end_status: str = "done") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="minimal_definitions" targetNamespace="http://gridflow.local/bpmn">
  <bpmn:process id="{process_id}" name="{name}" isExecutable="true">
    <bpmn:startEvent id="minimal_start"><bpmn:outgoing>minimal_flow</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="minimal_flow" sourceRef="minimal_start" targetRef="minimal_end" />
    <bpmn:endEvent id="minimal_end">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="status" value="{end_status}" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>minimal_flow</bpmn:incoming>
    </bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def script_problems(answer: dict[str, Any]) -> list[str]:
    return messages(answer)["set_handle_deadline"]


# --- what a diagram's Python may not do, refused at deploy ---------------------------------------

def test_an_import_writing_a_file_is_refused_and_nothing_is_written(api: Api, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    answer = refused(api, "case_lifecycle.bpmn", with_script(f"import os; open('{marker}','w')"))
    assert answer["element"] == "set_handle_deadline"
    assert any("import is not allowed" in m for m in script_problems(answer)), answer
    assert not marker.exists()


def test_reading_a_server_file_is_refused(api: Api) -> None:
    answer = refused(api, "case_lifecycle.bpmn", with_script("secret = open('/etc/passwd').read()"))
    [message] = script_problems(answer)
    assert "reads 'open', a Python built-in a diagram may not use" in message


def test_an_endless_loop_is_refused_at_deploy_within_the_time_limit(api: Api) -> None:
    started = time.monotonic()
    answer = refused(api, "case_lifecycle.bpmn", with_script("while True: pass"))
    assert time.monotonic() - started < DEFAULT_TIME_LIMIT * 2 + 10  # once, not for ever; not once per round
    assert messages(answer) == {
        element: [f"script, run on sample data: ran longer than {DEFAULT_TIME_LIMIT:g} s, the time limit of a "
                  "diagram's expression or script"]
        for element in ("set_handle_deadline", "set_rework_deadline")
    }  # and not the timers that would have read its handle_due


def test_an_endless_loop_that_catches_the_time_limit_is_refused_too(api: Api) -> None:
    answer = refused(api, "case_lifecycle.bpmn", with_script("try:\n  while True: pass\nexcept Exception: pass"))
    assert "ran longer than" in script_problems(answer)[0]


def test_exiting_the_server_is_refused(api: Api) -> None:
    answer = refused(api, "case_lifecycle.bpmn", with_script("__import__('sys').exit()"))
    assert '"__import__" is an invalid variable name because it starts with "_"' in script_problems(answer)[0]


def test_reaching_for_python_internals_is_refused(api: Api) -> None:
    answer = refused(api, "case_lifecycle.bpmn", with_script("x = ().__class__.__bases__"))
    assert '"__class__" is an invalid attribute name' in script_problems(answer)[0]


def test_an_attribute_refused_only_when_run_is_refused_naming_the_element(api: Api) -> None:
    answer = refused(api, "case_lifecycle.bpmn", with_script("note = '{0}'.format(handle_due)"))
    assert "str.format is not available" in script_problems(answer)[0]


def test_the_same_rules_hold_in_a_gateway_condition(api: Api) -> None:
    answer = refused(
        api,
        "case_lifecycle.bpmn",
        changed(LIFECYCLE, "channel == 'collector'</bpmn", "channel.__class__ == 'collector'</bpmn"),
    )
    assert answer["element"] == "gw_channel"


# --- in a case: the time limit fails the command, which changes nothing --------------------------

def test_a_script_past_the_time_limit_in_a_case_fails_the_command_and_changes_nothing(
    api: Api, gridflow: Gridflow
) -> None:
    """Deploy checks run the script on a normal case's sample; an urgent case loops."""
    upload(api, "case_lifecycle.bpmn", with_script("while urgency == 'urgent': pass"), 201)
    case_id = api.report("collector03", channel="collector", urgency="urgent")["id"]
    api.complete("operator", case_id, "register", decision="register")
    before = case_state(gridflow, case_id)

    task_id = api.task("dispatcher", case_id, "dispatch")["id"]
    path = f"/api/tasks/{task_id}/complete"
    answer = api.call("POST", path, "dispatcher", 500, json={"department": "JD03"})
    assert answer["error"].startswith("the process definition failed:"), answer
    assert f"set_handle_deadline: ran longer than {DEFAULT_TIME_LIMIT:g} s" in answer["error"]
    assert case_state(gridflow, case_id) == before
    assert api.has_task("dispatcher", case_id, "dispatch")  # still there, to do once the diagram is mended


def case_state(gridflow: Gridflow, case_id: int) -> tuple[Any, ...]:
    with gridflow.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        tasks = session.scalars(select(Task.task, Task.state).where(Task.case_id == case_id).order_by(Task.id)).all()
        return case.status, case.version, case.process_version_id, tuple(tasks)


# --- what a column cannot hold, refused at deploy on every database ------------------------------

def test_the_minimal_process_the_next_tests_change_deploys(api: Api) -> None:
    assert upload(api, "minimal.bpmn", minimal(), 201)["processes"] == [{"id": "minimal", "version": 1}]


def test_a_file_name_longer_than_its_column_is_refused(api: Api) -> None:
    name = "m" * 130 + ".bpmn"  # 135 characters
    answer = refused(api, name, minimal())
    assert answer["file"] == name
    assert "the file name is 135 characters long; at most 128 are stored" in answer["error"]


def test_a_process_id_longer_than_its_column_is_refused(api: Api) -> None:
    process_id = "p" * 300
    answer = refused(api, "minimal.bpmn", minimal(process_id=process_id))
    assert answer["element"] == process_id
    assert "process id is 300 characters long; at most 128 are stored" in answer["error"]


def test_a_process_name_longer_than_its_column_is_refused(api: Api) -> None:
    answer = refused(api, "minimal.bpmn", minimal(name="名" * 5000))
    assert "process name is 5000 characters long; at most 128 are stored" in answer["error"]


def test_a_status_longer_than_the_case_column_is_refused(api: Api) -> None:
    answer = refused(api, "minimal.bpmn", minimal(end_status="s" * 33))
    assert answer["element"] == "minimal_end"
    assert "property status 'sssss" in answer["error"] and "is 33 characters long; at most 32" in answer["error"]


def test_a_task_title_longer_than_its_column_is_refused(api: Api) -> None:
    long_title = '<spiffworkflow:property name="title" value="{}" />'.format("题" * 129)
    text = changed(LIFECYCLE, '<spiffworkflow:property name="title" value="派遣处置部门" />', long_title)
    answer = refused(api, "case_lifecycle.bpmn", text)
    assert answer["element"] == "dispatch"
    assert "title '题题" in answer["error"] and "is 129 characters long; at most 128" in answer["error"]


# --- DMN tables, called or not; BPMN files without a process -------------------------------------

def unused_table(old: str, new: str) -> str:
    """time_limits.dmn as a second table no diagram calls, with one cell changed."""
    text = TIME_LIMITS.replace('id="time_limits"', 'id="unused_limits"').replace("time_limits_table", "unused_table")
    return changed(text, old, new)


def test_a_broken_input_cell_of_a_table_no_diagram_calls_is_refused_naming_the_cell(api: Api) -> None:
    answer = refused(api, "unused.dmn", unused_table('<text>"urgent"</text>', '<text>"urgent</text>'))
    assert (answer["element"], answer["file"]) == ("unused_table", "unused.dmn")
    [message] = messages(answer)["unused_table"]
    assert message.startswith("decision table unused_table, rule 2 (time_limits_urgent), input 紧急程度 (urgency)")


def test_a_malformed_output_cell_of_a_table_no_diagram_calls_is_refused_naming_the_cell(api: Api) -> None:
    answer = refused(api, "unused.dmn", unused_table("<text>0.5</text>", "<text>0.5)</text>"))
    assert (answer["element"], answer["file"]) == ("unused_table", "unused.dmn")
    [message] = messages(answer)["unused_table"]
    assert message.startswith("decision table unused_table, rule 1 (time_limits_emergency), output warning_share")


def test_a_zero_duration_cell_of_a_table_no_diagram_calls_is_refused(api: Api) -> None:
    answer = refused(
        api, "unused.dmn", unused_table('<outputEntry id="time_limits_emergency_out8"><text>"PT30M"</text>',
                                        '<outputEntry id="time_limits_emergency_out8"><text>"PT0M"</text>')
    )
    [message] = messages(answer)["unused_table"]
    assert "output reminder_interval: 'PT0M' must be longer than zero" in message


def test_a_cell_importing_a_module_is_refused(api: Api) -> None:
    answer = refused(api, "unused.dmn", unused_table("<text>0.5</text>", "<text>__import__('os').getpid()</text>"))
    assert "is not allowed in a diagram" in messages(answer)["unused_table"][0]


def test_a_bpmn_file_with_no_process_is_refused(api: Api) -> None:
    empty = minimal().split("  <bpmn:process")[0] + "</bpmn:definitions>\n"
    answer = refused(api, "empty.bpmn", empty)
    assert (answer["element"], answer["file"]) == (None, "empty.bpmn")
    assert "holds no executable process" in answer["error"]


# --- the restricted environment itself -----------------------------------------------------------

@pytest.fixture
def environment() -> RestrictedEnvironment:
    return RestrictedEnvironment({"double": lambda x: x * 2}, time_limit=0.2)


@pytest.mark.parametrize(
    "expression",
    [
        "10 ** 10 ** 10",
        "'x' * 10 ** 10",
        "[0] * 10 ** 10",
        "1 << 10 ** 10",
        "range(10 ** 12)",
        "'x'.zfill(10 ** 10)",
        "'%10000000000s' % 'x'",
        "f'{1:>10000000000}'",
        "f'{1:>{10 ** 10}}'",
    ],
)
def test_a_single_operation_too_large_to_make_is_refused_at_once(
    environment: RestrictedEnvironment, expression: str
) -> None:
    with pytest.raises(ScriptRefused):
        environment.evaluate(expression, {})


@pytest.mark.parametrize(
    "expression",
    [
        "sum(1 for x in range(10 ** 6) for y in range(10 ** 6))",
        "(lambda f: f(f, 40))(lambda f, n: n and f(f, n - 1) + f(f, n - 1))",
    ],
)
def test_long_work_without_a_while_loop_stops_at_the_time_limit(
    environment: RestrictedEnvironment, expression: str
) -> None:
    with pytest.raises(ScriptTimeLimit):
        environment.evaluate(expression, {})


def test_a_script_leaves_its_data_and_nothing_of_the_machinery(environment: RestrictedEnvironment) -> None:
    data: dict[str, Any] = {"limits": {"a": 1}}
    script = "a, b = 1, 2\nfor k, v in limits.items(): c = k\nn = 1\nn *= 3\nd = {}\nd['x'] = double(n)"
    environment.execute(script, data)
    assert data == {"limits": {"a": 1}, "a": 1, "b": 2, "k": "a", "v": 1, "c": "a", "n": 3, "d": {"x": 6}}
