"""基础数据: zones, grids, departments, categories, users and their roles, calendar days.

For administrators only. Each kind of row has a list, an add page and a change page, all drawn
from one description of its fields (KINDS); the engine's ReferenceData checks and stores, and a
bad field comes back beside it with nothing stored."""
from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from engine import ADMINISTRATOR, Forbidden, Gridflow, InvalidField, NotFound

from .auth import engine, login_required, remember
from .pages import ROLE_NAMES

bp = Blueprint("admin_reference", __name__, url_prefix="/admin/reference")

DEPARTMENT_KINDS = {"functional": _l("职能部门"), "street": _l("街道/镇")}
FAMILIES = {"component": _l("部件"), "event": _l("事件")}
LIMIT_CLASSES = {"normal": _l("一般"), "complex": _l("复杂"), "hard": _l("疑难")}
DAY_KINDS = {"holiday": _l("节假日（休息）"), "working": _l("调休上班")}

Choices = Callable[[Gridflow], dict[str, Any]]


@dataclass(frozen=True)
class Field:
    name: str  # the engine's field name, the form's input name and the key of the row
    label: Any
    input: str = "text"  # text | select | radio | checkbox | checkboxes | password
    choices: Choices | None = None
    required: bool = False
    fixed: bool = False  # the code: typed once when adding, never changed
    hint: Any = None


@dataclass(frozen=True)
class Kind:
    """One kind of reference row and the engine calls that read and change it."""

    name: str  # in the URL: /admin/reference/<name>/
    title: Any
    singular: str  # ReferenceData's add_<singular>, change_<singular>, <singular>(code)
    fields: tuple[Field, ...]
    rows: Callable[[Gridflow], list[dict[str, Any]]]

    @property
    def key(self) -> str:
        return self.fields[0].name

    def shown(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.input != "password")


def _zones(gridflow: Gridflow) -> dict[str, Any]:
    return {z["code"]: f"{z['code']} {z['name']}" for z in gridflow.reference.zones()}


def _departments(gridflow: Gridflow) -> dict[str, Any]:
    return {d["code"]: f"{d['code']} {d['name']}" for d in gridflow.directory.departments()}


def _streets(gridflow: Gridflow) -> dict[str, Any]:
    return {d["code"]: f"{d['code']} {d['name']}" for d in gridflow.directory.departments() if d["kind"] == "street"}


def _fixed(choices: dict[str, Any]) -> Choices:
    return lambda gridflow: choices


CODE = Field("code", _l("编码"), required=True, fixed=True, hint=_l("创建后不可修改"))
NAME = Field("name", _l("名称"), required=True)
KINDS = {
    kind.name: kind
    for kind in (
        Kind("zones", _l("网区"), "zone", (CODE, NAME), lambda gridflow: gridflow.reference.zones()),
        Kind(
            "grids",
            _l("网格"),
            "grid",
            (
                CODE,
                NAME,
                Field("zone", _l("所属网区"), "select", _zones, required=True),
                Field("territory_department", _l("属地街道"), "select", _streets, required=True),
            ),
            lambda gridflow: gridflow.directory.grids(),
        ),
        Kind(
            "departments",
            _l("部门"),
            "department",
            (CODE, NAME, Field("kind", _l("类型"), "radio", _fixed(DEPARTMENT_KINDS), required=True)),
            lambda gridflow: gridflow.directory.departments(),
        ),
        Kind(
            "categories",
            _l("案件类别"),
            "category",
            (
                CODE,
                Field("family", _l("大类"), "radio", _fixed(FAMILIES), required=True, fixed=True),
                Field("class_code", _l("小类编码"), required=True, fixed=True),
                Field("class_name", _l("小类名称"), required=True, hint=_l("修改后该小类的所有类别一起改名")),
                Field("name", _l("子类名称"), required=True),
                Field(
                    "owner_department",
                    _l("权属部门"),
                    "select",
                    _departments,
                    hint=_l("不选则按属地派遣给网格所在街道"),
                ),
                Field("limit_class", _l("时限类别"), "radio", _fixed(LIMIT_CLASSES), required=True),
                Field("emergency", _l("突发事件（按自然时间计时）"), "checkbox"),
            ),
            lambda gridflow: gridflow.directory.categories(),
        ),
        Kind(
            "users",
            _l("账号"),
            "user",
            (
                Field("username", _l("用户名"), required=True, fixed=True, hint=_l("创建后不可修改")),
                Field("display_name", _l("姓名"), required=True),
                Field("department", _l("部门"), "select", _departments, hint=_l("处置部门角色必填")),
                Field("zone", _l("网区"), "select", _zones, hint=_l("信息采集员角色必填")),
                Field("roles", _l("角色"), "checkboxes", _fixed(ROLE_NAMES), required=True),
                Field("active", _l("启用"), "checkbox", hint=_l("停用后该账号不能登录")),
                Field("password", _l("密码"), "password", hint=_l("至少 8 个字符；修改时留空则不修改")),
            ),
            lambda gridflow: gridflow.reference.users(),
        ),
    )
}


