"""Deploy checks beyond the parser: lanes are roles, every user task is in one, every form field
has a type, every name an expression reads is provided by something, every timer evaluates.
An upload is refused with all its problems at once, each naming its element, and nothing is
stored."""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from engine import WORKFLOWS_DIR, Gridflow
from engine.definitions.diagram_data import START_DATA
from engine.storage.models import Case
from engine.vocabulary import ROLES

from .conftest import Api
from .test_definitions import LIFECYCLE, TIME_LIMITS, upload, with_archive_step

DOCUMENT_HANDLING = (WORKFLOWS_DIR / "document_handling.bpmn").read_text(encoding="utf-8")


def refused(api: Api, name: str, text: str) -> dict[str, Any]:
    """The 422 answer to an upload, after checking that it stored nothing."""
    before = api.get("/api/definitions", "admin")
    answer = upload(api, name, text, 422)
    assert api.get("/api/definitions", "admin") == before
    assert answer["problems"], answer
    first = answer["problems"][0]
    assert (answer["element"], answer["file"]) == (first["element"], first["file"])
    for problem in answer["problems"]:
        assert problem["message"] in answer["error"]  # the text names them all, for older clients
    return answer


def messages(answer: dict[str, Any]) -> dict[str | None, list[str]]:
    found: dict[str | None, list[str]] = {}
    for problem in answer["problems"]:
        found.setdefault(problem["element"], []).append(problem["message"])
    return found


def changed(text: str, old: str, new: str, count: int = 1) -> str:
    assert text.count(old) == count, (old, text.count(old))
    return text.replace(old, new)


def test_every_problem_of_an_upload_is_reported_at_once_each_with_its_element(api: Api) -> None:
    broken = changed(LIFECYCLE, '"type": "boolean", "label": "核查通过"', '"label": "核查通过"')
    broken = changed(broken, "<bpmn:flowNodeRef>close</bpmn:flowNodeRef>", "")
    broken = changed(broken, '<bpmn:lane id="lane_leader" name="leader">', '<bpmn:lane id="lane_leader" name="lead">')
    broken = changed(
        broken,
        "<bpmn:timeDate>warning_at(handle_due, handle_limit, warning_share, calendar)</bpmn:timeDate>",
        "<bpmn:timeDate>warning_at(handle_due, handle_limt, warning_share, calendar)</bpmn:timeDate>",
        count=2,  # handle_warning and approve_extension_warning
    )
    answer = refused(api, "case_lifecycle.bpmn", broken)
    found = messages(answer)
    assert set(found) == {"check", "close", "supervise", "handle_warning", "approve_extension_warning"}
    assert answer["element"] == "check"  # what does not read comes first: it may explain the rest
    assert all(p["file"] == "case_lifecycle.bpmn" for p in answer["problems"])


def test_a_lane_that_is_no_role_is_refused_naming_its_first_element(api: Api) -> None:
    answer = refused(
        api,
        "case_lifecycle.bpmn",
        changed(LIFECYCLE, 'id="lane_dispatcher" name="dispatcher">', 'id="lane_dispatcher" name="派遣员">'),
    )
    [(element, [message])] = messages(answer).items()
    assert element == "suggest_department"
    assert "lane '派遣员' is not a role the engine knows" in message
    assert "dispatch" in message and "collector, operator, dispatcher" in message


def test_a_user_task_in_no_lane_is_refused(api: Api) -> None:
    outside = changed(LIFECYCLE, "<bpmn:flowNodeRef>register</bpmn:flowNodeRef>", "")
    answer = refused(api, "case_lifecycle.bpmn", outside)
    assert messages(answer) == {"register": ["user task is in no lane; its lane names the role that works on it"]}


def test_every_form_field_without_a_type_is_named_with_its_element(api: Api) -> None:
    broken = changed(LIFECYCLE, '"type": "boolean", "label": "同意延期"', '"label": "同意延期"')
    broken = changed(broken, '{"type": "text", "label": "审批意见"}', '{"type": "memo", "label": "审批意见"}')
    answer = refused(api, "case_lifecycle.bpmn", broken)
    [(element, found)] = messages(answer).items()
    assert element == "approve_extension"
    assert [m.split(" needs a type")[0] for m in found] == ["form field 'approved'", "form field 'opinion'"]


def test_a_misspelt_name_in_a_timer_is_refused_naming_the_element_and_the_name(api: Api) -> None:
    answer = refused(
        api,
        "case_lifecycle.bpmn",
        changed(
            LIFECYCLE,
            "<bpmn:timeDate>after(handle_due, step_up_after, calendar)</bpmn:timeDate>",
            "<bpmn:timeDate>after(handle_due, step_up_afterr, calendar)</bpmn:timeDate>",
        ),
    )
    [(element, [message])] = messages(answer).items()
    assert element == "handle_step_up"
    assert "reads 'step_up_afterr', which nothing provides" in message
    assert "did you mean 'step_up_after' (output of decision table time_limits_table" in message


