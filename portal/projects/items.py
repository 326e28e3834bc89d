"""Project items: the lines of a project's cost structure a time entry can be booked to (a cost code
such as "06-200 Finish Carpentry"). Timesheet tools create them as they import time: each Procore cost
code used on a linked project becomes a project item of the portal project (seed 001).
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal import audit
from portal.auth.models import User
from portal.columns import Timestamps
from portal.extensions import db


class ProjectItem(Timestamps, db.Model):
    __tablename__ = "project_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("project_id", "code"),)

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}".strip()


def find_project_item(session: Session, project_id: int, code: str) -> ProjectItem | None:
    return session.scalar(select(ProjectItem).where(ProjectItem.project_id == project_id,
                                                    func.lower(ProjectItem.code) == code.strip().lower()))


def ensure_project_item(session: Session, actor: User | str | None, project_id: int, code: str,
                        name: str) -> ProjectItem:
    """The project's item with this code, created when missing; a renamed cost code renames it."""
    code = code.strip()[:60]
    item = find_project_item(session, project_id, code)
    if item is None:
        try:
            with session.begin_nested():
                item = ProjectItem(project_id=project_id, code=code, name=name.strip()[:200])
                session.add(item)
        except IntegrityError:
            return find_project_item(session, project_id, code)
        audit.record(session, actor, "project_item.created", item, after={"code": item.code, "name": item.name},
                     summary=f"Created project item {item.label}")
    elif name and item.name != name.strip()[:200]:
        audit.record(session, actor, "project_item.renamed", item, before={"name": item.name},
                     after={"name": name.strip()[:200]}, summary=f"Project item {item.code} renamed")
        item.name = name.strip()[:200]
    return item
