"""Fixtures: a real SQLite file per test (copied from one built once with the real migrations,
workflows and demo data), a ManualClock, and an API helper that logs people in."""
from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine import Gridflow, Settings
from engine.deadlines.clock import ManualClock
from web import create_app

from .browser import app_of_server, browser, live_app, office, server  # noqa: F401  (fixtures for page tests)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Wednesday morning, well inside working hours.
START = datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI)


def local(text: str) -> datetime:
    """An instant written in Beijing time, e.g. local('2026-11-26 09:00')."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "gridflow.db"
    gridflow = Gridflow(Settings(f"sqlite:///{path}", clock=ManualClock(START - timedelta(days=1))))
    gridflow.init(demo=True)
    gridflow.close()
    return path


# With GRIDFLOW_TEST_POSTGRES_URL set (.ci/run sets it), every test that uses a database runs
# on SQLite and on PostgreSQL: the same code on both is a promise of the product.
POSTGRES_URL = os.environ.get("GRIDFLOW_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]
POSTGRES_TEMPLATE = f"gridflow_test_template_{os.getpid()}"  # two runs at once keep apart


def _postgres_admin() -> SqlEngine:
    assert POSTGRES_URL is not None
    return create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")


def _postgres_url(database: str) -> str:
    assert POSTGRES_URL is not None
    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """One PostgreSQL database built like the SQLite template; each test copies it."""
    admin = _postgres_admin()
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {POSTGRES_TEMPLATE} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {POSTGRES_TEMPLATE}"))
    gridflow = Gridflow(Settings(_postgres_url(POSTGRES_TEMPLATE), clock=ManualClock(START - timedelta(days=1))))
    gridflow.init(demo=True)
    gridflow.close()
    yield POSTGRES_TEMPLATE
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {POSTGRES_TEMPLATE} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, template_db: Path, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "gridflow.db"
        shutil.copy(template_db, path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    name = f"gridflow_test_{uuid.uuid4().hex[:12]}"
    admin = _postgres_admin()
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name} TEMPLATE {template}"))
    yield _postgres_url(name)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def workflow_cache_size() -> int:
    """Overridden (e.g. with 0) where a module wants its commands to restore every workflow."""
    return 1000


@pytest.fixture
def app(database_url: str, clock: ManualClock, tmp_path: Path, workflow_cache_size: int) -> Iterator[Flask]:
    app = create_app(
        {
            "WORKFLOW_CACHE_SIZE": workflow_cache_size,
            "DATABASE_URL": database_url,
            "CLOCK": clock,
            "SECRET_KEY": "test",
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "PHOTO_DIR": str(tmp_path / "photos"),
        }
    )
    yield app
    app.extensions["gridflow"].close()


@pytest.fixture
def gridflow(app: Flask) -> Gridflow:
    return app.extensions["gridflow"]


class Api:
    """Calls the JSON API as a named demo user and checks the status of every answer."""

    def __init__(self, client: FlaskClient, clock: ManualClock | None = None) -> None:
        self.client = client
        self.clock = clock
        self._tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self._tokens:
            answer = self.client.post("/api/login", json={"username": username, "password": "demo"})
            assert answer.status_code == 200, answer.get_json()
            self._tokens[username] = answer.get_json()["token"]
        return self._tokens[username]

    def call(self, method: str, path: str, user: str | None, expect: int = 200, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        answer = self.client.open(path, method=method, headers=headers, **kwargs)
        assert answer.status_code == expect, (answer.status_code, answer.get_json())
        return answer.get_json()

    def get(self, path: str, user: str, expect: int = 200) -> Any:
        return self.call("GET", path, user, expect)

    def report(self, user: str = "operator", expect: int = 201, **fields: Any) -> Any:
        body = {
            "category": "SJ0502",  # 店外经营: no owner department, so the street office (属地)
            "grid": "03-02",
            "description": "商户在店外摆放货架，占用人行道",
            "address": "人民路 18 号",
            "urgency": "normal",
            "channel": "hotline",
        } | fields
        return self.call("POST", "/api/cases", user, expect, json=body)

    def case(self, case_id: int, user: str = "operator") -> Any:  # the supervision centre reads all
        return self.get(f"/api/cases/{case_id}", user)

    def inbox(self, user: str) -> list[dict[str, Any]]:
        return self.get("/api/tasks", user)

    def task(self, user: str, case_id: int, task: str) -> dict[str, Any]:
        """The one open task of this case with this BPMN id in the user's inbox."""
        found = [t for t in self.inbox(user) if t["case_id"] == case_id and t["task"] == task]
        assert len(found) == 1, f"{user} should have one {task} task of case {case_id}, has {found}"
        return found[0]

    def has_task(self, user: str, case_id: int, task: str | None = None) -> bool:
        return any(t["case_id"] == case_id and task in (None, t["task"]) for t in self.inbox(user))

    def complete(self, user: str, case_id: int, task: str, expect: int = 200, **fields: Any) -> Any:
        task_id = self.task(user, case_id, task)["id"]
        return self.call("POST", f"/api/tasks/{task_id}/complete", user, expect, json=fields)


@pytest.fixture
def api(app: Flask, clock: ManualClock) -> Api:
    return Api(app.test_client(), clock)


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def logged_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    token = csrf(client.get("/login").get_data(as_text=True))
    answer = client.post("/login", data={"username": username, "password": "demo", "csrf_token": token})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


# --- working cases through the engine directly (benchmarks and page tests' setup) -------------

STREET_STALL = {"category": "SJ0502", "grid": "03-02", "description": "店外经营", "address": "人民路 18 号",
                "urgency": "normal", "channel": "collector"}
Steps = tuple[tuple[str, str, dict[str, Any]], ...]  # (username, task, fields), in order
TO_HANDLED: Steps = (("operator", "register", {"decision": "register"}),
              ("dispatcher", "dispatch", {"department": "JD03"}),
              ("jd03", "handle", {"action": "done", "result": "已清理"}))
TO_CLOSED: Steps = (*TO_HANDLED, ("collector03", "check", {"passed": True}), ("operator", "close", {}))


def user_id(gridflow: Gridflow, username: str) -> int:
    user = gridflow.directory.authenticate(username, "demo")
    assert user is not None, username
    return user.id


def walk(gridflow: Gridflow, case_id: int, steps: Any) -> None:
    """Complete each (user, stage, fields) step of the case as that demo user, in order."""
    for username, stage, fields in steps:
        person = user_id(gridflow, username)
        [task] = [t for t in gridflow.inbox.tasks_for(person, stage=stage) if t["case_id"] == case_id]
        gridflow.runtime.complete_task(person, task["id"], fields)


def reported(gridflow: Gridflow, steps: Any = ()) -> int:
    """A street-stall case reported by collector03 through the engine and walked through steps."""
    case_id = gridflow.runtime.report_case(user_id(gridflow, "collector03"), STREET_STALL)
    walk(gridflow, case_id, steps)
    return case_id
