"""Users (logins), their role, and their cost-centre permissions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.columns import Timestamps, UTCDateTime, utcnow
from portal.extensions import db


class Role(StrEnum):
    STAFF = "staff"
    APPROVER = "approver"
    PM = "pm"
    ADMIN = "admin"
    SUPER_ADMIN = "super_admin"
    CLIENT = "client"


ROLE_LABELS = {
    Role.STAFF: "Staff",
    Role.APPROVER: "Approver",
    Role.PM: "Project manager",
    Role.ADMIN: "Admin",
    Role.SUPER_ADMIN: "Super-admin",
    Role.CLIENT: "Client",
}


class Permission(StrEnum):
    """Cost-centre permissions (seed 004's words in brackets)."""

    SYSTEM_SETTINGS = "system_settings"  # System Settings: Update
    MAINTAIN_PROJECTS = "maintain_projects"  # MPE: Maintain Projects and Engagements
    MAINTAIN_ADVANCED_PROJECTS = "maintain_advanced_projects"  # MAEPS
    CREATE_PROJECTS = "create_projects"
    REQUEST_RESOURCES = "request_resources"
    SCHEDULE_RESOURCES = "schedule_resources"


PERMISSION_LABELS = {
    Permission.SYSTEM_SETTINGS: "System settings",
    Permission.MAINTAIN_PROJECTS: "Maintain projects and engagements (MPE)",
    Permission.MAINTAIN_ADVANCED_PROJECTS: "Maintain advanced projects and engagements (MAEPS)",
    Permission.CREATE_PROJECTS: "Create projects",
    Permission.REQUEST_RESOURCES: "Request resources",
    Permission.SCHEDULE_RESOURCES: "Schedule resources",
}


def normalize_email(email: str) -> str:
    """Emails are stored and compared trimmed and lower-cased."""
    return (email or "").strip().lower()


class User(UserMixin, Timestamps, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20), default=Role.STAFF)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Client users see only their client's project workspaces.
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"))
    # Seed 004 "Notify cost center list users": the notification setting "projects are moved to/from a stage".
    notify_stage_moves: Mapped[bool] = mapped_column(Boolean, default=False)
    # Issue 16: the weekly email when last week's timesheet is missing, short or unsubmitted (the person's choice).
    timesheet_reminders: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Issue 15 item 22: an email when an approver approves, rejects or recalls the person's timesheet.
    timesheet_decision_emails: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the last link to set a password was emailed (portal.auth.passwords: one per few minutes).
    password_link_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Part of the id kept in sessions and remember-me cookies: raising it (a password change or reset) makes
    # every one of them stale at once (portal.auth.sessions).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    permission_rows: Mapped[list[UserPermission]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    # The user lookup (PMs, PM teams) in name order (issue 14).
    __table_args__ = (Index("ix_users_name", "name", "id"),)

    @property
    def permissions(self) -> frozenset[str]:
        return frozenset(p.permission for p in self.permission_rows)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        """What sessions and remember-me cookies hold: the id and the session epoch."""
        return f"{self.id}.{self.session_epoch or 0}"

    def end_sessions(self) -> None:
        """Make every session and remember-me cookie of this login stale (a password change or reset)."""
        self.session_epoch = (self.session_epoch or 0) + 1

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"


class UserPermission(db.Model):
    __tablename__ = "user_permissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    permission: Mapped[str] = mapped_column(String(40))

    user: Mapped[User] = relationship(back_populates="permission_rows")

    __table_args__ = (UniqueConstraint("user_id", "permission"),)


class LoginAttempt(db.Model):
    """Recent login attempts, kept in the database so throttling holds across web processes."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    remote_addr: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_remote_addr_at", "remote_addr", "at"),
    )
