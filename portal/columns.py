"""Column types and mixins shared by every domain.

Money and hours are Decimal in Numeric columns, never float. Instants are timezone-aware UTC on every
backend (SQLite returns naive datetimes; this type restores the zone). Secrets are encrypted at rest.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import DateTime, Numeric, Text, TypeDecorator, func
from sqlalchemy.orm import Mapped, mapped_column

MONEY = Numeric(14, 2)
RATE = Numeric(12, 2)
# Four places: Toggl reports seconds, and 1 s = 0.000278 h; two places would lose minutes in sums.
HOURS = Numeric(10, 4)

ZERO = Decimal("0")


def largest(numeric: Numeric) -> Decimal:
    """The largest value a Numeric(precision, scale) column holds (what a form may accept for it)."""
    return Decimal(10) ** (numeric.precision - numeric.scale) - Decimal(1).scaleb(-numeric.scale)


MAX_HOURS = largest(HOURS)


def utcnow() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    """Today in the organization's timezone (PORTAL_TIMEZONE): what "today" means for closing dates,
    clearing future bookings and week boundaries."""
    return datetime.now(ZoneInfo(current_app.config.get("PORTAL_TIMEZONE", "UTC"))).date()


class UTCDateTime(TypeDecorator):
    """A tz-aware UTC instant; refuses naive datetimes so local times never sneak in."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use portal.columns.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _fernet() -> MultiFernet:
    keys = [k.strip() for k in current_app.config["PORTAL_ENCRYPTION_KEY"].split(",") if k.strip()]
    return MultiFernet([Fernet(k.encode()) for k in keys])


class EncryptedText(TypeDecorator):
    """Text encrypted with PORTAL_ENCRYPTION_KEY (Fernet; several keys allow rotation, newest first)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        if value is None:
            return None
        return _fernet().encrypt(value.encode()).decode()

    def process_result_value(self, value: str | None, dialect) -> str | None:
        if value is None:
            return None
        try:
            return _fernet().decrypt(value.encode()).decode()
        except InvalidToken:
            # A rotated-away key: the credential is unusable, not the page. Callers treat None as "not set".
            current_app.logger.error("a stored credential could not be decrypted with PORTAL_ENCRYPTION_KEY")
            return None


def mask_secret(value: str | None) -> str:
    """What a page may show of a secret: its last four characters."""
    if not value:
        return ""
    return "•" * 8 + value[-4:] if len(value) > 8 else "•" * 8


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()
    )
