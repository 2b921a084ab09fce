"""Issue 13: a copied session cookie or API token ends with a logout, a new password and a
deactivation (the user's credential version is in both and checked on every request), and
wrong passwords are slowed per account and per client address, counted in the database."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select, text
from werkzeug.security import generate_password_hash

from engine import Gridflow, Settings
from engine.deadlines.clock import ManualClock
from engine.errors import LoginThrottled
from engine.office.directory import LOCK, NO_ACCOUNTS_HASH
from engine.storage.db import MIGRATIONS
from engine.storage.models import LoginFailure, User

from .conftest import START, Api, csrf, logged_in, user_id

NEW_PASSWORD = "换了的口令-2027"


def stolen(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser with a copy of this one's session cookie."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/").status_code == 200  # the copy works, until ...
    return thief


def refused_page(client: FlaskClient) -> None:
    answer = client.get("/")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login"), answer.status_code


def refused_token(api: Api, token: str) -> None:
    answer = api.client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401, answer.get_json()
    assert "log in again" in answer.get_json()["error"]


def api_login(api: Api, username: str, password: str = "demo", address: str = "127.0.0.1") -> Any:
    return api.client.post(
        "/api/login", json={"username": username, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def page_login(app: Flask, username: str, password: str = "demo") -> Any:
    client = app.test_client()
    token = csrf(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def user_form(gridflow: Gridflow, username: str, **changes: Any) -> dict[str, Any]:
    """The account's edit form as a browser posts it (a checked box is "true", unchecked absent)."""
    account = gridflow.reference.user(username)
    form = {
        "display_name": account["display_name"],
        "department": account["department"] or "",
        "zone": account["zone"] or "",
        "roles": account["roles"],
        "active": "true",
    } | changes
    return {name: value for name, value in form.items() if value is not None}


def post_form(client: FlaskClient, url: str, data: dict[str, Any]) -> Any:
    token = csrf(client.get(url).get_data(as_text=True))
    return client.post(url, data=data | {"csrf_token": token})


# --- finding 5: credentials end ----------------------------------------------------------------

