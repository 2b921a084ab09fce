"""The newer pages in English (administration, reference data, assessment, sampling, start
forms) and the English catalogue behind them: every entry translated, none left fuzzy, and the
words the engine keeps in Chinese (roles, urgencies, channels) translated too."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from engine import WORKFLOWS_DIR
from engine.vocabulary import CHANNELS, ROLES, URGENCIES
from web.assessment import COLUMNS

from .conftest import Api, logged_in

CATALOGUE = Path(__file__).parents[1] / "web/translations/en/LC_MESSAGES/messages.po"


def in_english(app: Flask, username: str) -> FlaskClient:
    client = logged_in(app, username)
    assert client.get("/language/en").status_code == 302
    return client


def page(client: FlaskClient, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, (path, answer.status_code)
    return answer.get_data(as_text=True)


def script_words(html: str, script_id: str) -> dict[str, str]:
    found = re.search(rf'<script id="{script_id}" type="application/json">(.*?)</script>', html, re.S)
    assert found, script_id
    return json.loads(found.group(1))


def test_the_newer_pages_speak_english_and_the_catalogue_is_complete(app: Flask, api: Api) -> None:
    # A second version of the lifecycle, so that the diff and migration pages have something to show.
    renamed = (WORKFLOWS_DIR / "case_lifecycle.bpmn").read_text().replace('value="立案审核"', 'value="立案审核（新）"')
    upload = {"file": (io.BytesIO(renamed.encode()), "case_lifecycle.bpmn")}
    api.call("POST", "/api/definitions", "admin", 201, data=upload, content_type="multipart/form-data")

    admin = in_english(app, "admin")
    index = page(admin, "/admin/")
    assert '<html lang="en">' in index
    for words in ("Administration", "Process definitions", "Files and versions", "Deployed by", "Reference data"):
        assert words in index, words
    assert "流程定义" not in index and "文件及版本" not in index

    diff = page(admin, "/admin/processes/case_lifecycle/diff?to=2")
    assert "Compare versions" in diff and "Changed" in diff and "Back to the process definitions" in diff
    migrate = page(admin, "/admin/processes/case_lifecycle/migrate")
    assert "Migrate running cases" in migrate and "Dry run (list only, migrate nothing)" in migrate
    assert "（在办" not in migrate

    editor = page(admin, "/admin/files/case_lifecycle.bpmn/2/edit")
    assert "Deploy as new version" in editor and "Timer expression" in editor
    editor_words = script_words(editor, "editor-words")
    assert editor_words["checking"] == "Checking…" and editor_words["deployed"] == "Deployed: {versions}"

    reference = page(admin, "/admin/reference/")
    assert "Holiday adjustments" in reference and "Case category" in reference and "Account" in reference
    new_user = page(admin, "/admin/reference/users/new")
    assert "New Account" in new_user and "Information collector" in new_user and "Handling department" in new_user
    assert "信息采集员" not in new_user

    assessment = page(admin, "/assessment/?month=2026-11")
    for words in ("Assessment figures", "Department assessment", "On-time handling rate", "Weekly trend"):
        assert words in assessment, words
    assert script_words(assessment, "chart-words")["on_time"] == "On-time handling rate by department (%)"
    bulletin = page(admin, "/assessment/bulletin?quarter=2026-Q4")
    assert "Assessment bulletin of the city management departments, 2026 Q4" in bulletin and "Pass / fail" in bulletin

    sampling = page(in_english(app, "assessor"), "/assessment/sampling/")
    assert "Monthly grid spot checks" in sampling and "Draw this month's grids" in sampling

    clerk = in_english(app, "clerk")
    assert "Start: " in page(clerk, "/start/document_handling")
    report = page(clerk, "/report")
    assert "Hotline (12319 / 12345)" in report and "Urgent" in report

    # The same page in Chinese, the source language, is unchanged by the catalogue.
    chinese = logged_in(app, "admin")
    assert chinese.get("/language/zh").status_code == 302
    assert "流程定义" in page(chinese, "/admin/")

    with CATALOGUE.open("rb") as file:
        catalogue = read_po(file)
    entries = [message for message in catalogue if message.id]
    assert len(entries) > 300
    untranslated = [message.id for message in entries if not message.string]
    fuzzy = [message.id for message in entries if message.fuzzy]
    assert untranslated == [] and fuzzy == []
    # web/pages.py marks the engine's Chinese words and assessment.py its column headings; a word
    # added in engine/ or a heading added there without a translation shows up here.
    translated = {message.id for message in entries}
    engine_words = [*ROLES.values(), *URGENCIES.values(), *CHANNELS.values()]
    headings = [heading for columns in COLUMNS.values() for _, heading in columns]
    assert [word for word in engine_words + headings if word not in translated] == []
