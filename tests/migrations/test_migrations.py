"""The schema is managed by migrations only: one head, models == migrations, upgrade and downgrade work."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from portal import ROOT, create_app
from portal.extensions import db
from tests.databases import fresh_database, xdist_index

MIGRATIONS = ROOT / "migrations"


def _script() -> ScriptDirectory:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def test_single_head():
    assert len(_script().get_heads()) == 1, "merge or re-chain the migration revisions"


def test_models_match_migrations(app):
    """Autogenerate against the migrated test database finds nothing to do."""
    with app.app_context():
        context = MigrationContext.configure(db.session.connection(), opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


@pytest.fixture
def scratch_database(tmp_path):
    """An empty database beside the test one: a SQLite file, or a fresh PostgreSQL database."""
    with fresh_database(f"_scratch_{xdist_index()}", tmp_path) as url:
        yield url


def test_upgrade_downgrade_upgrade(scratch_database, tmp_path):
    """Every revision upgrades, downgrades to nothing, and upgrades again (on this run's backend)."""
    scratch = create_app({"SQLALCHEMY_DATABASE_URI": scratch_database, "INSTANCE_PATH": str(tmp_path),
                          "SECRET_KEY": "x", "PORTAL_ENCRYPTION_KEY": "kVxXWNs5Ue0w8w1vvFq5Ry6X2pJ4kOwr-Q4fQmjkV0Q="})
    with scratch.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"projects", "time_entries", "sync_runs", "audit_events"} <= tables
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert set(inspect(db.engine).get_table_names()) == tables
        db.engine.dispose()
