"""Configuration: defaults that make `make run` work, production strictness, the README's table."""

from __future__ import annotations

import pytest

from portal import ROOT
from portal.config import SETTINGS, ConfigurationError, load_settings


def test_defaults_use_sqlite_and_the_embedded_redis(tmp_path):
    settings = load_settings(tmp_path, environ={})
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'portal.db'}"
    assert settings["REDIS_URL"] is None and settings["REDIS_EMBEDDED_PATH"].endswith("redis.db")
    again = load_settings(tmp_path, environ={})
    assert again["SECRET_KEY"] == settings["SECRET_KEY"]  # generated once, kept across restarts


def test_postgres_urls_use_psycopg3(tmp_path):
    settings = load_settings(tmp_path, environ={"DATABASE_URL": "postgres://u:p@db/portal"})
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db/portal"


def test_production_refuses_to_start_without_secrets(tmp_path):
    with pytest.raises(ConfigurationError, match="SECRET_KEY, PORTAL_ENCRYPTION_KEY"):
        load_settings(tmp_path, environ={"PORTAL_ENV": "production"})
    assert not (tmp_path / "dev-secrets.json").exists()


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    missing = [name for name, _, _ in SETTINGS if f"`{name}`" not in readme]
    assert missing == []


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert readme.index("make run") < readme.index("## What it does")
    assert readme.index("make test") < readme.index("## What it does")
