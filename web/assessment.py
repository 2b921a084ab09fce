"""考核: the assessment figures, quarterly ranking and bulletin, charts and exports."""
from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from flask import Blueprint, Response, g, render_template, request
from flask_babel import gettext as _
from openpyxl import Workbook

from engine import FAILS_FLAGGED, PASS_MARK, SCORE_WEIGHTS, Forbidden, InvalidField, NotFound, Period

from .auth import engine, login_required
from .pages import N_

bp = Blueprint("assessment", __name__, url_prefix="/assessment")
READERS = frozenset({"leader", "assessor", "admin"})
RATES = {"on_time_rate", "closure_rate", "rework_rate", "registered_share"}

# Each table's columns, in order, with their headings: one list serves the page and the exports.
# The page shows a heading in its language (_(heading) in the template); the exports keep Chinese.
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "departments": [
        ("department", N_("部门代码")), ("name", N_("部门")), ("dispatched", N_("派遣")), ("handled", N_("处置")),
        ("on_time_rate", N_("按期处置率")), ("closure_rate", N_("结案率")), ("rework_rate", N_("返工率")),
        ("overdue", N_("超期次数")), ("overdue_hours", N_("超期工时")), ("returned", N_("退回")),
        ("extensions_asked", N_("申请延期")), ("extensions_approved", N_("批准延期")),
        ("average_handling_hours", N_("平均处置工时")),
    ],
    "grids": [
        ("grid", N_("网格")), ("name", N_("名称")), ("reported", N_("上报")), ("registered", N_("立案")),
        ("handled", N_("处置")), ("on_time_rate", N_("按期处置率")), ("rework_rate", N_("返工率")),
        ("overdue", N_("超期次数")), ("closed", N_("结案")), ("inspected", N_("抽查次数")),
        ("inspections_failed", N_("抽查不合格")), ("problems_found", N_("抽查发现问题")),
    ],
    "collectors": [
        ("collector", N_("账号")), ("name", N_("采集员")), ("zone", N_("网区")), ("reports", N_("上报")),
        ("reports_registered", N_("立案")), ("registered_share", N_("立案率")), ("verifications", N_("核实")),
        ("checks", N_("核查")), ("late", N_("超时")),
    ],
    "weekly": [("week", N_("周（周一）")), ("reported", N_("上报")), ("closed", N_("结案"))],
    "scores": [
        ("rank", N_("名次")), ("department", N_("部门代码")), ("name", N_("部门")), ("score", N_("得分")),
        ("on_time_rate", N_("按期处置率")), ("closure_rate", N_("结案率")), ("rework_rate", N_("返工率")),
        ("returned", N_("退回")), ("dispatched", N_("派遣")), ("passed", N_("是否合格")),
    ],
}


@bp.app_context_processor
def assessment_link() -> dict[str, bool]:
    return {"reads_assessment": bool(g.get("user") and READERS & g.user.role_names)}


def _reader() -> None:
    if not READERS & g.user.role_names:
        raise Forbidden("the assessment is for leaders and the assessment office")


YEARS = range(2000, 2101)  # beyond these a period is a typing error, and year 1 overflows UTC
LONGEST_RANGE_DAYS = 3 * 366


def period_from(args: Any, today: date) -> Period:
    """month=YYYY-MM, quarter=YYYY-Qn, or start/end (YYYY-MM-DD, end inclusive); default: this month."""
    period = _parse_period(args, today)
    field = "start" if args.get("start") or args.get("end") else "quarter" if args.get("quarter") else "month"
    if period.start.year not in YEARS or period.end.year - 1 not in YEARS:
        raise InvalidField(field, f"must lie in the years {YEARS.start} to {YEARS.stop - 1}")
    if (period.end - period.start).days > LONGEST_RANGE_DAYS:
        raise InvalidField("end", "a range may cover at most three years")
    return period


def _parse_period(args: Any, today: date) -> Period:
    try:
        if args.get("start") or args.get("end"):
            start = date.fromisoformat(args.get("start", ""))
            last = date.fromisoformat(args.get("end", ""))
            if last < start:
                raise InvalidField("end", "must not be before start")
            return Period(start, date.fromordinal(last.toordinal() + 1))
        if args.get("quarter"):
            year, quarter = args["quarter"].upper().split("-Q")
            if quarter not in ("1", "2", "3", "4"):
                raise ValueError
            return Period.quarter(int(year), int(quarter))
        year, month = (args.get("month") or f"{today.year}-{today.month:02d}").split("-")
        if not 1 <= int(month) <= 12:
            raise ValueError
        return Period.month(int(year), int(month))
    except ValueError as exc:
        field = "start" if args.get("start") or args.get("end") else "quarter" if args.get("quarter") else "month"
        raise InvalidField(field, "write a month as 2026-11, a quarter as 2026-Q4, a day as 2026-11-25") from exc


def _today() -> date:
    """The office's date now (the period a page opens on)."""
    return engine().clock.now().astimezone(engine().calendar.tz).date()