def test_a_renamed_table_output_is_reported_at_every_element_that_reads_it(api: Api) -> None:
    answer = refused(
        api, "time_limits.dmn", changed(TIME_LIMITS, 'name="handle_limit"', 'name="handle_limt"')
    )
    found = messages(answer)
    assert set(found) == {"set_handle_deadline", "set_rework_deadline", "handle_warning", "approve_extension_warning"}
    for [message] in found.values():
        assert "reads 'handle_limit', which nothing provides" in message
        assert "did you mean 'handle_limt'" in message


def test_a_timer_expression_must_give_what_its_timer_needs(api: Api) -> None:
    broken = changed(
        LIFECYCLE,
        "<bpmn:timeDate>deadline_after(register_limit, calendar)</bpmn:timeDate>",
        "<bpmn:timeDate>register_limit</bpmn:timeDate>",  # a duration where an instant is needed
    )
    broken = changed(
        broken,
        "<bpmn:timeCycle>reminder_cycle(handle_due, reminder_interval, calendar)</bpmn:timeCycle>",
        "<bpmn:timeCycle>reminder_interval</bpmn:timeCycle>",
    )
    found = messages(refused(api, "case_lifecycle.bpmn", broken))
    assert set(found) == {"register_overdue", "handle_reminder"}
    [register] = found["register_overdue"]
    assert "gives 'PT10M': not an ISO 8601 instant (timeDate)" in register  # the first row: emergencies
    [reminder] = found["handle_reminder"]
    assert "not a cycle R[n]/<instant>/<interval> (timeCycle)" in reminder


def test_a_timer_whose_expression_raises_on_sample_data_is_refused(api: Api) -> None:
    answer = refused(
        api,
        "case_lifecycle.bpmn",
        changed(
            LIFECYCLE,
            "<bpmn:timeDate>after(handle_due, step_up_after, calendar)</bpmn:timeDate>",
            "<bpmn:timeDate>after(handle_due, step_up_after, 'lunar')</bpmn:timeDate>",
        ),
    )
    [(element, [message])] = messages(answer).items()
    assert element == "handle_step_up"
    assert "fails on sample data" in message and "lunar" in message


def test_a_broken_table_cell_names_the_table_the_rule_and_the_column_not_the_task_calling_it(api: Api) -> None:
    answer = refused(api, "time_limits.dmn", changed(TIME_LIMITS, '<text>"urgent"</text>', '<text>"urgent</text>'))
    assert (answer["element"], answer["file"]) == ("time_limits_table", "time_limits.dmn")
    [message] = messages(answer)["time_limits_table"]
    where = "decision table time_limits_table, rule 2 (time_limits_urgent), input 紧急程度 (urgency)"
    assert message.startswith(where), message


@pytest.fixture
def clerk_withdrawn(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """As after a release that no longer knows the role 'clerk': the document process, stored at
    first start while 'clerk' was a role, names it as a lane and in start_roles."""
    monkeypatch.delitem(ROLES, "clerk")


@pytest.mark.usefixtures("clerk_withdrawn")
def test_a_stored_process_todays_checks_would_refuse_does_not_block_deploying_other_files(api: Api) -> None:
    deployed = upload(api, "case_lifecycle.bpmn", with_archive_step(LIFECYCLE), 201)
    assert deployed == {
        "files": [{"name": "case_lifecycle.bpmn", "version": 2}],
        "processes": [{"id": "case_lifecycle", "version": 2}],
    }


@pytest.mark.usefixtures("clerk_withdrawn")
def test_changing_a_stored_process_todays_checks_would_refuse_is_refused_naming_the_problem(api: Api) -> None:
    answer = refused(
        api, "document_handling.bpmn", changed(DOCUMENT_HANDLING, 'name="公文办理流程"', 'name="公文办理流程（修订）"')
    )
    problems = [p["message"] for p in answer["problems"]]
    assert any("lane 'clerk' is not a role the engine knows" in message for message in problems), problems
    assert any("start_roles names 'clerk'" in message for message in problems), problems
    assert all(p["file"] == "document_handling.bpmn" for p in answer["problems"])


def test_the_sample_start_data_is_what_a_case_starts_with(api: Api, gridflow: Gridflow) -> None:
    """The checks read the names CaseRuntime.report_case gives the start event from START_DATA."""
    case_id = api.report("operator", channel="hotline")["id"]
    with gridflow.sessions() as session:
        case = session.scalar(select(Case).where(Case.id == case_id))
        assert case is not None
        workflow = gridflow.runtime.store.restore(session, case)  # the stored state, as a command loads it
    [start] = workflow.get_tasks(spec_name="Start")
    assert set(start.data) == set(START_DATA)
    assert {name: type(value) for name, value in START_DATA.items() if start.data[name] is not None} == {
        name: type(start.data[name]) for name in START_DATA if start.data[name] is not None
    }
