"""基础数据管理: the administrator adds and changes zones, grids, departments, categories, user
accounts and the calendar's extra days; every change is one transaction with an audit event,
every refusal names its field and stores nothing, and nobody else gets in. On a real database
(SQLite and PostgreSQL), through the engine and through the pages with CSRF on."""
from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

import engine.office.reference
from engine import Gridflow
from engine.errors import Forbidden, InvalidField, NotFound
from engine.office.accounts import ROLES
from engine.storage.models import AuditEvent, CalendarDay, Category, Department, Grid, Task, User, UserRole, Zone
from web.admin_reference import ROLE_NAMES

from .conftest import Api


def user_id(gridflow: Gridflow, username: str) -> int:
    with gridflow.sessions() as session:
        found = session.scalar(select(User.id).where(User.username == username))
        assert found is not None, username
        return found


def audit(gridflow: Gridflow, action: str) -> list[AuditEvent]:
    with gridflow.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def stored(gridflow: Gridflow) -> dict[str, Any]:
    """Everything the reference commands may touch, to compare before and after a refusal."""
    with gridflow.sessions() as session:
        return {
            "zones": session.execute(select(Zone.code, Zone.name).order_by(Zone.code)).all(),
            "departments": session.execute(select(Department.code, Department.name, Department.kind)).all(),
            "grids": session.execute(
                select(Grid.code, Grid.name, Grid.zone_code, Grid.territory_department_code).order_by(Grid.code)
            ).all(),
            "categories": session.execute(
                select(
                    Category.code,
                    Category.family,
                    Category.class_code,
                    Category.class_name,
                    Category.name,
                    Category.owner_department_code,
                    Category.limit_class,
                    Category.emergency,
                ).order_by(Category.code)
            ).all(),
            "users": session.execute(
                select(User.username, User.display_name, User.department_code, User.zone_code, User.active)
                .add_columns(User.password_hash)
                .order_by(User.username)
            ).all(),
            "roles": session.execute(select(UserRole.user_id, UserRole.role).order_by(UserRole.user_id, UserRole.role))
            .all(),
            "days": session.execute(select(CalendarDay.day, CalendarDay.kind, CalendarDay.note)).all(),
            "events": session.scalar(select(func.count()).select_from(AuditEvent)),
        }


NEW_ZONE: dict[str, Any] = {"code": "12", "name": "第12网区（新区）"}
NEW_DEPARTMENT: dict[str, Any] = {"code": "JD12", "name": "新区街道办事处", "kind": "street"}
NEW_GRID: dict[str, Any] = {"code": "12-01", "name": "12网区1号网格", "zone": "12", "territory_department": "JD12"}
NEW_CATEGORY: dict[str, Any] = {
    "code": "SJ0604",
    "family": "event",
    "class_code": "06",
    "class_name": "扩展事件",
    "name": "共享单车乱停放",
    "owner_department": "CGJ",
    "limit_class": "normal",
    "emergency": False,
}
NEW_USER: dict[str, Any] = {
    "username": "collector12",
    "display_name": "采集员12（第12网区）",
    "department": "",
    "zone": "12",
    "roles": ["collector"],
    "active": True,
    "password": "巡查网格-2026",
}


# --- each kind added and changed, with its audit event -------------------------------------------


