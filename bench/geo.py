"""The map's benchmark (issue 15): prints figures for the README.

    python bench/geo.py [--side 100] [--components 1000000] [--postgres URL]

- point -> grid p95 with side x side grids (a lattice of 100 m squares written as rows, then the
  outlines' version bumped as GridMap.apply does), and the time the first call takes to build
  the process's STRtree; target p95 <= 1 ms;
- importing --components components from a generated CSV file through
  gridflow.components.import_csv: seconds and the process's peak RSS; target <= 5 min;
- the nearest component of a subtype p95 among them, on SQLite (and on PostgreSQL with
  --postgres, an empty database), target <= 10 ms;
- open cases in a bounding box with --open-cases in view (one page of 5000, and all pages),
  target p95 <= 300 ms.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # cases_by_sql

from sqlalchemy import bindparam, insert, select, update  # noqa: E402

from engine import Gridflow, ManualClock, Settings, User, tables  # noqa: E402

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # a Wednesday, 09:00 in Beijing
ORIGIN = (118.70, 35.30)  # (lon, lat): north-west corner of the benchmark's city, west of the demo town
CELL = 0.001  # degrees: about 90 m east-west, 111 m north-south
CITY = 0.18  # degrees: the components spread over about 16 x 20 km
SAMPLES = 2000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def engine_at(url: str) -> Gridflow:
    gridflow = Gridflow(Settings(url, clock=ManualClock(NOW)))
    gridflow.init(demo=True)
    return gridflow


def user_id(gridflow: Gridflow, username: str) -> int:
    with gridflow.sessions() as session:
        found = session.scalar(select(User.id).where(User.username == username))
        assert found is not None
        return found


# --- point -> grid -------------------------------------------------------------------------------


def lattice(gridflow: Gridflow, side: int) -> None:
    """side x side square grids as rows (zone 01), then the outlines' version bumped."""
    rows = []
    for row in range(side):
        for column in range(side):
            west, north = ORIGIN[0] + column * CELL, ORIGIN[1] - row * CELL
            east, south = west + CELL, north - CELL
            ring = [[west, north], [east, north], [east, south], [west, south], [west, north]]
            rows.append({
                "code": f"L{row:03d}-{column:03d}", "name": f"格{row}-{column}", "zone_code": "01",
                "territory_department_code": "JD01",
                "outline": json.dumps({"type": "Polygon", "coordinates": [ring]}, separators=(",", ":")),
                "min_lon": west, "min_lat": south, "max_lon": east, "max_lat": north,
            })
    with gridflow.sessions.begin() as session:
        for start in range(0, len(rows), 5000):
            session.execute(insert(tables.Grid), rows[start:start + 5000])
        session.execute(
            update(tables.ReferenceVersion)
            .where(tables.ReferenceVersion.kind == "grid_outlines")
            .values(version=tables.ReferenceVersion.version + 1)
        )


def point_to_grid(gridflow: Gridflow, side: int) -> tuple[float, float, int]:
    """(first call with the tree built, p95 of one call, grids found of SAMPLES)."""
    lattice(gridflow, side)
    chance = random.Random(15)
    span = side * CELL
    points = [(ORIGIN[0] + chance.random() * span, ORIGIN[1] - chance.random() * span) for _ in range(SAMPLES)]
    timings, found = [], 0
    with gridflow.sessions() as session:
        started = time.perf_counter()
        gridflow.grids.grid_at(session, *points[0])
        first = time.perf_counter() - started
        for lon, lat in points:
            started = time.perf_counter()
            code = gridflow.grids.grid_at(session, lon, lat)
            timings.append(time.perf_counter() - started)
            found += code is not None
    return first, percentile(timings, 0.95), found


# --- the census: import and nearest --------------------------------------------------------------


def census_csv(path: Path, count: int, categories: list[str]) -> None:
    chance = random.Random(1)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["code", "category", "owner", "state", "x", "y"])
        for number in range(count):
            lon = ORIGIN[0] + chance.random() * CITY
            lat = ORIGIN[1] - chance.random() * CITY
            writer.writerow([f"C{number:08d}", categories[number % len(categories)], "", "normal",
                             f"{lon:.6f}", f"{lat:.6f}"])


def import_census(gridflow: Gridflow, path: Path) -> tuple[float, int, int]:
    """(seconds, imported, refused) of one import_csv of the file."""
    admin = user_id(gridflow, "admin")
    started = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as lines:
        report = gridflow.components.import_csv(admin, lines)
    return time.perf_counter() - started, report.imported, report.refused_count


