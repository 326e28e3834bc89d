"""Connections to timesheet tools, the links between portal records and theirs, and the time of people
not matched yet. The record of each sync (runs and their messages) is portal.runs.models."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.columns import EncryptedText, Timestamps, UTCDateTime, utcnow
from portal.extensions import db


class ConnectionStatus(StrEnum):
    CONNECTED = "connected"
    ERROR = "error"  # was connected; the last check failed (token regenerated, access removed)
    DISCONNECTED = "disconnected"


class Connection(Timestamps, db.Model):
    """The organization's link to one timesheet tool (kind = a key of the connector registry)."""

    __tablename__ = "connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=ConnectionStatus.DISCONNECTED)
    # JSON of the tool's secrets (API token; OAuth client secret and refresh token). Never shown again.
    credentials: Mapped[str | None] = mapped_column(EncryptedText())
    # Toggl workspace id / Procore company id, and its display name.
    account_id: Mapped[str | None] = mapped_column(String(64))
    account_name: Mapped[str] = mapped_column(String(200), default="")
    # The tool's id of the user the connection acts as (Toggl: creator of provisioned projects).
    external_user_id: Mapped[str | None] = mapped_column(String(64))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    @property
    def is_connected(self) -> bool:
        return self.status == ConnectionStatus.CONNECTED


class LinkMethod(StrEnum):
    PROVISIONED = "provisioned"  # the portal created the record in the tool
    CONNECTED = "connected"  # linked to a record that already existed there
    AUTO_MAPPED = "auto_mapped"  # matched by email
    MANUAL = "manual"  # an admin chose the match
    CLEARED = "cleared"  # an admin cleared a wrong match: not matched by email again until the email changes


class ClientLink(db.Model):
    """One portal client ↔ one client of the tool (seed 000: one timesheet client maps to one CRM client)."""

    __tablename__ = "client_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    external_name: Mapped[str] = mapped_column(String(200), default="")
    method: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        UniqueConstraint("connection_id", "client_id"),
        UniqueConstraint("connection_id", "external_id"),
    )


class ProjectLink(db.Model):
    """One offering ↔ one project of the tool; an offering links to at most one project per tool."""

    __tablename__ = "project_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    offering_id: Mapped[int] = mapped_column(ForeignKey("offerings.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    external_name: Mapped[str] = mapped_column(String(200), default="")
    external_url: Mapped[str] = mapped_column(String(500), default="")
    method: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The newest change to the tool's time (its own stamp) that a sync of the offering's project has read: that
    # project's next sync reads only the changes since, not its whole look-back. None until a first full read.
    time_read_up_to: Mapped[datetime | None] = mapped_column(UTCDateTime())

    offering = relationship("Offering")
    user_links = relationship("ProjectUserLink", back_populates="project_link", cascade="all, delete-orphan",
                              passive_deletes=True)

    __table_args__ = (
        UniqueConstraint("connection_id", "offering_id"),
        UniqueConstraint("connection_id", "external_id"),
        Index("ix_project_links_name", "connection_id", "external_name", "id"),  # Procore's pages (issue 14)
    )


class ProjectUserLink(db.Model):
    """A project user the portal put (or found) on a linked project for a person assigned to the offering.

    Only these are removed when the assignment goes: people added in the tool by hand are left alone.
    """

    __tablename__ = "project_user_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_link_id: Mapped[int] = mapped_column(ForeignKey("project_links.id", ondelete="CASCADE"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), index=True)
    external_user_id: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(64))  # the tool's project-user id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    project_link = relationship("ProjectLink", back_populates="user_links")
    resource = relationship("Resource")

    __table_args__ = (UniqueConstraint("project_link_id", "resource_id"),)


class PersonLink(db.Model):
    """A person of the tool ↔ a resource. `resource_id` is empty while the person is unmatched."""

    __tablename__ = "person_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("resources.id", ondelete="SET NULL"), index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    external_email: Mapped[str] = mapped_column(String(254), default="")
    external_name: Mapped[str] = mapped_column(String(200), default="")
    method: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    resource = relationship("Resource")

    __table_args__ = (
        UniqueConstraint("connection_id", "external_id"),
        Index("ix_person_links_email", "connection_id", "external_email", "id"),  # the sync log's pages (issue 14)
    )


class WaitingTimeEntry(db.Model):
    """A time entry of a linked project whose person is not matched to a resource yet.

    It waits here (the Unmatched people queue counts these) and is imported once an admin links the
    person, or their email is fixed and they match (backfill); a change or deletion in the tool updates
    or removes it like any synced entry.
    """

    __tablename__ = "waiting_time_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    person_link_id: Mapped[int] = mapped_column(ForeignKey("person_links.id", ondelete="CASCADE"), index=True)
    project_link_id: Mapped[int | None] = mapped_column(ForeignKey("project_links.id", ondelete="CASCADE"),
                                                        index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    external_project_id: Mapped[str] = mapped_column(String(64))
    work_date: Mapped[date] = mapped_column(Date)
    seconds: Mapped[int] = mapped_column(Integer)
    billable: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    external_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the work started (issue 13): once the person is matched, the entry is dated in their time zone.
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    person_link = relationship("PersonLink")
    project_link = relationship("ProjectLink")

    __table_args__ = (
        UniqueConstraint("connection_id", "external_id"),
        Index("ix_waiting_time_entries_connection_date", "connection_id", "work_date"),
    )