def test_each_kind_is_added_and_changed_with_an_audit_event(gridflow: Gridflow) -> None:
    reference = gridflow.reference
    admin = user_id(gridflow, "admin")

    assert reference.add_zone(admin, NEW_ZONE) == NEW_ZONE
    assert reference.change_zone(admin, "12", {"name": "第12网区（滨河新区）"})["name"] == "第12网区（滨河新区）"
    created, renamed = audit(gridflow, "reference_zone")
    assert created.actor == "admin" and created.case_id is None
    assert created.detail == {
        "code": "12",
        "created": True,
        "changes": {"code": {"from": None, "to": "12"}, "name": {"from": None, "to": "第12网区（新区）"}},
    }
    assert renamed.detail == {
        "code": "12",
        "created": False,
        "changes": {"name": {"from": "第12网区（新区）", "to": "第12网区（滨河新区）"}},
    }

    reference.add_department(admin, NEW_DEPARTMENT)
    reference.change_department(admin, "JD12", {"name": "滨河街道办事处", "kind": "street"})
    assert reference.department("JD12") == {"code": "JD12", "name": "滨河街道办事处", "kind": "street"}
    assert [e.detail["changes"] for e in audit(gridflow, "reference_department")][1] == {
        "name": {"from": "新区街道办事处", "to": "滨河街道办事处"}
    }

    reference.add_grid(admin, NEW_GRID)
    reference.change_grid(admin, "12-01", NEW_GRID | {"name": "滨河1号网格", "territory_department": "JD01"})
    assert reference.grid("12-01") == NEW_GRID | {"name": "滨河1号网格", "territory_department": "JD01"}
    assert audit(gridflow, "reference_grid")[1].detail["changes"] == {
        "name": {"from": "12网区1号网格", "to": "滨河1号网格"},
        "territory_department": {"from": "JD12", "to": "JD01"},
    }
    assert {"code": "12-01", "zone": "12", "zone_name": "第12网区（滨河新区）"}.items() <= next(
        g for g in gridflow.directory.grids() if g["code"] == "12-01"
    ).items()

    reference.add_category(admin, NEW_CATEGORY)
    changed = reference.change_category(
        admin, "SJ0604", NEW_CATEGORY | {"owner_department": "", "limit_class": "complex", "emergency": True}
    )
    assert changed == NEW_CATEGORY | {"owner_department": None, "limit_class": "complex", "emergency": True}
    assert audit(gridflow, "reference_category")[1].detail["changes"] == {
        "owner_department": {"from": "CGJ", "to": None},
        "limit_class": {"from": "normal", "to": "complex"},
        "emergency": {"from": False, "to": True},
    }

    added = reference.add_user(admin, NEW_USER)
    assert added | {"id": 0} == {
        "id": 0,
        "username": "collector12",
        "display_name": "采集员12（第12网区）",
        "department": None,
        "zone": "12",
        "roles": ["collector"],
        "active": True,
    }
    reference.change_user(
        admin, "collector12", NEW_USER | {"roles": ["collector", "leader"], "active": False, "password": ""}
    )
    created, changed_user = audit(gridflow, "reference_user")
    assert created.detail["password"] == "set" and "巡查网格-2026" not in str(created.detail)
    assert changed_user.detail == {
        "code": "collector12",
        "created": False,
        "changes": {
            "roles": {"from": ["collector"], "to": ["collector", "leader"]},
            "active": {"from": True, "to": False},
        },
    }
    with gridflow.sessions() as session:  # an empty password keeps the one there was
        assert session.scalar(select(User.password_hash).where(User.username == "collector12")) is not None
    assert gridflow.directory.authenticate("collector12", NEW_USER["password"]) is None  # inactive now

    reference.change_user(admin, "collector12", NEW_USER | {"password": "另一个口令-2027"})
    assert audit(gridflow, "reference_user")[-1].detail["password"] == "changed"
    assert gridflow.directory.authenticate("collector12", "另一个口令-2027") is not None
    assert gridflow.directory.authenticate("collector12", NEW_USER["password"]) is None


def test_a_change_that_changes_nothing_writes_no_event(gridflow: Gridflow) -> None:
    before = stored(gridflow)
    gridflow.reference.change_zone(user_id(gridflow, "admin"), "03", gridflow.reference.zone("03"))
    assert stored(gridflow) == before


