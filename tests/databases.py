"""Throwaway databases for a test run: a SQLite file, or a PostgreSQL database created and dropped."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def xdist_index() -> int:
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


@contextmanager
def fresh_database(suffix: str, sqlite_dir: Path) -> Iterator[str]:
    """An empty database named after TEST_DATABASE_URL's plus `suffix`, or a SQLite file in `sqlite_dir`."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if not configured:
        yield f"sqlite:///{sqlite_dir / f'portal{suffix}.db'}"
        return
    url = make_url(configured.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{url.database}{suffix}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
