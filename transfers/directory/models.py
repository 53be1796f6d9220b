from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base

SERVICE_STATUSES = ("active", "inactive", "defunct", "temporarily closed")
# The partner's own day-to-day word, beside the directory's status (which the admin keeps).
AVAILABILITY = ("open", "paused", "holiday")
# How long the service's waiting list is, in the partner's own word (transfers/availability.py).
WAITING_LISTS = ("under-a-week", "1-4-weeks", "over-4-weeks")


class NeedCategory(Base):
    """The configurable list of needs a call log records and a service meets."""

    __tablename__ = "need_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(40), unique=True)
    label: Mapped[str] = mapped_column(sa.String(80))
    sort_order: Mapped[int] = mapped_column(default=0)
    # A retired need is no longer offered to listeners or services, but stays valid on the
    # call logs and services that already name it.
    retired_at: Mapped[datetime | None]


class Locality(Base):
    """A locality hub (HSDS service_area); each has a team that is the fallback for its callers."""

    __tablename__ = "localities"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(60), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    website: Mapped[str | None] = mapped_column(sa.String(300))
    email: Mapped[str | None] = mapped_column(sa.String(200))
    charity_number: Mapped[str | None] = mapped_column(sa.String(40))
    # Where warm-transfer notifications are pushed, signed with the organisation's secret.
    webhook_url: Mapped[str | None] = mapped_column(sa.String(500))
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    services: Mapped[list[Service]] = relationship(back_populates="organisation", order_by="Service.name")


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (
        sa.CheckConstraint("min_age IS NULL OR max_age IS NULL OR min_age <= max_age", name="age_range_ordered"),
        sa.CheckConstraint("status IN ('active', 'inactive', 'defunct', 'temporarily closed')", name="status_known"),
        sa.CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_not_negative"),
        sa.CheckConstraint("availability IN ('open', 'paused', 'holiday')", name="availability_known"),
        sa.CheckConstraint("spaces IS NULL OR spaces >= 0", name="spaces_not_negative"),
        sa.CheckConstraint(
            "waiting_list IS NULL OR waiting_list IN ('under-a-week', '1-4-weeks', 'over-4-weeks')",
            name="waiting_list_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    eligibility_description: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(20), default="active")
    needs: Mapped[list[str]]
    min_age: Mapped[int | None]
    max_age: Mapped[int | None]
    # Locality slugs served; an empty list means the whole county.
    areas: Mapped[list[str]]
    schedule: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    timezone: Mapped[str] = mapped_column(sa.String(40), default="Europe/London")
    capacity: Mapped[int | None]
    live_phone: Mapped[str | None] = mapped_column(sa.String(40))
    accept_target_hours: Mapped[float] = mapped_column(default=24.0)
    contact_target_hours: Mapped[float] = mapped_column(default=72.0)
    urgent_accept_target_hours: Mapped[float] = mapped_column(default=2.0)
    urgent_contact_target_hours: Mapped[float] = mapped_column(default=24.0)
    locality_team_for: Mapped[str | None] = mapped_column(sa.String(40))
    # Kept by the partner: paused or on holiday until ``reopens_on`` (in the service's zone), how
    # many more warm transfers it can take now (each new ticket takes one; None = not limited),
    # and planned closures ``[{"starts": "YYYY-MM-DD", "ends": "YYYY-MM-DD", "note": ...}]``.
    availability: Mapped[str] = mapped_column(sa.String(10), default="open", server_default="open")
    reopens_on: Mapped[date | None]
    availability_note: Mapped[str | None] = mapped_column(sa.String(300))
    spaces: Mapped[int | None]
    closures: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list, server_default="[]")
    availability_updated_at: Mapped[datetime | None]
    availability_updated_by: Mapped[str | None] = mapped_column(sa.String(120))
    # Capacity: ``spaces`` are the places available now, ``capacity`` the maximum, and the waiting
    # list a band; when and by whom those were last given (a partner saving the same figures again
    # confirms them), so a listener can tell a figure from this morning from one of last month.
    waiting_list: Mapped[str | None] = mapped_column(sa.String(20))
    capacity_updated_at: Mapped[datetime | None]
    capacity_updated_by: Mapped[str | None] = mapped_column(sa.String(120))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    organisation: Mapped[Organisation] = relationship(back_populates="services")
