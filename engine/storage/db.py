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
    """Create the schema or bring it to the newest migration, all of it or none of it."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.connect() as connection:
        config.attributes["connection"] = connection
        if connection.dialect.name != "sqlite":
            with connection.begin():  # PostgreSQL's DDL is transactional as it is
                command.upgrade(config, "head")
            return
        # SQLite changes a column by copying its table; with foreign keys enforced, dropping the
        # old copy of a referenced table (the case) would fail or cascade, and the pragma only
        # takes effect outside a transaction. The driver begins no transaction before DDL on
        # its own, so this connection leaves transactions to us and BEGINs one itself: a
        # migration that fails leaves no half-copied table behind.
        driver = connection.connection.driver_connection
        assert driver is not None
        driver_mode = driver.isolation_level
        driver.isolation_level = None
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()  # ends SQLAlchemy's autobegun transaction around the pragma
        try:
            with connection.begin():
                connection.exec_driver_sql("BEGIN")
                command.upgrade(config, "head")
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration left rows pointing nowhere: {broken[:5]}")
        finally:
            connection.rollback()  # nothing is open after a commit; after a failure, the autobegin
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
            driver.isolation_level = driver_mode