def insert_directly(gridflow: Gridflow, path: Path) -> None:
    """The CSV's rows inserted with no checks, for measuring nearest() when the import fails."""
    with path.open(encoding="utf-8", newline="") as lines, gridflow.sessions.begin() as session:
        batch = []
        for row in csv.DictReader(lines):
            batch.append({"code": row["code"], "category_code": row["category"], "owner_department_code": None,
                          "state": "normal", "lon": float(row["x"]), "lat": float(row["y"]), "note": ""})
            if len(batch) == 5000:
                session.execute(insert(tables.Component), batch)
                batch = []
        if batch:
            session.execute(insert(tables.Component), batch)


def nearest(gridflow: Gridflow, categories: list[str]) -> tuple[float, float, int]:
    """(p50, p95 of one nearest(), hits of SAMPLES) at random points of the city, 30 m."""
    chance = random.Random(2)
    timings, hits = [], 0
    for number in range(SAMPLES):
        lon = ORIGIN[0] + chance.random() * CITY
        lat = ORIGIN[1] - chance.random() * CITY
        started = time.perf_counter()
        found = gridflow.components.nearest(categories[number % len(categories)], lon, lat)
        timings.append(time.perf_counter() - started)
        hits += found is not None
    return percentile(timings, 0.5), percentile(timings, 0.95), hits


def explain_nearest(gridflow: Gridflow) -> str:
    """SQLite's plan of the box query nearest() runs."""
    if gridflow.db.dialect.name != "sqlite":
        return ""
    lat, lon, d = ORIGIN[1] - CITY / 2, ORIGIN[0] + CITY / 2, 0.0003
    sql = (
        "EXPLAIN QUERY PLAN SELECT * FROM component WHERE lat BETWEEN ? AND ? AND lon BETWEEN ? AND ? "
        "AND state != 'removed' AND category_code = ?"
    )
    with gridflow.db.connect() as connection:
        rows = connection.exec_driver_sql(sql, (lat - d, lat + d, lon - d, lon + d, "BJ0101")).all()
    return "; ".join(str(row[-1]) for row in rows)


def census(name: str, gridflow: Gridflow, path: Path, count: int, categories: list[str]) -> None:
    before = rss_mb()
    try:
        seconds, imported, refused = import_census(gridflow, path)
    except TypeError as exc:  # engine/geo/components.py at 20113d4: dict() of a Result, which has keys()
        print(f"import_csv FAILED on {name}: {exc!r}; the components are inserted directly to measure nearest")
        insert_directly(gridflow, path)
        imported = count
    else:
            print(f"import of {count:,} components (CSV, import_csv) on {name}: {seconds:.1f} s "
              f"({imported / seconds:,.0f} rows/s), {imported:,} imported, {refused} refused; "
              f"peak RSS {before:.0f} MB before, {rss_mb():.0f} MB after (target <= 300 s)")
    p50, p95, hits = nearest(gridflow, categories)
    print(f"nearest component (30 m, one subtype of {len(categories)}) among {imported:,} on {name}: "
          f"p50 {p50 * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms, {hits} of {SAMPLES} found one (target p95 <= 10 ms)")
    plan = explain_nearest(gridflow)
    if plan:
        print(f"  SQLite plan of its box query: {plan}")


