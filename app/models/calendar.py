"""Calendar subscriptions: a per-user, read-only, revocable token for the ICS feed."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow
from app.models.users import User


class CalendarFeedToken(db.Model):  # type: ignore[name-defined,misc]
    """The secret in a user's ICS subscription URL; only its SHA-256 is stored.

    It opens one read-only door (the ICS file), not the API: a calendar app keeps
    the URL in plain sight, so it must not be worth more than that.
    """

    __tablename__ = "calendar_feed_tokens"
    __table_args__ = (Index("ix_calendar_feed_tokens_user_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
