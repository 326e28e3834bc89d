"""Recording cron runs: the job wrapper (portal/jobs.py) notes when a job the cron scheduler enqueued starts and
how it ends. The record is written in its own transaction, so a failed job's rollback keeps its outcome."""

from __future__ import annotations

from sqlalchemy import Executable, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from portal.columns import utcnow
from portal.extensions import db
from portal.system.models import CronRun

ERROR_KEPT = 2000


def _write(statement: Executable) -> None:
    with Session(bind=db.session.get_bind(), join_transaction_mode="create_savepoint") as side:
        side.execute(statement)
        side.commit()


def started(entry: str, job_id: str) -> None:
    values = {"job_id": job_id, "started_at": utcnow(), "finished_at": None, "outcome": "running", "error": ""}
    dialect_insert = postgresql_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    _write(dialect_insert(CronRun).values(entry=entry, **values).on_conflict_do_update(
        index_elements=["entry"], set_=values))


def finished(entry: str, error: BaseException | None = None) -> None:
    _write(update(CronRun).where(CronRun.entry == entry).values(
        finished_at=utcnow(), outcome="failed" if error else "succeeded",
        error=f"{type(error).__name__}: {error}"[:ERROR_KEPT] if error else ""))
