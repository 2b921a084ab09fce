"""Connecting to the database and bringing its schema up to date (Alembic)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def connect(database_url: str) -> SqlEngine:
    """An SQLAlchemy engine; SQLite files get WAL, a busy timeout and enforced foreign keys."""
    if database_url.startswith("sqlite"):
        db = create_engine(database_url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(db, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return db
    return create_engine(database_url, pool_pre_ping=True)


def session_factory(db: SqlEngine) -> sessionmaker[Session]:
    return sessionmaker(db, expire_on_commit=False)


def upgrade_schema(db: SqlEngine) -> None:
    """Create the schema or bring it to the newest migration."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite changes a column by copying its table; with foreign keys enforced, dropping
            # the old copy of a referenced table (the case) would fail or cascade. The pragma
            # only takes effect outside a transaction, so it is set before the migrations' one,
            # and the keys are checked before they are enforced again.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()  # ends SQLAlchemy's autobegun transaction; the driver began none
        with connection.begin():
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration left rows pointing nowhere: {broken[:5]}")
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
