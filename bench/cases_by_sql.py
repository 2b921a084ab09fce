"""Copies of one real case made with SQL, for benchmarks that need many cases quickly: each
copy is a case of its own (case row, workflow state, task and timer rows), as the engine made it."""
from __future__ import annotations

from sqlalchemy import text

from engine import Gridflow

# The case row's columns, in the order the copies' SELECTs give them.
CASE_COLUMNS = (
    "id, case_no, process_version_id, status, category_code, grid_code, zone_code, department_code, address, "
    "description, urgency, channel, reporter_id, created_at, updated_at, closed_at, version"
)
# The rows n(1) ... n(:copies) that each copy is made from.
NUMBERS = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :copies) "


def copy_case(gridflow: Gridflow, template: int, copies: int) -> None:
    """Copies of one case, each a case of its own (case row, workflow state, task and timer rows)."""
    numbers = NUMBERS
    with gridflow.db.begin() as db:
        base = db.execute(text('SELECT max(id) FROM "case"')).scalar_one()
        db.execute(
            text(
                numbers
                + f'INSERT INTO "case" ({CASE_COLUMNS}) '
                "SELECT :base + n.i, c.case_no || '-' || n.i, c.process_version_id, c.status, c.category_code, "
                "c.grid_code, c.zone_code, c.department_code, c.address, c.description, c.urgency, c.channel, "
                'c.reporter_id, c.created_at, c.updated_at, c.closed_at, c.version FROM "case" c, n WHERE c.id = :t'
            ),
            {"copies": copies, "base": base, "t": template},
        )
        db.execute(
            text(
                numbers + "INSERT INTO case_workflow (case_id, state) "
                "SELECT :base + n.i, w.state FROM case_workflow w, n WHERE w.case_id = :t"
            ),
            {"copies": copies, "base": base, "t": template},
        )
        db.execute(
            text(
                numbers + "INSERT INTO task (case_id, spiff_task_id, task, title, role, department_code, zone_code, "
                "assignee_id, state, deadline_state, created_at, due_at, completed_at, completed_by) "
                "SELECT :base + n.i, spiff_task_id, task, title, role, department_code, zone_code, assignee_id, "
                "state, deadline_state, created_at, due_at, completed_at, completed_by FROM task, n WHERE case_id = :t"
            ),
            {"copies": copies, "base": base, "t": template},
        )
        db.execute(
            text(
                numbers + "INSERT INTO timer (case_id, spiff_task_id, event, kind, attached_task, due_at, state, "
                "fired_count, fired_at) SELECT :base + n.i, spiff_task_id, event, kind, attached_task, due_at, "
                "state, fired_count, fired_at FROM timer, n WHERE case_id = :t"
            ),
            {"copies": copies, "base": base, "t": template},
        )
