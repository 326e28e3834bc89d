"""Engagement types and their ordered project stages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.columns import Timestamps
from portal.extensions import db
from portal.stages import registry


class EngagementType(Timestamps, db.Model):
    """A line of business with its own stage workflow; exactly one is the default."""

    __tablename__ = "engagement_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)

    stages: Mapped[list[Stage]] = relationship(
        back_populates="engagement_type", order_by="Stage.position", cascade="all, delete-orphan"
    )


class Stage(Timestamps, db.Model):
    __tablename__ = "stages"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_type_id: Mapped[int] = mapped_column(ForeignKey("engagement_types.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Values of registry.SETTINGS by key; a key missing here reads as the registry default.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    engagement_type: Mapped[EngagementType] = relationship(back_populates="stages")

    __table_args__ = (UniqueConstraint("engagement_type_id", "name"),)

    def flag(self, key: str) -> Any:
        setting = registry.BY_KEY[key]  # a KeyError here is a typo in code, not bad data
        return (self.settings or {}).get(key, setting.default)

    @property
    def is_closed(self) -> bool:
        return bool(self.flag("consider_closed"))

    @property
    def is_in_progress(self) -> bool:
        return bool(self.flag("in_progress"))

    def __repr__(self) -> str:
        return f"<Stage {self.id} {self.name}>"
