"""Migrations: one head, upgrade from an empty database, and the result matches the models."""
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from ethergate.extensions import db
from ethergate.settings import parse_database_url
from tests.conftest import ROOT, migrate_database


def script_directory() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return ScriptDirectory.from_config(config)


def test_single_head():
    assert len(script_directory().get_heads()) == 1


def test_upgrade_from_empty_matches_models(engine, tmp_path, request):
    if engine == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_server").create_database("eg_empty_upgrade")
    migrate_database(url)
    sa_engine = create_engine(parse_database_url("url", url))
    try:
        with sa_engine.connect() as conn:
            import ethergate.models  # noqa: F401
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
            assert diff == []
            tables = set(inspect(conn).get_table_names())
        assert {"users", "workspaces", "api_keys", "ledger_entries", "holds", "request_logs", "models"} <= tables
    finally:
        sa_engine.dispose()
