"""Schema upgrades on SQLite: a table copied to change a column keeps its rows and the foreign
keys pointing at it, and an upgrade that fails leaves nothing half done."""
from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from engine import Gridflow, Settings
from engine.deadlines.clock import ManualClock
from engine.storage.db import MIGRATIONS
from engine.storage.models import Base

from .conftest import START


def test_an_upgrade_that_copies_the_case_table_keeps_cases_and_their_references(tmp_path: Path) -> None:
    gridflow = Gridflow(Settings(f"sqlite:///{tmp_path / 'g.db'}", clock=ManualClock(START)))
    gridflow.init(demo=True)
    collector = gridflow.directory.authenticate("collector03", "demo")
    assert collector is not None
    case_id = gridflow.runtime.report_case(
        collector.id, {"category": "SJ0502", "grid": "03-02", "description": "店外经营", "address": "人民路",
                       "urgency": "normal", "channel": "collector"},
    )
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with gridflow.db.connect() as connection:  # back to before 0007, which copies the case table
        connection.execute(text("PRAGMA foreign_keys=OFF"))
        connection.commit()
        config.attributes["connection"] = connection
        with connection.begin():
            command.downgrade(config, "0006")
        connection.execute(text("PRAGMA foreign_keys=ON"))
        connection.commit()
    gridflow.init()  # upgrades again, as a new release's first start would

    with gridflow.db.connect() as connection:
        head = ScriptDirectory.from_config(config).get_current_head()
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA foreign_key_check")).fetchall() == []
    assert gridflow.cases.case(case_id, collector.id)["grid"]["code"] == "03-02"
    gridflow.close()


def test_a_failing_upgrade_leaves_no_half_copied_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    upgrade = command.upgrade

    def fails_at_the_end(config: Config, revision: str) -> None:
        upgrade(config, revision)
        raise RuntimeError("the last migration failed")

    monkeypatch.setattr(command, "upgrade", fails_at_the_end)
    gridflow = Gridflow(Settings(f"sqlite:///{tmp_path / 'g.db'}"))
    with pytest.raises(RuntimeError):
        gridflow.init()
    with gridflow.db.connect() as connection:
        tables = connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).fetchall()
        assert tables == []  # every migration rolled back, not only the last
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    gridflow.close()


def test_the_migrations_build_the_tables_the_models_describe(gridflow: Gridflow) -> None:
    """Alembic's comparison of the migrated database with the typed tables finds nothing to add,
    drop or change: a model changed without its migration fails here, on either database."""
    with gridflow.db.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