def test_a_new_class_name_renames_the_whole_class(gridflow: Gridflow) -> None:
    admin = user_id(gridflow, "admin")
    sj0501 = gridflow.reference.category("SJ0501")
    gridflow.reference.change_category(admin, "SJ0501", sj0501 | {"class_name": "街面秩序管理"})
    classes = {c["code"]: c["class_name"] for c in gridflow.directory.categories() if c["code"].startswith("SJ05")}
    assert set(classes.values()) == {"街面秩序管理"} and len(classes) == 5
    assert gridflow.reference.category("BJ0501")["class_name"] == "房屋土地"  # 部件 05 is another class
    event = audit(gridflow, "reference_category")[-1]
    assert event.detail["changes"] == {"class_name": {"from": "街面秩序", "to": "街面秩序管理"}}
    assert event.detail["class_renamed_for"] == ["SJ0502", "SJ0503", "SJ0504", "SJ0505"]


def test_the_last_administrator_may_step_down_once_there_is_another(gridflow: Gridflow) -> None:
    reference = gridflow.reference
    admin = user_id(gridflow, "admin")
    reference.add_user(admin, NEW_USER | {"username": "admin2", "roles": ["admin"], "zone": ""})
    mine = reference.user("admin") | {"password": ""}
    reference.change_user(admin, "admin", mine | {"roles": ["leader"]})
    assert reference.user("admin")["roles"] == ["leader"]
    with pytest.raises(Forbidden):  # no longer an administrator
        reference.change_zone(admin, "03", {"name": "第03网区"})
    second = user_id(gridflow, "admin2")
    with pytest.raises(InvalidField) as refused:
        reference.change_user(second, "admin2", reference.user("admin2") | {"active": False})
    assert refused.value.field == "active"


