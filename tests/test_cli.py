"""The command line of the quick start: init creates the database and says it runs with demo
accounts; serve answers over real HTTP."""
from __future__ import annotations

import gzip
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from engine import Gridflow, Settings
from engine.storage.db import MIGRATIONS

ROOT = Path(__file__).resolve().parent.parent


def _head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return str(ScriptDirectory.from_config(config).get_current_head())


HEAD = _head()


def run_app(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"GRIDFLOW_INSTANCE": str(tmp_path / "instance")}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "app.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_init_creates_the_sqlite_file_with_demo_data_and_is_repeatable(tmp_path: Path) -> None:
    first = run_app(tmp_path, "init", "--demo")
    assert first.returncode == 0, first.stderr
    assert "demo" in first.stdout and "演示账号" in first.stdout
    assert (tmp_path / "instance" / "gridflow.db").exists()
    again = run_app(tmp_path, "init")
    assert again.returncode == 0, again.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_the_api_over_http(tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {"GRIDFLOW_INSTANCE": str(tmp_path / "instance")}
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "app.py", "serve", "--demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + 60
        while True:  # waiting for a server process to come up is not a timed assertion
            try:
                with urllib.request.urlopen(f"{base}/health") as answer:
                    assert json.load(answer) == {"status": "ok"}
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("the server did not come up")
                time.sleep(0.2)
        login = urllib.request.Request(
            f"{base}/login",
            data=json.dumps({"username": "dispatcher", "password": "demo"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(login) as answer:
            token = json.load(answer)["token"]
        inbox = urllib.request.Request(f"{base}/tasks", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(inbox) as answer:
            assert json.load(answer) == []
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "演示账号" in output


def test_init_upgrades_a_database_made_by_the_release_before_this_one(tmp_path: Path) -> None:
    """tests/fixtures/gridflow-0007-demo.db.gz was made by the release whose newest migration is
    0007 (commit f955f55: `app.py init --demo`, then one case left in 处置 and one closed). This
    release's `init` brings it to the newest migration, its cases go on, and `check` agrees."""
    instance = tmp_path / "instance"
    instance.mkdir()
    with gzip.open(ROOT / "tests" / "fixtures" / "gridflow-0007-demo.db.gz") as old:
        (instance / "gridflow.db").write_bytes(old.read())

    upgraded = run_app(tmp_path, "init")
    assert upgraded.returncode == 0, upgraded.stderr
    with sqlite3.connect(instance / "gridflow.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == HEAD
        versions = db.execute("SELECT credential_version FROM app_user WHERE username = 'jd03'").fetchone()
        assert versions == (0,)
    checked = run_app(tmp_path, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    gridflow = Gridflow(Settings(f"sqlite:///{instance / 'gridflow.db'}"))
    try:
        handler = gridflow.directory.authenticate("jd03", "demo")
        operator = gridflow.directory.authenticate("operator", "demo")
        assert handler is not None and operator is not None
        [handling] = [task for task in gridflow.inbox.tasks_for(handler.id) if task["task"] == "handle"]
        gridflow.runtime.complete_task(handler.id, handling["id"], {"action": "done", "result": "已清理"})
        assert gridflow.cases.case(handling["case_id"], operator.id)["status"] == "checking"
        closed = gridflow.cases.page(operator.id, status="closed")
        assert closed["total"] == 1
    finally:
        gridflow.close()
