"""我的待办: the tasks of the person logged in, nearest deadline first, with traffic lights."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, g, render_template, request

from .auth import engine, login_required
from .pages import LIGHTS, time_left

bp = Blueprint("inbox", __name__)


@bp.get("/")
@login_required
def index() -> str:
    gridflow = engine()
    now = gridflow.clock.now()
    filters = {name: request.args.get(name, "").strip() for name in ("stage", "department", "grid", "category", "q")}
    everything = gridflow.inbox.tasks_for(g.user.id, limit=1000)
    stages = sorted({(t["task"], t["title"]) for t in everything})
    tasks = everything
    if any(filters.values()):
        tasks = gridflow.inbox.tasks_for(
            g.user.id,
            limit=1000,
            stage=filters["stage"] or None,
            department=filters["department"] or None,
            grid=filters["grid"] or None,
            category=filters["category"] or None,
            search=filters["q"] or None,
        )
    for task in tasks:
        task["light"] = LIGHTS.get(task["deadline_state"], "green")
        task["left"] = time_left(gridflow, task["due_at"], now)
        task["due_local"] = (
            datetime.fromisoformat(task["due_at"]).astimezone(gridflow.calendar.tz).strftime("%m-%d %H:%M")
            if task["due_at"]
            else ""
        )
    return render_template(
        "inbox/index.html",
        tasks=tasks,
        stages=stages,
        filters=filters,
        departments=gridflow.directory.departments(),
        grids=gridflow.directory.grids(),
        categories=gridflow.directory.categories(),
    )
