"""Who may read what of the process definitions: the deployed versions and their differences
are the administrator's (they name every lane, rule and script of the office), while a case's
own diagram stays readable by whoever may read the case."""
from __future__ import annotations

import pytest
from flask import Flask

from engine import Gridflow

from .conftest import TO_HANDLED, Api, logged_in, reported

NOT_ADMINISTRATORS = ("operator", "dispatcher", "leader", "assessor", "collector03", "jd03", "open311")


@pytest.mark.parametrize("user", NOT_ADMINISTRATORS)
def test_only_an_administrator_reads_the_deployed_definitions(api: Api, user: str) -> None:
    refused = api.get("/api/definitions", user, 403)
    assert refused == {"error": "only an administrator reads the deployed process definitions"}
    for path in (
        "/api/definitions/case_lifecycle/diff",
        "/api/definitions/case_lifecycle/diff?from=1&to=2",
        "/api/definitions/nothing/diff",  # refused before saying whether such a process exists
    ):
        assert api.get(path, user, 403) == {"error": "only an administrator compares process definitions"}, path


def test_the_administrator_still_reads_them(api: Api) -> None:
    overview = api.get("/api/definitions", "admin")
    assert "case_lifecycle" in {p["id"] for p in overview["processes"]}
    # One version only: nothing to compare, and the answer says so rather than refusing.
    assert "no version before" in api.get("/api/definitions/case_lifecycle/diff", "admin", 404)["error"]


def test_a_cases_diagram_stays_readable_by_whoever_reads_the_case(app: Flask, gridflow: Gridflow) -> None:
    case_id = reported(gridflow, TO_HANDLED)  # collector03's report, handled by 西城街道 (jd03)
    for user in ("collector03", "operator", "jd03"):
        answer = logged_in(app, user).get(f"/cases/{case_id}/diagram.bpmn")
        assert answer.status_code == 200, user
        assert 'id="case_lifecycle"' in answer.get_data(as_text=True), user
    assert logged_in(app, "collector05").get(f"/cases/{case_id}/diagram.bpmn").status_code == 403  # not his zone