def test_two_administrators_stepping_down_at_once_leave_one(
    gridflow: Gridflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both read that there is another administrator, then both step down: the second to write
    must see the first's change (PostgreSQL: it waits on the first's row locks)."""
    reference = gridflow.reference
    reference.add_user(user_id(gridflow, "admin"), NEW_USER | {"username": "admin2", "roles": ["admin"], "zone": ""})
    both_checked = threading.Barrier(2, timeout=10)
    lock = engine.office.reference.lock_administrators

    def lock_together(session: Any) -> None:
        both_checked.wait()
        lock(session)

    monkeypatch.setattr(engine.office.reference, "lock_administrators", lock_together)
    outcomes: dict[str, str] = {}

    def step_down(username: str) -> None:
        try:
            reference.change_user(user_id(gridflow, username), username, reference.user(username) | {"active": False})
            outcomes[username] = "stepped down"
        except InvalidField as refused:
            outcomes[username] = f"refused: {refused.field}"
        except OperationalError:  # SQLite: the second writer's snapshot was taken before the first committed
            outcomes[username] = "busy"

    threads = [threading.Thread(target=step_down, args=(name,)) for name in ("admin", "admin2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values())[-1] == "stepped down", outcomes
    assert sorted(outcomes.values())[0] in ("refused: active", "busy"), outcomes
    assert sum(u["active"] and "admin" in u["roles"] for u in reference.users()) == 1


def test_an_account_that_can_no_longer_do_its_claimed_tasks_gives_them_back(gridflow: Gridflow, api: Api) -> None:
    """签收 hides a shared task from the rest of its lane: an account whose role is taken away,
    or that is deactivated, must not keep it hidden."""
    reference = gridflow.reference
    admin = user_id(gridflow, "admin")
    first = api.report(user="collector03", channel="collector")["id"]  # straight to 立案 (operator's lane)
    second = api.report(user="collector03", channel="collector")["id"]
    reference.add_user(admin, USER_03 | {"username": "operator2", "roles": ["operator"], "zone": ""})
    login = api.client.post("/api/login", json={"username": "operator2", "password": USER_03["password"]})
    api._tokens["operator2"] = login.get_json()["token"]

    def claim(user: str, case_id: int) -> None:
        api.call("POST", f"/api/tasks/{api.task(user, case_id, 'register')['id']}/claim", user)

    claim("operator", first)
    claim("operator", second)
    assert not api.has_task("operator2", first) and not api.has_task("operator2", second)
    reference.change_user(admin, "operator", reference.user("operator") | {"roles": ["operator", "leader"]})
    assert not api.has_task("operator2", first)  # still an operator: keeps them
    reference.change_user(admin, "operator", reference.user("operator") | {"roles": ["leader"]})
    assert api.has_task("operator2", first) and api.has_task("operator2", second)
    event = audit(gridflow, "reference_user")[-1]
    assert event.detail["changes"] == {"roles": {"from": ["operator", "leader"], "to": ["leader"]}}
    assert len(event.detail["released_tasks"]) == 2

    register = api.task("operator2", first, "register")["id"]
    claim("operator2", first)
    reference.change_user(admin, "operator2", reference.user("operator2") | {"active": False})
    assert audit(gridflow, "reference_user")[-1].detail["released_tasks"] == [register]
    with gridflow.sessions() as session:
        assert session.get(Task, register).assignee_id is None  # type: ignore[union-attr]
    releases = [e for e in api.case(first, "leader")["history"] if e["action"] == "release"]
    assert [(e["actor"], e["detail"]["assignee"]) for e in releases] == [("admin", "operator"), ("admin", "operator2")]


def test_every_role_has_a_name_on_the_pages() -> None:
    assert list(ROLE_NAMES) == list(ROLES)


# --- refusals: each names its field and changes nothing ------------------------------------------

Command = Callable[[Gridflow, int], Any]
USER_03 = NEW_USER | {"zone": "03"}  # a zone of the demo data
REFUSALS: list[tuple[str, Command, str]] = [
    ("zone without code", lambda gf, a: gf.reference.add_zone(a, {"name": "x"}), "code"),
    ("zone code taken", lambda gf, a: gf.reference.add_zone(a, {"code": "03", "name": "x"}), "code"),
    ("zone code with a space", lambda gf, a: gf.reference.add_zone(a, {"code": "1 2", "name": "x"}), "code"),
    ("zone code too long", lambda gf, a: gf.reference.add_zone(a, {"code": "123456789", "name": "x"}), "code"),
    ("zone name too long", lambda gf, a: gf.reference.add_zone(a, {"code": "12", "name": "网" * 65}), "name"),
    ("zone name empty", lambda gf, a: gf.reference.change_zone(a, "03", {"name": "  "}), "name"),
    ("zone name not text", lambda gf, a: gf.reference.change_zone(a, "03", {"name": ["x"]}), "name"),
    ("department kind", lambda gf, a: gf.reference.add_department(a, NEW_DEPARTMENT | {"kind": "bureau"}), "kind"),
    ("department code taken", lambda gf, a: gf.reference.add_department(a, NEW_DEPARTMENT | {"code": "CGJ"}), "code"),
    (
        "street office of grids made functional",
        lambda gf, a: gf.reference.change_department(a, "JD03", {"name": "东城", "kind": "functional"}),
        "kind",
    ),
    ("grid in no zone", lambda gf, a: gf.reference.add_grid(a, NEW_GRID | {"zone": ""}), "zone"),
    ("grid in an unknown zone", lambda gf, a: gf.reference.add_grid(a, NEW_GRID | {"zone": "99"}), "zone"),
    (
        "grid of an unknown street office",
        lambda gf, a: gf.reference.add_grid(a, NEW_GRID | {"zone": "03", "territory_department": "JD99"}),
        "territory_department",
    ),
    (
        "grid of a bureau",
        lambda gf, a: gf.reference.add_grid(a, NEW_GRID | {"zone": "03", "territory_department": "CGJ"}),
        "territory_department",
    ),
    ("grid code taken", lambda gf, a: gf.reference.add_grid(a, NEW_GRID | {"code": "03-01", "zone": "03"}), "code"),
    (
        "grid moved to an unknown zone",
        lambda gf, a: gf.reference.change_grid(a, "03-01", gf.reference.grid("03-01") | {"zone": "99"}),
        "zone",
    ),
    (
        "category owned by an unknown department",
        lambda gf, a: gf.reference.add_category(a, NEW_CATEGORY | {"owner_department": "XYZ"}),
        "owner_department",
    ),
    ("category family", lambda gf, a: gf.reference.add_category(a, NEW_CATEGORY | {"family": "thing"}), "family"),
    (
        "category limit class",
        lambda gf, a: gf.reference.add_category(a, NEW_CATEGORY | {"limit_class": "slow"}),
        "limit_class",
    ),
    (
        "category emergency as text",
        lambda gf, a: gf.reference.add_category(a, NEW_CATEGORY | {"emergency": "yes"}),
        "emergency",
    ),
    (
        "category in a class of another name",
        lambda gf, a: gf.reference.add_category(a, NEW_CATEGORY | {"class_name": "其他事件"}),
        "class_name",
    ),
    ("category code taken", lambda gf, a: gf.reference.add_category(a, NEW_CATEGORY | {"code": "SJ0601"}), "code"),
    (
        "category renamed to nothing",
        lambda gf, a: gf.reference.change_category(a, "SJ0601", gf.reference.category("SJ0601") | {"name": ""}),
        "name",
    ),
    (
        "category moved to another family",
        lambda gf, a: gf.reference.change_category(a, "SJ0601", NEW_CATEGORY | {"code": "SJ0601", "family": "x"}),
        "family",
    ),
    ("zone code changed", lambda gf, a: gf.reference.change_zone(a, "03", {"code": "13", "name": "x"}), "code"),
    (
        "user renamed",
        lambda gf, a: gf.reference.change_user(a, "cgj", gf.reference.user("cgj") | {"username": "cgj2"}),
        "username",
    ),
    ("user name taken", lambda gf, a: gf.reference.add_user(a, USER_03 | {"username": "admin"}), "username"),
    ("user name with capitals", lambda gf, a: gf.reference.add_user(a, USER_03 | {"username": "Zhang"}), "username"),
    ("user without roles", lambda gf, a: gf.reference.add_user(a, USER_03 | {"roles": []}), "roles"),
    ("user with an unknown role", lambda gf, a: gf.reference.add_user(a, USER_03 | {"roles": ["king"]}), "roles"),
    (
        "user of an unknown department",
        lambda gf, a: gf.reference.add_user(a, USER_03 | {"department": "XYZ"}),
        "department",
    ),
    ("user in an unknown zone", lambda gf, a: gf.reference.add_user(a, USER_03 | {"zone": "99"}), "zone"),
    ("collector without a zone", lambda gf, a: gf.reference.add_user(a, USER_03 | {"zone": ""}), "zone"),
    (
        "handler without a department",
        lambda gf, a: gf.reference.add_user(a, USER_03 | {"roles": ["department"]}),
        "department",
    ),
    ("user without a password", lambda gf, a: gf.reference.add_user(a, USER_03 | {"password": ""}), "password"),
    ("password too short", lambda gf, a: gf.reference.add_user(a, USER_03 | {"password": "demo"}), "password"),
    ("user active as text", lambda gf, a: gf.reference.add_user(a, USER_03 | {"active": "yes"}), "active"),
    (
        "a handler's last role taken away",
        lambda gf, a: gf.reference.change_user(a, "cgj", gf.reference.user("cgj") | {"roles": []}),
        "roles",
    ),
    (
        "the last administrator deactivates himself",
        lambda gf, a: gf.reference.change_user(a, "admin", gf.reference.user("admin") | {"active": False}),
        "active",
    ),
    (
        "the last administrator gives up the role",
        lambda gf, a: gf.reference.change_user(a, "admin", gf.reference.user("admin") | {"roles": ["leader"]}),
        "roles",
    ),
    (
        "a password of spaces",
        lambda gf, a: gf.reference.change_user(a, "cgj", gf.reference.user("cgj") | {"password": " " * 8}),
        "password",
    ),
]


@pytest.mark.parametrize(("case", "command", "field"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_refusal_names_its_field_and_changes_nothing(
    gridflow: Gridflow, case: str, command: Command, field: str
) -> None:
    before = stored(gridflow)
    with pytest.raises(InvalidField) as refused:
        command(gridflow, user_id(gridflow, "admin"))
    assert refused.value.field == field, refused.value
    assert stored(gridflow) == before


def test_what_does_not_exist_is_not_found(gridflow: Gridflow) -> None:
    admin = user_id(gridflow, "admin")
    reference = gridflow.reference
    for read in (reference.zone, reference.department, reference.grid, reference.category, reference.user):
        with pytest.raises(NotFound):
            read("nothing")
    before = stored(gridflow)
    with pytest.raises(NotFound):
        gridflow.reference.change_department(admin, "NOTHING", {"name": "x", "kind": "street"})
    assert stored(gridflow) == before


@pytest.mark.parametrize("username", ["operator", "leader", "assessor", "cgj"])
def test_only_an_administrator_changes_reference_data(gridflow: Gridflow, username: str) -> None:
    before = stored(gridflow)
    with pytest.raises(Forbidden):
        gridflow.reference.add_zone(user_id(gridflow, username), NEW_ZONE)
    with pytest.raises(Forbidden):
        gridflow.reference.change_user(user_id(gridflow, username), username, NEW_USER)
    assert stored(gridflow) == before


# --- the pages ---------------------------------------------------------------------------------


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def logged_in(app: Flask, username: str, password: str = "demo") -> FlaskClient:
    client = app.test_client()
    token = csrf(client.get("/login").get_data(as_text=True))
    answer = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def post_form(client: FlaskClient, url: str, data: dict[str, Any]) -> Any:
    """Post a page's form with the token of that page, as a browser would."""
    token = csrf(client.get(url).get_data(as_text=True))
    return client.post(url, data=data | {"csrf_token": token})


