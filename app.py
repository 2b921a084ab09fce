"""Gridflow's entry point.

    python app.py init [--demo]              create or upgrade the database, deploy workflows/
    python app.py serve [--host H] [--port P] [--demo]
    python app.py check                      after a crash or a restore: every case's workflow loads
                                             and agrees with its task and timer rows
    python app.py open311-key NAME --user U  issue an Open311 client's API key (shown once); --revoke
    python app.py import-components FILE [--admin USERNAME]
                                             the component census (部件普查) from CSV or GeoJSON
"""
from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterator
from typing import BinaryIO

from flask import Flask

from engine import DEMO_PASSWORD, Gridflow, GridflowError
from web import create_app


def _init(gridflow: Gridflow, demo: bool) -> None:
    gridflow.init(demo=demo)
    if gridflow.directory.authenticate("admin", DEMO_PASSWORD) is not None:
        print(
            f"注意：本实例使用演示账号运行（所有密码均为 {DEMO_PASSWORD!r}）。"
            f" Running with demo accounts: every password is {DEMO_PASSWORD!r}.",
            flush=True,
        )


def _open311_key(gridflow: Gridflow, name: str, username: str | None, revoke: bool) -> int:
    """After `init`. The key is printed once and stored only as its SHA-256."""
    try:
        if revoke:
            gridflow.open311.clients.revoke(name)
            print(f"已停用 Open311 客户端 {name}。 Revoked the key of Open311 client {name}.")
            return 0
        if not username:
            print("需要 --user：该客户端上报案件所用的账号。 --user is required.", file=sys.stderr)
            return 2
        api_key = gridflow.open311.clients.issue_key(name, username)
    except GridflowError as error:
        print(error, file=sys.stderr)
        return 2
    finally:
        gridflow.close()
    print(f"Open311 客户端 {name} 的 API 密钥（只显示这一次）。 API key of {name}, shown once:")
    print(api_key, flush=True)
    return 0


def _import_components(gridflow: Gridflow, file: str, username: str) -> int:
    """A city's census of a million rows: CSV read line by line, progress every 5000 rows."""

    printed = [0]

    def progress(rows: int) -> None:
        if rows != printed[0]:  # the engine reports the last batch again at the end
            printed[0] = rows
            print(f"已导入 {rows} 行 imported {rows} rows", flush=True)

    try:
        admin = gridflow.reference.user(username)
        with open(file, "rb") as opened:
            if opened.read(64).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
                opened.seek(0)
                report = gridflow.components.import_geojson(admin["id"], opened.read().decode("utf-8-sig"), progress)
            else:
                opened.seek(0)
                report = gridflow.components.import_csv(admin["id"], csv_lines_of(opened), progress)
    except (GridflowError, OSError, UnicodeDecodeError) as error:
        print(error, file=sys.stderr)
        return 2
    finally:
        gridflow.close()
    for row in report.refused[:20]:
        print(f"拒绝 refused line {row['line']} {row['code'] or ''}: {row['reason']}")
    print(f"导入 {report.imported} 个部件，拒绝 {report.refused_count} 行。")
    print(f"Imported {report.imported} components, refused {report.refused_count} rows.", flush=True)
    return 0


def csv_lines_of(opened: BinaryIO) -> Iterator[str]:
    """The file's text lines, read as they are imported (UTF-8, with or without a byte order mark)."""
    return iter(io.TextIOWrapper(opened, encoding="utf-8-sig", newline=""))


def wsgi() -> Flask:
    """For a WSGI server with several worker processes (e.g. `gunicorn -w 4 'app:wsgi()'`), after
    `python app.py init` has run once: each worker serves pages and fires its share of the timers."""
    app = create_app()
    app.extensions["gridflow"].timers.start()
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="app.py", description="Gridflow 网格化城市管理工作流")
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init", help="create or upgrade the schema, deploy workflows/, load demo data")
    init.add_argument("--demo", action="store_true", help="load the demo organisation and accounts")
    serve = commands.add_parser("serve", help="serve the web UI and API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--demo", action="store_true", help="load demo data first if the database has none")
    serve.add_argument("--threads", type=int, default=8)
    commands.add_parser("check", help="check that every case's workflow loads and agrees with its rows")
    open311_key = commands.add_parser("open311-key", help="issue an Open311 client's API key, or revoke it")
    open311_key.add_argument("name", help="the client, e.g. 12345-platform")
    open311_key.add_argument("--user", help="the account the client's cases are reported as")
    open311_key.add_argument("--revoke", action="store_true", help="the client's key stops working")
    census = commands.add_parser("import-components", help="import the component census (部件普查) from CSV or GeoJSON")
    census.add_argument("file", help="CSV with the header code,category,owner,state,x,y, or GeoJSON points")
    census.add_argument("--admin", default="admin", help="the administrator the import is recorded as")
    args = parser.parse_args(argv)

    app = create_app()
    gridflow: Gridflow = app.extensions["gridflow"]
    if args.command == "check":
        checked, problems = gridflow.runtime.verify_cases()
        for problem in problems:
            print(problem, flush=True)
        print(f"检查了 {checked} 个案件，发现 {len(problems)} 个问题。")
        print(f"Checked {checked} cases, {len(problems)} problems.")
        gridflow.close()
        return 1 if problems else 0
    if args.command == "import-components":
        return _import_components(gridflow, args.file, args.admin)
    if args.command == "open311-key":
        return _open311_key(gridflow, args.name, args.user, args.revoke)
    _init(gridflow, demo=args.demo)
    if args.command == "serve":
        from waitress import serve as waitress_serve

        gridflow.timers.start()  # fires what fell due while the service was down, then on time
        print(f"Gridflow: http://{args.host}:{args.port}/  (database: {app.config['DATABASE_URL']})", flush=True)
        try:
            waitress_serve(app, host=args.host, port=args.port, threads=args.threads)
        finally:
            gridflow.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
