"""Calls as Twilio reports them, the deliveries that reported them, listener presence and
callback requests (voicemails that became work for a listener)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from telephony.call_states import ENDED_BY  # who ended a call: decided in call_states.who_ended

CALL_STATUSES = (
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "failed",
    "no-answer",
    "canceled",
)
# Where a call is in the helpline's own flow, as opposed to Twilio's call status.
QUEUE_STATES = ("waiting", "claimed", "connected", "voicemail", "ended")
PRESENCE = ("available", "on-call", "wrap-up", "break", "offline")


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (
        sa.Index("ix_calls_queue", "queue_state", "waiting_since"),
        # Reports and the board read a bounded window of calls by when they arrived.
        sa.Index("ix_calls_created_at", "created_at"),
        # The board's "last call" per listener: one seek, newest first.
        sa.Index("ix_calls_listener_ended", "listener_id", "ended_at", "id"),
        sa.CheckConstraint(f"queue_state IN {QUEUE_STATES}", name="queue_state_known"),
        sa.CheckConstraint(f"ended_by IS NULL OR ended_by IN {ENDED_BY}", name="ended_by_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    direction: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20))
    # The highest SequenceNumber applied: an older callback is recorded but cannot move the call back.
    status_sequence: Mapped[int] = mapped_column(default=-1)
    from_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    from_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    from_withheld: Mapped[bool] = mapped_column(default=False)
    from_masked: Mapped[str] = mapped_column(sa.String(32), default="withheld")
    to_number: Mapped[str | None] = mapped_column(sa.String(64))
    queue_state: Mapped[str] = mapped_column(sa.String(16), default="waiting")
    waiting_since: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    wait_seconds: Mapped[int | None]
    abandoned: Mapped[bool] = mapped_column(default=False)
    ended_by: Mapped[str | None] = mapped_column(sa.String(16))
    listener_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    listener_call_sid: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    conference_name: Mapped[str | None] = mapped_column(sa.String(80), unique=True)
    conference_sid: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    # The highest conference event (SequenceNumber) applied; later ones wait for it.
    conference_sequence: Mapped[int] = mapped_column(default=-1, server_default="-1")
    # The queue position the caller last heard announced: they hear it again when it changes.
    announced_position: Mapped[int | None]
    # Held (restricted) by an admin: kept past its retention and never erased until lifted.
    held_at: Mapped[datetime | None]
    held_reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookDelivery(Base):
    """Each Twilio delivery stored once; a retry is answered with the stored reply."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    endpoint: Mapped[str] = mapped_column(sa.String(20))
    call_sid: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    # Which of our calls it was about, once known (a conference event's turn is found by it).
    call_id: Mapped[int | None] = mapped_column(index=True)
    event: Mapped[str] = mapped_column(sa.String(40))
    sequence: Mapped[int | None]
    # The form fields without the caller's number: personal data lives only encrypted on the call.
    fields: Mapped[dict[str, Any]]
    outcome: Mapped[str] = mapped_column(sa.String(20), default="applied")
    reply: Mapped[str | None] = mapped_column(sa.Text)
    received_at: Mapped[datetime]


PARTICIPANT_ROLES = ("caller", "listener", "partner", "supervisor", "other")


class CallParticipant(Base):
    """One leg in a caller's conference: who is (or was) on the line with them."""

    __tablename__ = "call_participants"
    __table_args__ = (sa.UniqueConstraint("call_id", "call_sid", name="uq_call_participants_leg"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id", ondelete="CASCADE"))
    call_sid: Mapped[str] = mapped_column(sa.String(64))
    role: Mapped[str] = mapped_column(sa.String(16))
    label: Mapped[str | None] = mapped_column(sa.String(64))
    on_hold: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    joined_at: Mapped[datetime | None]
    left_at: Mapped[datetime | None]
    left_reason: Mapped[str | None] = mapped_column(sa.String(40))


class ListenerPresence(Base):
    __tablename__ = "listener_presence"
    __table_args__ = (sa.CheckConstraint(f"status IN {PRESENCE}", name="status_known"),)

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="offline")
    since: Mapped[datetime]
    current_call_id: Mapped[int | None] = mapped_column(sa.ForeignKey("calls.id", ondelete="SET NULL"))


class PresenceChange(Base):
    """Each time a listener's presence changed: the capacity model counts who was on each hour."""

    __tablename__ = "presence_changes"
    __table_args__ = (
        sa.Index("ix_presence_changes_user_at", "user_id", "at"),
        sa.Index("ix_presence_changes_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(sa.String(16))
    at: Mapped[datetime]


class CallbackRequest(Base):
    """A voicemail left by a caller who could not be answered: a listener rings them back."""

    __tablename__ = "callback_requests"
    __table_args__ = (
        sa.CheckConstraint("status IN ('open', 'claimed', 'done')", name="status_known"),
        sa.Index("ix_callback_requests_status", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    reason: Mapped[str] = mapped_column(sa.String(20))
    # Encrypted: a recording URL can be enough to play the caller's message.
    recording_url_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    recording_seconds: Mapped[int | None]
    status: Mapped[str] = mapped_column(sa.String(10), default="open")
    urgent: Mapped[bool] = mapped_column(default=False)
    claimed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class CallbackAttempt(Base):
    """One ring-back of a callback request: the outbound call it made and how it went."""

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    callback_request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("callback_requests.id", ondelete="CASCADE"), index=True
    )
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    listener_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime]
    # None while the caller's phone rings; then answered, no-answer, busy, failed, canceled,
    # voicemail (their answering machine: hung up, nothing left on it) or hung-up.
    result: Mapped[str | None] = mapped_column(sa.String(20))
    ended_at: Mapped[datetime | None]


SURVEY_WAYS = ("declined", "keypad", "text")
SURVEY_STATES = ("declined", "agreed", "asked", "answered", "expired", "stopped", "not-sent")


class CallerSurvey(Base):
    """The caller's own word on one call: whether they agreed to the short survey, by which way,
    and what they answered. Aggregates-friendly: no number, no notes; a text survey keeps the keyed
    hash of the number only until the reply comes (or it expires, or they text STOP)."""

    __tablename__ = "caller_surveys"
    __table_args__ = (
        sa.CheckConstraint(f"way IN {SURVEY_WAYS}", name="way_known"),
        sa.CheckConstraint(f"state IN {SURVEY_STATES}", name="state_known"),
        sa.CheckConstraint("helped IS NULL OR helped BETWEEN 1 AND 5", name="helped_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Kept past the call's own retention: the answers are aggregates, not about a person.
    call_id: Mapped[int | None] = mapped_column(sa.ForeignKey("calls.id", ondelete="SET NULL"), unique=True)
    way: Mapped[str] = mapped_column(sa.String(10))
    state: Mapped[str] = mapped_column(sa.String(12))
    number_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    text_due_at: Mapped[datetime | None]
    consented_at: Mapped[datetime] = mapped_column(index=True)
    consented_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    asked_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    helped: Mapped[int | None]  # how much the call helped, 1 (not at all) to 5 (a lot)
    safer: Mapped[bool | None]  # whether they feel safer now


class SurveyOptOut(Base):
    """A number (as its keyed hash) that texted STOP: it is never sent a survey text again."""

    __tablename__ = "survey_opt_outs"

    number_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    created_at: Mapped[datetime]