# form fields as a browser posts them: an unchecked box is absent, a checked one is "true"
PAGE_FORMS: dict[str, tuple[dict[str, Any], str, dict[str, Any], dict[str, Any]]] = {
    # kind: (form to add, its code, form to change, what the change stores)
    "zones": (NEW_ZONE, "12", {"name": "滨河网区"}, {"name": "滨河网区"}),
    "departments": (NEW_DEPARTMENT, "JD12", {"name": "滨河街道", "kind": "street"}, {"name": "滨河街道"}),
    "grids": (
        NEW_GRID | {"zone": "03", "territory_department": "JD03"},
        "12-01",
        {"name": "滨河1号网格", "zone": "04", "territory_department": "JD04"},
        {"zone": "04", "territory_department": "JD04"},
    ),
    "categories": (
        {k: v for k, v in NEW_CATEGORY.items() if k != "emergency"},
        "SJ0604",
        {"class_name": "扩展事件", "name": "单车", "owner_department": "", "limit_class": "hard", "emergency": "true"},
        {"owner_department": None, "limit_class": "hard", "emergency": True},
    ),
    "users": (
        NEW_USER | {"zone": "03", "active": "true"},
        "collector12",
        {"display_name": "张三", "department": "CGJ", "zone": "", "roles": ["department", "leader"], "password": ""},
        {"display_name": "张三", "department": "CGJ", "zone": None, "roles": ["department", "leader"], "active": False},
    ),
}
SINGULAR = {"zones": "zone", "departments": "department", "grids": "grid", "categories": "category", "users": "user"}