def _tables(period: Period) -> dict[str, list[dict[str, Any]]]:
    gridflow = engine()
    inspections = gridflow.sampling.inspections(period.start, period.end)
    return {
        "departments": gridflow.assessment.departments(period),
        "grids": gridflow.assessment.grids(period, inspections),
        "collectors": gridflow.assessment.collectors(period),
        "weekly": gridflow.assessment.weekly(period),
    }


@bp.get("/")
@login_required
def index() -> str | tuple[str, int]:
    _reader()
    today = _today()
    try:
        period = period_from(request.args, today)
    except InvalidField as error:
        return render_template("assessment/index.html", error=error, args=request.args, columns=COLUMNS), 400
    tables = _tables(period)
    departments = [d for d in tables["departments"] if d["dispatched"] or d["handled"]]
    return render_template(
        "assessment/index.html",
        error=None,
        args=request.args,
        period=period,
        columns=COLUMNS,
        tables=tables,
        rates=RATES,
        charts={
            "weeks": [w["week"] for w in tables["weekly"]],
            "reported": [w["reported"] for w in tables["weekly"]],
            "closed": [w["closed"] for w in tables["weekly"]],
            "departments": [d["name"] for d in departments],
            "on_time": [None if d["on_time_rate"] is None else round(100 * d["on_time_rate"], 1) for d in departments],
            "grid_heat": [[int(grid["grid"][3:]) - 1, int(grid["grid"][:2]) - 1, grid["reported"]]
                          for grid in tables["grids"] if _is_zone_grid(grid["grid"])],
        },
    )


def _is_zone_grid(code: str) -> bool:
    """Grid codes are zone-number, e.g. 03-02: the heat table lays them out zone by number."""
    zone, _, number = code.partition("-")
    return zone.isdigit() and number.isdigit()


@bp.get("/bulletin")
@login_required
def bulletin() -> str | tuple[str, int]:
    _reader()
    today = _today()
    quarter_text = request.args.get("quarter") or f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    try:
        period = period_from({"quarter": quarter_text}, today)
    except InvalidField as error:
        return render_template("assessment/bulletin.html", error=error, quarter=quarter_text), 400
    year, quarter = period.start.year, (period.start.month - 1) // 3 + 1
    return render_template(
        "assessment/bulletin.html",
        error=None,
        quarter=quarter_text,
        year=year,
        number=quarter,
        scores=engine().assessment.quarterly_scores(year, quarter),
        flagged=engine().assessment.flagged_units(year, through_quarter=quarter),
        columns=COLUMNS["scores"],
        rates=RATES,
        weights=SCORE_WEIGHTS,
        pass_mark=PASS_MARK,
        fails_flagged=FAILS_FLAGGED,
    )


@bp.get("/export/<table>.<kind>")
@login_required
def export(table: str, kind: str) -> Response:
    _reader()
    if table not in COLUMNS or kind not in ("csv", "xlsx"):
        raise NotFound(f"no export {table}.{kind}")
    today = _today()
    if table == "scores":
        quarter_text = request.args.get("quarter") or f"{today.year}-Q{(today.month - 1) // 3 + 1}"
        period = period_from({"quarter": quarter_text}, today)
        year, quarter = period.start.year, (period.start.month - 1) // 3 + 1
        rows = engine().assessment.quarterly_scores(year, quarter)
        name = f"scores-{year}-Q{quarter}"
    else:
        period = period_from(request.args, today)
        rows = _tables(period)[table]
        name = f"{table}-{period.start.isoformat()}-{period.end.isoformat()}"
    headings = [label for _, label in COLUMNS[table]]
    values = [[inert_cell(row.get(key)) for key, _ in COLUMNS[table]] for row in rows]
    if kind == "csv":
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(headings)
        writer.writerows(values)
        # A byte-order mark so that Excel opens the Chinese headings as UTF-8.
        body = ("\ufeff" + text.getvalue()).encode("utf-8")
        mimetype = "text/csv; charset=utf-8"
    else:
        book = Workbook()
        sheet = book.active
        sheet.title = table
        sheet.append(headings)
        for row in values:
            sheet.append(row)
        out = io.BytesIO()
        book.save(out)
        body = out.getvalue()
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={name}.{kind}"})


# What makes a spreadsheet read a cell as a formula (OWASP's CSV injection list): a department
# named '=HYPERLINK("http://evil.example","x")' would become a live link in the assessor's Excel.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert_cell(value: Any) -> Any:
    """A cell both exports write: text that a spreadsheet would run as a formula gets a leading
    apostrophe, and shows as the text it is; numbers (negative ones too) stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@bp.errorhandler(InvalidField)
def bad_period(error: InvalidField) -> tuple[dict[str, str], int]:
    return {"field": error.field, "error": error.reason}, 400


@bp.app_template_filter("figure")
def figure(value: Any, key: str = "") -> str:
    """A cell of a figures table: rates as percentages, nothing to count as a dash."""
    if value is None:
        return "—"
    if key in RATES:
        return f"{100 * value:.1f}%"
    if isinstance(value, bool):
        return _("合格") if value else _("不合格")
    return str(value)