@bp.before_request
def administrators_only() -> ResponseReturnValue | None:
    if g.user is None:
        return redirect(url_for("auth.login", next=request.path))
    if ADMINISTRATOR not in g.user.role_names:
        raise Forbidden("only an administrator manages the reference data")
    return None


@bp.get("/")
@login_required
def index() -> str:
    gridflow = engine()
    counts = {kind.name: len(kind.rows(gridflow)) for kind in KINDS.values()}
    return render_template(
        "admin/reference/index.html", kinds=KINDS, counts=counts, days=len(gridflow.calendar_days.list())
    )


@bp.get("/<kind_name>/")
@login_required
def rows(kind_name: str) -> str:
    kind = _kind(kind_name)
    gridflow = engine()
    return render_template(
        "admin/reference/list.html", kinds=KINDS, kind=kind, rows=kind.rows(gridflow), choices=_choices(kind)
    )


@bp.route("/<kind_name>/new", methods=["GET", "POST"])
@login_required
def add(kind_name: str) -> ResponseReturnValue:
    kind = _kind(kind_name)
    values: dict[str, Any] = {"active": True, "emergency": False, "roles": []}
    if request.method == "POST":
        values = _submitted(kind, adding=True)
        try:
            row = getattr(engine().reference, f"add_{kind.singular}")(g.user.id, values)
        except InvalidField as error:
            return _form_page(kind, None, values, {error.field: error.reason}), 422
        flash(_("已新增%(kind)s：%(code)s", kind=kind.title, code=row[kind.key]))
        return redirect(url_for("admin_reference.rows", kind_name=kind.name, _anchor=f"row-{row[kind.key]}"))
    return _form_page(kind, None, values, {})


@bp.route("/<kind_name>/<code>/edit", methods=["GET", "POST"])
@login_required
def change(kind_name: str, code: str) -> ResponseReturnValue:
    kind = _kind(kind_name)
    reference = engine().reference
    stored = getattr(reference, kind.singular)(code)  # 404 for a code that does not exist
    values = stored
    if request.method == "POST":
        values = stored | _submitted(kind, adding=False)
        try:
            row = getattr(reference, f"change_{kind.singular}")(g.user.id, code, values)
        except InvalidField as error:
            return _form_page(kind, code, values, {error.field: error.reason}), 422
        if kind.name == "users" and code == g.user.username:
            # A new password of one's own ends one's other sessions and tokens, not this one
            # (deactivating oneself ends this one too).
            with suppress(NotFound):
                remember(engine().directory.user(g.user.id))
        flash(_("已保存%(kind)s：%(code)s", kind=kind.title, code=row[kind.key]))
        return redirect(url_for("admin_reference.rows", kind_name=kind.name, _anchor=f"row-{row[kind.key]}"))
    return _form_page(kind, code, values, {})


@bp.route("/calendar", methods=["GET", "POST"])
@login_required
def calendar() -> ResponseReturnValue:
    """节假日调整: the extra holidays and working days the holiday package does not know yet."""
    values: dict[str, Any] = {"kind": "holiday"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {name: request.form.get(name, "") for name in ("day", "kind", "note")}
        try:
            day = engine().calendar_days.set(values["day"], values["kind"], values["note"], g.user.username)
        except InvalidField as error:
            errors[error.field] = error.reason
        else:
            flash(_("已保存日期 %(day)s", day=day["day"]))
            return redirect(url_for("admin_reference.calendar", _anchor=f"day-{day['day']}"))
    page = render_template(
        "admin/reference/calendar.html",
        kinds=KINDS,
        days=engine().calendar_days.list(),
        day_kinds=DAY_KINDS,
        values=values,
        errors=errors,
    )
    return (page, 422) if errors else page


@bp.post("/calendar/<day>/remove")
@login_required
def remove_day(day: str) -> ResponseReturnValue:
    engine().calendar_days.remove(day, g.user.username)  # 404 for a day not in the table
    flash(_("已删除日期 %(day)s", day=day))
    return redirect(url_for("admin_reference.calendar"))


def _kind(name: str) -> Kind:
    if name not in KINDS:
        abort(404)
    return KINDS[name]


def _choices(kind: Kind) -> dict[str, dict[str, Any]]:
    gridflow = engine()
    return {f.name: f.choices(gridflow) for f in kind.fields if f.choices is not None}


def _submitted(kind: Kind, adding: bool) -> dict[str, Any]:
    """The form as the engine takes it: text as typed, a box as true or false, roles as a list.
    The code of a row being changed is the URL's, never the form's."""
    values: dict[str, Any] = {}
    for field in kind.fields:
        if field.fixed and not adding:
            continue
        if field.input == "checkbox":
            values[field.name] = request.form.get(field.name) == "true"
        elif field.input == "checkboxes":
            values[field.name] = request.form.getlist(field.name)
        else:
            values[field.name] = request.form.get(field.name, "")
    return values


def _form_page(kind: Kind, code: str | None, values: dict[str, Any], errors: dict[str, str]) -> str:
    return render_template(
        "admin/reference/edit.html",
        kinds=KINDS,
        kind=kind,
        code=code,
        values=values,
        errors=errors,
        choices=_choices(kind),
        unplaced={name: reason for name, reason in errors.items() if name not in {f.name for f in kind.fields}},
    )
