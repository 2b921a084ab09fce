"""每月网格抽查: the monthly random draw of grids and the inspection result per grid."""
from __future__ import annotations

import inspect
from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from engine import ASSESSORS, Conflict, InvalidField, draw_grids

from .auth import engine, login_required
from .pages import send_photo

bp = Blueprint("sampling", __name__, url_prefix="/assessment/sampling")

# The draw exactly as the engine runs it, printed beside a verification so that anyone can re-run
# it with Python alone: its own source, so the printed method can never drift from the real one.
DRAW_METHOD = "import random\nfrom collections.abc import Sequence\n\n" + inspect.getsource(draw_grids)


@bp.get("/")
@login_required
def index() -> str:
    return _index_page()


@bp.post("/draw")
@login_required
def draw() -> ResponseReturnValue:
    """抽取本月网格: this month's draw, with the seed typed in or a fresh random one."""
    sampling = engine().sampling
    seed_text = request.form.get("seed", "").strip()
    try:
        drawn = sampling.draw(sampling.current_month(), g.user.id, seed=_seed(seed_text))
    except InvalidField as error:
        return _index_page(values={"seed": seed_text}, errors={error.field: error.reason}), 422
    except Conflict as error:
        flash(_("本月已抽取，不能再次抽取：") + str(error))
        return redirect(url_for("sampling.index"))
    flash(_("已抽取 %(month)s 的 %(count)d 个网格", month=drawn["month"], count=drawn["count"]))
    return redirect(url_for("sampling.index", _anchor=f"draw-{drawn['month']}"))


@bp.get("/<month>/verify")
@login_required
def verify(month: str) -> str:
    """重新抽取核验: re-do the month's draw from its seed and show whether it gives the same grids."""
    return _index_page(verification=engine().sampling.redraw(month, g.user.id))


@bp.route("/<month>/grids/<grid>", methods=["GET", "POST"])
@login_required
def inspection(month: str, grid: str) -> ResponseReturnValue:
    """The inspection of one drawn grid: the form while it is not recorded, the record after."""
    gridflow = engine()
    drawn = gridflow.sampling.draw_of(month, g.user.id)
    if grid not in drawn["grids"]:
        abort(404)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = request.form.to_dict()
        photos = [f.read() for f in request.files.getlist("photos") if f.filename]
        try:
            gridflow.sampling.record_inspection(
                month,
                grid,
                g.user.id,
                passed={"true": True, "false": False}.get(values.get("passed", ""), values.get("passed")),
                problems=_whole_number(values.get("problems", "")),
                notes=values.get("notes", ""),
                photos=photos,
            )
        except InvalidField as error:
            errors[error.field] = error.reason
        except Conflict as error:
            flash(_("该网格已有检查结果，不能重复录入：") + str(error))
            return redirect(url_for("sampling.inspection", month=month, grid=grid))
        else:
            flash(_("已记录网格 %(grid)s 的检查结果", grid=grid))
            return redirect(url_for("sampling.index", _anchor=f"draw-{month}"))
    page = render_template(
        "sampling/inspection.html",
        draw=drawn,
        grid=_grid_names().get(grid, {"code": grid}),
        inspection=drawn["inspections"].get(grid),
        may_record=_may_record(),
        values=values,
        errors=errors,
    )
    return (page, 422) if errors else page


@bp.get("/photos/<sha256>")
@login_required
def photo(sha256: str) -> Response:
    gridflow = engine()
    digest, content_type = gridflow.sampling.photo(sha256, g.user.id)
    return send_photo(gridflow.photos.path(digest), content_type)


def _index_page(
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    verification: dict[str, Any] | None = None,
) -> str:
    sampling = engine().sampling
    draws = sampling.draws(g.user.id)  # first: a person who may not read the sampling gets 403
    month = sampling.current_month()
    return render_template(
        "sampling/index.html",
        draws=draws,
        month=month,
        drawn_this_month=any(d["month"] == month for d in draws),
        default_count=sampling.default_count,
        grid_names=_grid_names(),
        may_record=_may_record(),
        verification=verification,
        draw_method=DRAW_METHOD,
        values=values or {},
        errors=errors or {},
    )


def _grid_names() -> dict[str, dict[str, Any]]:
    return {grid["code"]: grid for grid in engine().directory.grids()}


def _may_record() -> bool:
    return bool(ASSESSORS & g.user.role_names)


def _seed(text: str) -> int | None:
    """An empty field asks the engine for a random seed; anything else must be a whole number."""
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidField("seed", "must be a whole number") from None


def _whole_number(text: str) -> Any:
    """Form posts are strings; a number becomes an int and anything else goes to the engine as
    it is, so that the engine's check names the field."""
    try:
        return int(text.strip())
    except ValueError:
        return text.strip() or None