@pytest.mark.parametrize("kind", list(PAGE_FORMS))
def test_the_pages_add_and_change_each_kind(app: Flask, gridflow: Gridflow, kind: str) -> None:
    added, code, changed, expected = PAGE_FORMS[kind]
    admin = logged_in(app, "admin")
    assert 'data-kind="calendar"' in admin.get("/admin/reference/").get_data(as_text=True)

    answer = post_form(admin, f"/admin/reference/{kind}/new", added)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    listing = admin.get(f"/admin/reference/{kind}/").get_data(as_text=True)
    assert f'id="row-{code}"' in listing
    assert len(audit(gridflow, f"reference_{SINGULAR[kind]}")) == 1

    edit = f"/admin/reference/{kind}/{code}/edit"
    page = admin.get(edit).get_data(as_text=True)
    assert f'id="fixed-{"username" if kind == "users" else "code"}"' in page  # shown, not an input
    answer = post_form(admin, edit, changed | {"code": "OTHER", "username": "other"})  # a code is not changed
    assert answer.status_code == 302, answer.get_data(as_text=True)
    row = getattr(gridflow.reference, SINGULAR[kind])(code)
    assert expected.items() <= row.items()
    events = audit(gridflow, f"reference_{SINGULAR[kind]}")
    assert len(events) == 2 and events[1].actor == "admin" and events[1].detail["code"] == code