def open_cases_in_a_box(open_cases: int, rounds: int = 20) -> None:
    """`open_cases` copies of a case in 处置, spread over the demo town, all in view: the map's
    query as the operator (every case) and as a street office (its own), one page of 5000 and
    every page until all are read."""
    from cases_by_sql import copy_case

    folder = Path(tempfile.mkdtemp(prefix="gridflow-geo-box-"))
    gridflow = engine_at(f"sqlite:///{folder / 'box.db'}")
    operator, dispatcher = user_id(gridflow, "operator"), user_id(gridflow, "dispatcher")
    template = gridflow.runtime.report_case(operator, {
        "category": "SJ0502", "description": "店外经营", "address": "人民路", "urgency": "normal",
        "channel": "hotline", "lat": 35.1700, "long": 118.8300,
    })
    for user, task, fields in (("collector", "verify", {"found": True, "note": "属实"}),
                               ("operator", "register", {"decision": "register"}),
                               ("dispatcher", "dispatch", {"department": "JD03"})):
        who = dispatcher if user == "dispatcher" else operator if user == "operator" else None
        if who is None:
            zone = gridflow.cases.case(template, operator)["grid"]["zone"]
            who = user_id(gridflow, f"collector{zone}")
        row = next(t for t in gridflow.inbox.tasks_for(who) if t["case_id"] == template and t["task"] == task)
        gridflow.runtime.complete_task(who, row["id"], fields)
    copy_case(gridflow, template, open_cases - 1)
    with gridflow.db.begin() as db:
        rows = db.execute(select(tables.Case.id)).scalars().all()
        spread = random.Random(15)
        case = tables.Case
        place = update(case).where(case.id == bindparam("case_id")).values(lat=bindparam("y"), lon=bindparam("x"))
        db.execute(place, [
            {"case_id": case_id, "y": 35.158 + spread.random() * 0.020, "x": 118.819 + spread.random() * 0.028}
            for case_id in rows
        ])
    town = (118.818, 35.157, 118.848, 35.179)
    handler = user_id(gridflow, "jd03")
    for who, name in ((operator, "operator (every case)"), (handler, "a street office (its own)")):
        first_page, everything = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            page = gridflow.case_map.cases(who, town, limit=5000)
            first_page.append(time.perf_counter() - started)
            offset = len(page["features"])
            while offset < page["total"]:
                offset += len(gridflow.case_map.cases(who, town, limit=5000, offset=offset)["features"])
            everything.append(time.perf_counter() - started)
        one, every = percentile(first_page, 0.95) * 1000, percentile(everything, 0.95) * 1000
        print(f"open cases in a box, {open_cases:,} in view on SQLite, as {name}: one page of 5000 p95 "
              f"{one:.0f} ms, all pages p95 {every:.0f} ms ({page['total']:,} cases; target p95 <= 300 ms)")
    gridflow.close()
    map_page_in_chromium(f"sqlite:///{folder / 'box.db'}", folder / "instance", open_cases)


def map_page_in_chromium(database_url: str, instance: Path, open_cases: int, runs: int = 5) -> None:
    """/map as the operator in Debian's chromium: from navigation until every marker in view is
    drawn (the page sets data-loaded on its map when the last page of markers is in)."""
    import logging
    import re
    import statistics
    import threading

    from playwright.sync_api import expect, sync_playwright
    from werkzeug.serving import make_server

    from web import create_app

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "bench", "INSTANCE_PATH": str(instance)})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    with sync_playwright() as playwright:
        flags = ["--no-sandbox", "--disable-gpu"]
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=flags)
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        page.goto(base + "/login")
        page.fill("input[name=username]", "operator")
        page.fill("input[name=password]", "demo")
        page.click("button[type=submit]")
        seconds = []
        for _ in range(runs):
            started = time.perf_counter()
            page.goto(base + "/map")
            expect(page.locator("#case-map")).to_have_attribute("data-loaded", re.compile(r"\d+"), timeout=60000)
            seconds.append(time.perf_counter() - started)
        drawn = page.locator("#case-map").get_attribute("data-loaded")
        browser.close()
    server.shutdown()
    app.extensions["gridflow"].close()
    print(f"/map in chromium with {open_cases:,} open cases, {drawn} markers in view drawn: median "
          f"{statistics.median(seconds):.2f} s of {runs} (target <= 2 s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--side", type=int, default=100, help="grids per side of the lattice (100: 10,000 grids)")
    parser.add_argument("--components", type=int, default=1_000_000)
    parser.add_argument("--postgres", help="an empty PostgreSQL database URL to measure on as well")
    parser.add_argument("--open-cases", type=int, default=10_000, help="open cases in view of the map's query")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gridflow-geo-"))

    sqlite = engine_at(f"sqlite:///{folder / 'geo.db'}")
    first, p95, found = point_to_grid(sqlite, args.side)
    print(f"point -> grid among {args.side ** 2:,} grids (+33 demo) on SQLite: first call (builds the STRtree) "
          f"{first * 1000:.0f} ms; then p95 {p95 * 1000:.3f} ms, {found} of {SAMPLES} found (target p95 <= 1 ms)")

    with sqlite.sessions() as session:
        categories = list(session.scalars(select(tables.Category.code).where(tables.Category.family == "component")))
    path = folder / "census.csv"
    started = time.perf_counter()
    census_csv(path, args.components, categories)
    print(f"(generated {path.stat().st_size / 1e6:.0f} MB of CSV in {time.perf_counter() - started:.1f} s)")
    census("SQLite", sqlite, path, args.components, categories)
    if args.postgres:
        census("PostgreSQL", engine_at(args.postgres), path, args.components, categories)
    open_cases_in_a_box(args.open_cases)
    print(f"peak RSS: {rss_mb():.0f} MB")
    path.unlink()


if __name__ == "__main__":
    main()
