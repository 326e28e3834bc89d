"""What only the Procore connection needs beyond the shared links: sub-job projects."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.columns import UTCDateTime, utcnow
from portal.extensions import db


class SubJobProject(db.Model):
    """A portal project made for a Procore sub job: a copy of the project linked to the sub job's
    Procore project, with a copy of the linked offering, which receives the sub job's time cards.

    Keyed by Procore's company and sub job, not by the connection: a sub job maps to one project for good,
    so after Disconnect and Connect again its time cards go to the same project, never to a second copy."""

    __tablename__ = "procore_sub_job_projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[str] = mapped_column(String(64))
    external_project_id: Mapped[str] = mapped_column(String(64))
    sub_job_id: Mapped[str] = mapped_column(String(64))
    sub_job_name: Mapped[str] = mapped_column(String(200), default="")
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offerings.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    project = relationship("Project")
    offering = relationship("Offering")

    __table_args__ = (UniqueConstraint("company_id", "sub_job_id"),)