def test_a_bad_field_is_shown_beside_it_and_nothing_is_stored(app: Flask, gridflow: Gridflow) -> None:
    admin = logged_in(app, "admin")
    before = stored(gridflow)
    refused = post_form(admin, "/admin/reference/grids/new", NEW_GRID | {"zone": "99"})
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert re.search(r'data-field="zone">.*?id="error-zone">unknown zone', text, re.S)
    assert 'value="12-01"' in text  # what was typed stays in the form
    assert stored(gridflow) == before

    refused = post_form(admin, "/admin/reference/users/new", USER_03 | {"roles": [], "active": "true"})
    assert refused.status_code == 422 and 'id="error-roles"' in refused.get_data(as_text=True)
    assert NEW_USER["password"] not in refused.get_data(as_text=True)  # a password is never sent back
    refused = post_form(admin, "/admin/reference/users/admin/edit", {"display_name": "系统管理员", "roles": ["admin"]})
    assert refused.status_code == 422 and 'id="error-active"' in refused.get_data(as_text=True)  # the last admin
    assert stored(gridflow) == before

    without_token = admin.post("/admin/reference/zones/new", data=NEW_ZONE)
    assert without_token.status_code == 400
    assert admin.get("/admin/reference/nothing/").status_code == 404
    assert admin.get("/admin/reference/zones/99/edit").status_code == 404
    assert stored(gridflow) == before


def test_the_calendar_page_adds_changes_and_removes_a_day(app: Flask, gridflow: Gridflow) -> None:
    admin = logged_in(app, "admin")
    refused = post_form(admin, "/admin/reference/calendar", {"day": "2027-02-30", "kind": "holiday", "note": ""})
    assert refused.status_code == 422 and 'id="error-day"' in refused.get_data(as_text=True)
    refused = post_form(admin, "/admin/reference/calendar", {"day": "2027-02-20", "note": ""})
    assert refused.status_code == 422 and 'id="error-kind"' in refused.get_data(as_text=True)
    assert gridflow.calendar_days.list() == []

    added = post_form(admin, "/admin/reference/calendar", {"day": "2027-02-20", "kind": "working", "note": "春节调休"})
    assert added.status_code == 302
    page = admin.get("/admin/reference/calendar").get_data(as_text=True)
    assert 'data-day="2027-02-20" data-kind="working"' in page
    assert gridflow.calendar_days.list() == [{"day": "2027-02-20", "kind": "working", "note": "春节调休"}]

    removed = admin.post("/admin/reference/calendar/2027-02-20/remove", data={"csrf_token": csrf(page)})
    assert removed.status_code == 302 and gridflow.calendar_days.list() == []
    assert [e.detail["to"] for e in audit(gridflow, "calendar_day")] == ["working", None]


