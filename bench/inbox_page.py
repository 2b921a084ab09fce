"""Inbox page benchmark: prints how long 我的待办 takes to render with many open tasks.

    python bench/inbox_page.py [--tasks 1000] [--rounds 20]

Reports --tasks collector cases (each waits in the operator's register task), then times the
whole GET / of the operator's inbox through Flask: the query on the projected task rows,
working time left for each task, and the Jinja page.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from engine import User  # noqa: E402
from web import create_app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gridflow-inbox-"))
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{folder / 'inbox.db'}",
            "SECRET_KEY": "bench",
            "INSTANCE_PATH": str(folder / "instance"),
            "WTF_CSRF_ENABLED": False,
        }
    )
    gridflow = app.extensions["gridflow"]
    gridflow.init(demo=True)
    with gridflow.sessions() as session:
        collector = session.scalar(select(User.id).where(User.username == "collector03"))
    started = time.perf_counter()
    for number in range(args.tasks):
        gridflow.runtime.report_case(
            collector,
            {
                "category": "BJ0101",
                "grid": "03-01",
                "description": f"基准测试 {number}",
                "address": f"解放路 {number} 号",
                "urgency": "normal",
                "channel": "collector",
            },
        )
    print(f"reported {args.tasks:,} cases in {time.perf_counter() - started:.1f} s")

    client = app.test_client()
    client.post("/login", data={"username": "operator", "password": "demo"})
    timings = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        answer = client.get("/")
        timings.append(time.perf_counter() - started)
        assert answer.status_code == 200 and answer.data.count(b'class="task"') == args.tasks
    timings.sort()
    p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
    print(f"inbox page with {args.tasks:,} tasks: p50 {statistics.median(timings) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms, {len(answer.data) / 1024:.0f} KB of HTML")


if __name__ == "__main__":
    main()