def test_logging_out_of_the_pages_ends_a_copied_cookie_and_the_users_tokens(app: Flask, api: Api) -> None:
    operator = logged_in(app, "operator")
    thief = stolen(app, operator)
    token = api.token("operator")
    other = api.token("dispatcher")

    token_of_form = csrf(operator.get("/").get_data(as_text=True))
    assert operator.post("/logout", data={"csrf_token": token_of_form}).status_code == 302

    refused_page(thief)
    refused_page(operator)
    refused_token(api, token)
    assert api.client.get("/api/tasks", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    logged_in(app, "operator")  # a new login works


def test_api_logout_ends_that_token_the_others_and_the_page_sessions(app: Flask, api: Api) -> None:
    operator = logged_in(app, "operator")
    first = api.token("operator")
    second = api_login(api, "operator").get_json()["token"]

    answer = api.client.post("/api/logout", headers={"Authorization": f"Bearer {first}"})
    assert answer.status_code == 204

    refused_token(api, first)
    refused_token(api, second)
    refused_page(operator)
    assert api.client.post("/api/logout", headers={"Authorization": f"Bearer {first}"}).status_code == 401
    assert api.client.post("/api/logout").status_code == 401


def test_a_new_password_ends_the_old_cookie_and_token(app: Flask, api: Api, gridflow: Gridflow) -> None:
    operator = logged_in(app, "operator")
    thief = stolen(app, operator)
    token = api.token("operator")
    admin = logged_in(app, "admin")

    form = user_form(gridflow, "operator", password=NEW_PASSWORD)
    changed = post_form(admin, "/admin/reference/users/operator/edit", form)
    assert changed.status_code == 302, changed.get_data(as_text=True)

    refused_page(thief)
    refused_page(operator)
    refused_token(api, token)
    assert api_login(api, "operator", NEW_PASSWORD).status_code == 200
    assert page_login(app, "operator", NEW_PASSWORD).status_code == 302


def test_an_administrators_new_password_of_his_own_keeps_this_session_and_ends_the_others(
    app: Flask, api: Api, gridflow: Gridflow
) -> None:
    admin = logged_in(app, "admin")
    thief = stolen(app, admin)
    token = api.token("admin")

    changed = post_form(admin, "/admin/reference/users/admin/edit", user_form(gridflow, "admin", password=NEW_PASSWORD))
    assert changed.status_code == 302, changed.get_data(as_text=True)

    assert admin.get("/admin/reference/users/").status_code == 200
    refused_page(thief)
    refused_token(api, token)


def test_deactivation_and_reactivation_end_the_old_cookie_and_token(app: Flask, api: Api, gridflow: Gridflow) -> None:
    operator = logged_in(app, "operator")
    thief = stolen(app, operator)
    token = api.token("operator")
    admin = logged_in(app, "admin")

    url = "/admin/reference/users/operator/edit"
    assert post_form(admin, url, user_form(gridflow, "operator", active=None)).status_code == 302
    assert gridflow.reference.user("operator")["active"] is False
    assert post_form(admin, url, user_form(gridflow, "operator")).status_code == 302
    assert gridflow.reference.user("operator")["active"] is True

    refused_page(thief)
    refused_page(operator)
    refused_token(api, token)
    assert api_login(api, "operator").status_code == 200  # the same password, a new login


def test_a_change_that_leaves_password_and_activation_alone_keeps_sessions(
    app: Flask, api: Api, gridflow: Gridflow
) -> None:
    operator = logged_in(app, "operator")
    token = api.token("operator")
    admin = logged_in(app, "admin")
    form = user_form(gridflow, "operator", display_name="值班长（改名）")
    assert post_form(admin, "/admin/reference/users/operator/edit", form).status_code == 302
    assert operator.get("/").status_code == 200
    assert api.client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_token_without_a_credential_version_is_refused(app: Flask, api: Api, gridflow: Gridflow) -> None:
    """Tokens issued before the upgrade named only the user."""
    old = URLSafeTimedSerializer("test", salt="gridflow-api-token").dumps({"uid": user_id(gridflow, "operator")})
    refused_token(api, old)


# --- finding 11: logins slowed -------------------------------------------------------------------

def test_fifty_wrong_passwords_lock_the_account_until_the_clock_passes_the_lock(
    app: Flask, api: Api, clock: ManualClock
) -> None:
    answers = [api_login(api, "operator", f"guess-{n}") for n in range(50)]
    assert [a.status_code for a in answers[:5]] == [401] * 5
    assert {a.status_code for a in answers[5:]} == {429}

    right = api_login(api, "operator")
    assert right.status_code == 429
    assert right.get_json() == {"error": "too many failed logins; try again in 15 minutes", "field": "username"}
    assert int(right.headers["Retry-After"]) == LOCK.total_seconds()
    page = page_login(app, "operator")
    assert page.status_code == 429 and int(page.headers["Retry-After"]) <= LOCK.total_seconds()
    assert "登录失败次数过多" in page.get_data(as_text=True)
    assert api_login(api, "operator", address="10.0.0.7").status_code == 429  # the account, from anywhere

    clock.advance(LOCK - timedelta(seconds=1))
    assert int(api_login(api, "operator").headers["Retry-After"]) == 1
    clock.advance(timedelta(seconds=1))
    assert api_login(api, "operator").status_code == 200
    assert api_login(api, "dispatcher").status_code == 200  # the address was never locked


def test_twenty_failures_from_one_address_lock_the_address(app: Flask, api: Api, clock: ManualClock) -> None:
    for n in range(20):
        assert api_login(api, f"nobody{n}", "guess").status_code == 401
    assert api_login(api, "operator").status_code == 429
    assert page_login(app, "operator").status_code == 429  # the test client's page login: 127.0.0.1
    assert api_login(api, "operator", address="10.0.0.7").status_code == 200

    clock.advance(LOCK)
    assert api_login(api, "operator").status_code == 200


def test_failures_older_than_the_window_are_forgotten_and_a_success_clears_the_account(
    api: Api, clock: ManualClock, gridflow: Gridflow
) -> None:
    assert api_login(api, "nobody", "guess").status_code == 401
    for _ in range(4):
        assert api_login(api, "operator", "guess").status_code == 401
    assert api_login(api, "operator").status_code == 200  # clears the account's four
    for _ in range(4):
        assert api_login(api, "operator", "guess").status_code == 401
    clock.advance(timedelta(minutes=15))
    for _ in range(4):  # the window began again
        assert api_login(api, "operator", "guess").status_code == 401
    assert api_login(api, "operator").status_code == 200
    with gridflow.sessions() as session:
        keys = set(session.scalars(select(LoginFailure.key)))
    assert "user:operator" not in keys and "addr:127.0.0.1" in keys
    assert "user:nobody" not in keys  # a failure after its window removed it


def test_an_unknown_user_and_a_wrong_password_answer_alike_and_both_count(
    app: Flask, api: Api, gridflow: Gridflow
) -> None:
    unknown, wrong = api_login(api, "nobody", "guess"), api_login(api, "operator", "guess")
    assert (unknown.status_code, unknown.get_json()) == (wrong.status_code, wrong.get_json()) == (
        401, {"error": "wrong username or password"},
    )
    pages = [page_login(app, name, "guess") for name in ("nobody", "operator")]
    errors = [re.search(r'<p class="error" id="login-error">(.*?)</p>', p.get_data(as_text=True)) for p in pages]
    answered = [(p.status_code, e and e.group(1)) for p, e in zip(pages, errors, strict=True)]
    assert answered == [(200, "用户名或密码错误")] * 2
    for _ in range(3):
        api_login(api, "nobody", "guess")
        api_login(api, "operator", "guess")
    # five failures each: an unknown name is locked as a known one is, so a 429 names no account
    assert api_login(api, "nobody", "guess").status_code == api_login(api, "operator").status_code == 429


def test_an_unknown_name_is_checked_against_a_hash_as_costly_as_an_accounts(gridflow: Gridflow) -> None:
    """Timing: authenticate checks one hash whatever the name; this one must cost what a real one does."""
    method = NO_ACCOUNTS_HASH.split("$")[0]
    assert method == generate_password_hash("x").split("$")[0]
    with gridflow.sessions() as session:
        assert set(h.split("$")[0] for h in session.scalars(select(User.password_hash))) == {method}


# --- the migration ----------------------------------------------------------------------------

def test_the_upgrade_gives_existing_users_version_zero(tmp_path: Path) -> None:
    gridflow = Gridflow(Settings(f"sqlite:///{tmp_path / 'g.db'}", clock=ManualClock(START)))
    gridflow.init(demo=True)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with gridflow.db.connect() as connection:  # as tests/test_schema.py does: the copy of app_user
        connection.execute(text("PRAGMA foreign_keys=OFF"))
        connection.commit()
        config.attributes["connection"] = connection
        with connection.begin():
            command.downgrade(config, "0007")
        connection.execute(text("PRAGMA foreign_keys=ON"))
        connection.commit()
        assert "credential_version" not in str(connection.execute(text("SELECT * FROM app_user")).keys())
    gridflow.init()
    with gridflow.sessions() as session:
        assert set(session.scalars(select(User.credential_version))) == {0}
    assert gridflow.directory.log_in("operator", "demo", "127.0.0.1") is not None
    gridflow.close()


def test_two_processes_count_the_same_failures(gridflow: Gridflow, database_url: str, clock: ManualClock) -> None:
    other = Gridflow(Settings(database_url, clock=clock))  # another worker process's engine
    try:
        for directory in (gridflow.directory, other.directory) * 2 + (gridflow.directory,):
            assert directory.log_in("operator", "guess", "10.0.0.7") is None
        for directory in (gridflow.directory, other.directory):
            with pytest.raises(LoginThrottled):
                directory.log_in("operator", "demo", "10.0.0.8")
    finally:
        other.close()


def test_behind_a_trusted_proxy_the_clients_address_is_counted(
    database_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    from web import create_app

    app = create_app(
        {"DATABASE_URL": database_url, "CLOCK": clock, "SECRET_KEY": "test", "TESTING": True,
         "INSTANCE_PATH": str(tmp_path / "instance"), "TRUSTED_PROXIES": 1}
    )
    try:
        client = app.test_client()

        def login(username: str, password: str, client_address: str) -> int:
            answer = client.post(
                "/api/login", json={"username": username, "password": password},
                environ_base={"REMOTE_ADDR": "10.9.9.9"}, headers={"X-Forwarded-For": client_address},
            )
            return answer.status_code

        for n in range(20):
            assert login(f"nobody{n}", "guess", "203.0.113.5") == 401
        assert login("operator", "demo", "203.0.113.5") == 429  # that client is locked ...
        assert login("operator", "demo", "203.0.113.6") == 200  # ... not everyone behind the proxy
    finally:
        app.extensions["gridflow"].close()