def test_a_new_user_logs_in_with_the_password_set_and_sees_the_tasks_of_their_role(
    app: Flask, gridflow: Gridflow, api: Api
) -> None:
    """A new zone with a grid of its own, and its collector: a citizen's report there waits for
    him to verify it, and for nobody else's zone."""
    admin = logged_in(app, "admin")
    for kind, form in (
        ("departments", NEW_DEPARTMENT),
        ("zones", NEW_ZONE),
        ("grids", NEW_GRID),
        ("categories", NEW_CATEGORY | {"emergency": ""}),
        ("users", NEW_USER | {"active": "true"}),
    ):
        answer = post_form(admin, f"/admin/reference/{kind}/new", {k: v for k, v in form.items() if v != ""})
        assert answer.status_code == 302, (kind, answer.get_data(as_text=True))

    case = api.report(grid="12-01", category="SJ0604", channel="hotline")
    newcomer = logged_in(app, "collector12", NEW_USER["password"])
    assert case["case_no"] in newcomer.get("/").get_data(as_text=True)
    token = api.client.post("/api/login", json={"username": "collector12", "password": NEW_USER["password"]})
    assert token.status_code == 200
    api._tokens["collector12"] = token.get_json()["token"]
    assert [t["task"] for t in api.inbox("collector12") if t["case_id"] == case["id"]] == ["verify"]
    assert not api.has_task("collector03", case["id"])
    assert api.client.post("/api/login", json={"username": "collector12", "password": "demo"}).status_code == 401

    api.complete("collector12", case["id"], "verify", found=True, note="现场确认")
    assert api.case(case["id"])["status"] == "registering"


def test_a_deactivated_user_cannot_log_in_and_is_logged_out(app: Flask, gridflow: Gridflow) -> None:
    collector = logged_in(app, "collector03")
    assert collector.get("/").status_code == 200
    admin = logged_in(app, "admin")
    form = {"display_name": "采集员03（第03网区）", "zone": "03", "roles": ["collector"]}  # 启用 unchecked
    assert post_form(admin, "/admin/reference/users/collector03/edit", form).status_code == 302
    assert gridflow.reference.user("collector03")["active"] is False

    assert collector.get("/").status_code == 302  # the open session ends with the account
    client = app.test_client()
    token = csrf(client.get("/login").get_data(as_text=True))
    refused = client.post("/login", data={"username": "collector03", "password": "demo", "csrf_token": token})
    assert refused.status_code == 200 and 'id="login-error"' in refused.get_data(as_text=True)
    assert client.post("/api/login", json={"username": "collector03", "password": "demo"}).status_code == 401

    assert post_form(admin, "/admin/reference/users/collector03/edit", form | {"active": "true"}).status_code == 302
    logged_in(app, "collector03")  # active again: the same password works


@pytest.mark.parametrize("username", ["operator", "leader", "assessor", "collector01", "cgj"])
def test_anyone_but_an_administrator_gets_the_403_page(app: Flask, gridflow: Gridflow, username: str) -> None:
    before = stored(gridflow)
    client = logged_in(app, username)
    token = csrf(client.get("/report").get_data(as_text=True))
    for url in ("/admin/reference/", "/admin/reference/users/", "/admin/reference/grids/new",
                "/admin/reference/zones/03/edit", "/admin/reference/calendar"):
        answer = client.get(url)
        assert answer.status_code == 403 and 'id="forbidden"' in answer.get_data(as_text=True), url
    for url, data in (
        ("/admin/reference/zones/new", NEW_ZONE),
        ("/admin/reference/users/admin/edit", {"display_name": "x", "roles": ["admin"], "active": "true"}),
        ("/admin/reference/calendar", {"day": "2027-02-20", "kind": "holiday", "note": ""}),
    ):
        assert client.post(url, data=data | {"csrf_token": token}).status_code == 403, url
    assert stored(gridflow) == before
    anonymous = app.test_client().get("/admin/reference/users/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
