"""Tickets, their transition trail, partner notifications (the outbox) and helpline follow-ups."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base

# A live warm transfer: the partner's line ringing, joined (the listener briefs them), handed over
# (the listener left), or it fell back to the queue (no answer, or the dial failed).
LIVE_STATES = ("ringing", "joined", "handed-over", "no-answer", "busy", "failed")
TICKET_STATES = ("requested", "accepted", "rejected", "in-progress", "on-hold", "failed", "completed", "cancelled")


class TransferTicket(Base):
    __tablename__ = "transfer_tickets"
    __table_args__ = (
        sa.CheckConstraint(f"status IN {TICKET_STATES}", name="status_known"),
        sa.CheckConstraint("mode IN ('queue', 'live')", name="mode_known"),
        sa.CheckConstraint(f"live_state IS NULL OR live_state IN {LIVE_STATES}", name="live_state_known"),
        sa.UniqueConstraint("created_by", "idempotency_key"),
        sa.Index("ix_transfer_tickets_queue", "service_id", "status"),
        sa.Index("ix_transfer_tickets_created_at", "created_at"),
        # The board's counts by state and the oldest open wait, from the index alone.
        sa.Index("ix_transfer_tickets_status_created", "status", "created_at"),
        # The capacity model's accepted and completed per week: a window of each.
        sa.Index("ix_transfer_tickets_accepted_at", "accepted_at"),
        sa.Index("ix_transfer_tickets_completed_at", "completed_at"),
        sa.Index("ix_transfer_tickets_updated", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(sa.ForeignKey("services.id", ondelete="RESTRICT"))
    call_id: Mapped[int | None] = mapped_column(sa.ForeignKey("calls.id", ondelete="SET NULL"), index=True)
    created_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(100))
    rerouted_from_id: Mapped[int | None] = mapped_column(sa.ForeignKey("transfer_tickets.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(sa.String(16), default="requested")
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    mode: Mapped[str] = mapped_column(sa.String(8), default="queue")
    live_state: Mapped[str | None] = mapped_column(sa.String(12))
    live_call_sid: Mapped[str | None] = mapped_column(sa.String(64))
    urgent: Mapped[bool] = mapped_column(default=False)
    # What was logged and the caller agreed to share: recorded once, so nobody re-assesses.
    needs: Mapped[list[str]]
    risk_level: Mapped[str] = mapped_column(sa.String(12))
    age: Mapped[int | None]
    locality: Mapped[str | None] = mapped_column(sa.String(40))
    caller_name_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    contact_number_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    contact_method: Mapped[str] = mapped_column(sa.String(20), default="phone")
    preferred_times: Mapped[str | None] = mapped_column(sa.Text)
    shared_summary_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    consent_covers: Mapped[str] = mapped_column(sa.Text)
    consent_recorded_at: Mapped[datetime]
    consent_recorded_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    sms_consent: Mapped[bool] = mapped_column(default=False)
    accept_by: Mapped[datetime]
    contact_by: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    handover_at: Mapped[datetime | None]
    handover_by: Mapped[str | None] = mapped_column(sa.String(120))
    completed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(sa.Text)
    # One of states.OUTCOME_CODES, set on complete, decline or give-up; null on older tickets.
    outcome_code: Mapped[str | None] = mapped_column(sa.String(24))
    accept_breached_at: Mapped[datetime | None]
    contact_breached_at: Mapped[datetime | None]
    contact_attempts: Mapped[int] = mapped_column(default=0)
    # One more at every change a partner would see (a move through the state table, an erasure):
    # a FHIR Task's meta.versionId and ETag, checked against a PATCH's If-Match.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    # One id across a caller's linked warm transfers and follow-ups: one plan, not silos.
    journey_id: Mapped[str] = mapped_column(sa.String(36), index=True, default=lambda: str(uuid.uuid4()))
    # The caller agreed that the partners helping them may see each other's status (service and
    # state only) on this journey.
    share_journey: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # When the ticket came back to the helpline's follow-ups by itself (set once: exactly once).
    taken_back_at: Mapped[datetime | None]
    # The number of the latest amendment after sending (0: as first sent).
    amendment_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TicketEvent(Base):
    """Every transition: who, when, from, to, why. Written in the transition's own transaction."""

    __tablename__ = "ticket_events"
    # The open queue at a past moment is counted back from now through the events since then.
    __table_args__ = (sa.Index("ix_ticket_events_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("transfer_tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(sa.String(120))
    action: Mapped[str] = mapped_column(sa.String(24))
    from_status: Mapped[str | None] = mapped_column(sa.String(16))
    to_status: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    outcome_code: Mapped[str | None] = mapped_column(sa.String(24))


class TicketAmendment(Base):
    """What the helpline added to a ticket after sending it: one numbered version, who, when, which
    fields, and the before/after text (encrypted: it is the caller's personal text)."""

    __tablename__ = "ticket_amendments"
    __table_args__ = (sa.UniqueConstraint("ticket_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("transfer_tickets.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(sa.String(120))
    # Field names only (never their values), so a notification can say what changed.
    fields: Mapped[list[str]]
    changes_encrypted: Mapped[str] = mapped_column(sa.Text)


class PartnerNotification(Base):
    """The outbox: written with the ticket change, delivered by the job loop, never dropped."""

    __tablename__ = "partner_notifications"
    __table_args__ = (sa.Index("ix_partner_notifications_status", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    # None only for an admin's test delivery (event ``webhook.test``).
    ticket_id: Mapped[int | None] = mapped_column(sa.ForeignKey("transfer_tickets.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(sa.String(40))
    body: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class FollowUp(Base):
    """Work for the helpline team: a caller whose warm transfer could not go through."""

    __tablename__ = "follow_ups"
    # The open ones are the few the board lists; resolved ones pile up for ever.
    __table_args__ = (
        sa.Index(
            "ix_follow_ups_open",
            "created_at",
            sqlite_where=sa.text("resolved_at IS NULL"),
            postgresql_where=sa.text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(sa.ForeignKey("transfer_tickets.id", ondelete="SET NULL"), index=True)
    call_id: Mapped[int | None] = mapped_column(sa.ForeignKey("calls.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
