"""Deploying BPMN and DMN through the API: broken files are refused with the parser's message
and touch nothing; new versions reach new cases while running cases finish on their own."""
from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from engine import WORKFLOWS_DIR

from .conftest import Api, local

LIFECYCLE = (WORKFLOWS_DIR / "case_lifecycle.bpmn").read_text(encoding="utf-8")
TIME_LIMITS = (WORKFLOWS_DIR / "time_limits.dmn").read_text(encoding="utf-8")


def upload(api: Api, name: str, text: str, expect: int) -> Any:
    return api.call(
        "POST",
        "/api/definitions",
        "admin",
        expect,
        data={"file": (io.BytesIO(text.encode("utf-8")), name)},
        content_type="multipart/form-data",
    )


def with_archive_step(bpmn: str) -> str:
    """The lifecycle with one more step: after close, the operator archives (归档) the file."""
    archive = """
    <bpmn:userTask id="archive" name="归档">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="title" value="案卷归档" />
          <spiffworkflow:property name="status" value="archiving" />
          <spiffworkflow:property name="form"
            value='{"shelf": {"type": "text", "label": "卷宗位置", "required": true}}' />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f_closed</bpmn:incoming>
      <bpmn:outgoing>f_archived</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f_archived" sourceRef="archive" targetRef="end_closed" />
    <bpmn:sequenceFlow id="f_closed" sourceRef="close" targetRef="archive" />"""
    changed = bpmn.replace('<bpmn:sequenceFlow id="f_closed" sourceRef="close" targetRef="end_closed" />', archive)
    changed = changed.replace(
        "<bpmn:flowNodeRef>end_closed</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>end_closed</bpmn:flowNodeRef>\n        <bpmn:flowNodeRef>archive</bpmn:flowNodeRef>",
    )
    changed = changed.replace(
        "<bpmn:incoming>f_closed</bpmn:incoming>\n    </bpmn:endEvent>",
        "<bpmn:incoming>f_archived</bpmn:incoming>\n    </bpmn:endEvent>",
    )
    assert changed.count("archive") > 4
    return changed


def walk_to_close(api: Api, case_id: int) -> None:
    api.complete("operator", case_id, "register", decision="register")
    api.complete("dispatcher", case_id, "dispatch", department="JD03")
    api.complete("jd03", case_id, "handle", action="done", result="已处置")
    api.complete("collector03", case_id, "check", passed=True)


def lifecycle_versions(api: Api) -> list[dict[str, Any]]:
    return [p for p in api.get("/api/definitions", "admin")["processes"] if p["id"] == "case_lifecycle"]


def test_the_shipped_workflows_are_deployed_at_first_start(api: Api) -> None:
    overview = api.get("/api/definitions", "admin")
    assert {(f["name"], f["version"]) for f in overview["files"]} == {
        ("case_lifecycle.bpmn", 1),
        ("dispatch_rules.dmn", 1),
        ("time_limits.dmn", 1),
        ("document_handling.bpmn", 1),
        ("document_limits.dmn", 1),
    }
    [lifecycle] = lifecycle_versions(api)
    assert lifecycle["version"] == 1 and lifecycle["name"] == "案件办理流程"
    assert lifecycle["deployed_by"] == "system"


def test_a_changed_diagram_reaches_new_cases_while_old_ones_finish_on_their_version(api: Api) -> None:
    old_case = api.report("collector03", channel="collector")["id"]
    walk_to_close(api, old_case)

    deployed = upload(api, "case_lifecycle.bpmn", with_archive_step(LIFECYCLE), 201)
    assert deployed == {
        "files": [{"name": "case_lifecycle.bpmn", "version": 2}],
        "processes": [{"id": "case_lifecycle", "version": 2}],
    }
    assert [(p["version"], p["running_cases"]) for p in lifecycle_versions(api)] == [(1, 1), (2, 0)]

    new_case = api.report("collector03", channel="collector")["id"]
    new_process = api.case(new_case)["process"]
    assert (new_process["id"], new_process["version"]) == ("case_lifecycle", 2)
    walk_to_close(api, new_case)
    assert api.complete("operator", new_case, "close")["status"] == "archiving"
    assert api.task("operator", new_case, "archive")["title"] == "案卷归档"
    assert api.complete("operator", new_case, "archive", shelf="A-03")["status"] == "closed"

    old = api.complete("operator", old_case, "close")
    assert (old["process"]["id"], old["process"]["version"]) == ("case_lifecycle", 1)
    assert old["status"] == "closed"
    assert not api.has_task("operator", old_case)


