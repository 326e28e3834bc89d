"""The last run of each cron entry, kept by the job wrapper (portal/jobs.py) for the System page."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.columns import UTCDateTime
from portal.extensions import db


class CronRun(db.Model):
    """One row per cron entry (`entry`: portal.queue.cron_name), overwritten by each run."""

    __tablename__ = "cron_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry: Mapped[str] = mapped_column(String(200), unique=True)
    job_id: Mapped[str] = mapped_column(String(100), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(12))  # running | succeeded | failed
    error: Mapped[str] = mapped_column(Text, default="")