def test_a_changed_time_limits_table_reaches_new_cases(api: Api) -> None:
    old_case = api.report("collector03", channel="collector")["id"]
    longer = TIME_LIMITS.replace(
        '<outputEntry id="time_limits_normal_out2"><text>"PT1H"</text></outputEntry>',
        '<outputEntry id="time_limits_normal_out2"><text>"PT3H"</text></outputEntry>',
    )
    assert longer != TIME_LIMITS
    deployed = upload(api, "time_limits.dmn", longer, 201)
    assert deployed["processes"] == [{"id": "case_lifecycle", "version": 2}]

    new_case = api.report("collector03", channel="collector")["id"]
    register_due = {
        case_id: datetime.fromisoformat(api.task("operator", case_id, "register")["due_at"])
        for case_id in (old_case, new_case)
    }
    assert register_due == {old_case: local("2026-11-25 10:00"), new_case: local("2026-11-25 12:00")}


def test_the_same_file_twice_in_one_upload_is_refused(api: Api) -> None:
    answer = api.call(
        "POST",
        "/api/definitions",
        "admin",
        422,
        data={
            "file": [
                (io.BytesIO(LIFECYCLE.encode()), "case_lifecycle.bpmn"),
                (io.BytesIO(with_archive_step(LIFECYCLE).encode()), "case_lifecycle.bpmn"),
            ]
        },
        content_type="multipart/form-data",
    )
    assert answer["field"] == "file"
    assert len(lifecycle_versions(api)) == 1


def test_uploading_an_unchanged_file_stores_nothing(api: Api) -> None:
    assert upload(api, "case_lifecycle.bpmn", LIFECYCLE, 200) == {"files": [], "processes": []}
    assert len(lifecycle_versions(api)) == 1


def test_broken_files_are_refused_with_the_parsers_message_and_running_cases_go_on(api: Api) -> None:
    running = api.report("collector03", channel="collector")["id"]
    before = api.get("/api/definitions", "admin")

    not_xml = upload(api, "case_lifecycle.bpmn", LIFECYCLE[:500], 422)
    assert "not well-formed XML" in not_xml["error"]
    assert not_xml["file"] == "case_lifecycle.bpmn"

    dangling = LIFECYCLE.replace('targetRef="gw_channel"', 'targetRef="no_such_gateway"')
    refused = upload(api, "case_lifecycle.bpmn", dangling, 422)
    assert "no_such_gateway" in refused["error"]

    bad_form = LIFECYCLE.replace('"type": "boolean", "label": "核查通过"', '"label": "核查通过"')
    refused = upload(api, "case_lifecycle.bpmn", bad_form, 422)
    assert refused["element"] == "check"
    assert "needs a type" in refused["error"]

    bad_table = TIME_LIMITS.replace("<decisionTable", "<decisionTabel").replace("</decisionTable>", "</decisionTabel>")
    upload(api, "time_limits.dmn", bad_table, 422)

    broken_expressions = {
        "gw_channel": LIFECYCLE.replace("channel == 'collector'</bpmn", "channel === 'collector'</bpmn"),
        "register_overdue": LIFECYCLE.replace(
            "<bpmn:timeDate>deadline_after(register_limit, calendar)</bpmn:timeDate>",
            "<bpmn:timeDate>deadline_after(register_limit,, calendar)</bpmn:timeDate>",
        ),
        "set_handle_deadline": LIFECYCLE.replace(
            "handle_due = deadline_after(handle_limit, calendar)</bpmn:script>", "handle_due = = 1</bpmn:script>"
        ),
    }
    for element, text in broken_expressions.items():
        assert text != LIFECYCLE
        refused = upload(api, "case_lifecycle.bpmn", text, 422)
        assert refused["element"] == element, refused
        assert "not valid Python" in refused["error"]
    unclosed = TIME_LIMITS.replace('<text>"urgent"</text>', '<text>"urgent</text>')
    refused = upload(api, "time_limits.dmn", unclosed, 422)
    assert refused["element"] == "time_limits_table" and "rule 2 (time_limits_urgent), input" in refused["error"]

    assert upload(api, "notes.txt", "hello", 422)["field"] == "file"
    assert api.get("/api/definitions", "admin") == before
    walk_to_close(api, running)
    assert api.complete("operator", running, "close")["status"] == "closed"
