"""The directory's shapes, shared by the admin API and the YAML import so both validate alike."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from app.core.responses import DB_INT_MAX, DbId, Timestamp
from app.core.settings import E164
from transfers.hours import parse_schedule

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
Slug = Field(pattern=SLUG_PATTERN, max_length=80)
ServiceStatus = Literal["active", "inactive", "defunct", "temporarily closed"]
# How long a new caller waits for the service to start, as its partner says (transfers/availability.py).
WaitingList = Literal["under-a-week", "1-4-weeks", "over-4-weeks"]
MAX_SPACES = 1000
SPACES_HELP = "Places for more warm transfers now (each new one takes a place): 0 = at capacity, null = not said"
MAXIMUM_HELP = "The most warm transfers the service holds at once; null = not said"
WAITING_LIST_HELP = "How long a new caller waits: under-a-week, 1-4-weeks or over-4-weeks; null = not said"


def check_places_within_maximum(spaces: int | None, maximum: int | None) -> None:
    if spaces is not None and maximum is not None and spaces > maximum:
        raise PydanticCustomError(
            "places_above_maximum",
            "{spaces} places now is more than the maximum of {maximum}",
            {"spaces": spaces, "maximum": maximum},
        )


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class HoursSpec(Strict):
    days: str
    opens: str
    closes: str


class TargetsSpec(Strict):
    """Hours of the service's opening time within which it accepts, and reaches, a caller."""

    accept_hours: float = Field(24.0, gt=0, le=24 * 28)
    contact_hours: float = Field(72.0, gt=0, le=24 * 28)
    urgent_accept_hours: float = Field(2.0, gt=0, le=24 * 28)
    urgent_contact_hours: float = Field(24.0, gt=0, le=24 * 28)


class ServiceFields(Strict):
    slug: str = Slug
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    eligibility_description: str = ""
    status: ServiceStatus = "active"
    needs: list[str] = Field(default_factory=list)
    min_age: int | None = Field(None, ge=0, le=120)
    max_age: int | None = Field(None, ge=0, le=120)
    areas: list[str] = Field(default_factory=list)
    hours: list[HoursSpec] = Field(default_factory=list)
    timezone: str = "Europe/London"
    capacity: int | None = Field(None, ge=0, le=DB_INT_MAX, description=MAXIMUM_HELP)
    spaces: int | None = Field(None, ge=0, le=MAX_SPACES, description=SPACES_HELP)
    waiting_list: WaitingList | None = Field(None, description=WAITING_LIST_HELP)
    live_phone: str | None = Field(None, pattern=r"^(\+[0-9]{7,15}|sip:.+|client:.+)$")
    targets: TargetsSpec = Field(default_factory=TargetsSpec)
    locality_team_for: str | None = None

    @model_validator(mode="after")
    def _age_range_ordered(self) -> "ServiceFields":
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValueError(f"the age range is upside down: min_age {self.min_age} is above max_age {self.max_age}")
        return self

    @field_validator("spaces")
    @classmethod
    def _within_maximum(cls, value: int | None, info: ValidationInfo) -> int | None:
        check_places_within_maximum(value, info.data.get("capacity"))
        return value

    @field_validator("hours")
    @classmethod
    def _hours_parse(cls, value: list[HoursSpec]) -> list[HoursSpec]:
        parse_schedule([h.model_dump() for h in value])
        return value


class ServiceCreate(ServiceFields):
    organisation_id: DbId


# A PATCH leaves out what it does not change; ``null`` is only for fields that may be empty, so a
# non-nullable field below is typed without ``None`` (a 422 naming it) but still defaults to unset.
class ServiceUpdate(Strict):
    """A partial change: only the fields given are changed (then the whole is re-validated)."""

    name: str = Field(None, min_length=1, max_length=200)  # type: ignore[assignment]
    description: str = None  # type: ignore[assignment]
    eligibility_description: str = None  # type: ignore[assignment]
    status: ServiceStatus = None  # type: ignore[assignment]
    needs: list[str] = None  # type: ignore[assignment]
    min_age: int | None = Field(None, ge=0, le=120)
    max_age: int | None = Field(None, ge=0, le=120)
    areas: list[str] = None  # type: ignore[assignment]
    hours: list[HoursSpec] = None  # type: ignore[assignment]
    timezone: str = None  # type: ignore[assignment]
    capacity: int | None = Field(None, ge=0, le=DB_INT_MAX, description=MAXIMUM_HELP)
    spaces: int | None = Field(None, ge=0, le=MAX_SPACES, description=SPACES_HELP)
    waiting_list: WaitingList | None = Field(None, description=WAITING_LIST_HELP)
    live_phone: str | None = None
    targets: TargetsSpec = None  # type: ignore[assignment]
    locality_team_for: str | None = None


def _website(value: str) -> str:
    if not re.match(r"^https?://[^\s/?#]+\.[^\s]*$", value):
        raise PydanticCustomError(
            "website", "a web address starting https:// (or http://), e.g. https://partner.org.uk"
        )
    return value


def _email(value: str) -> str:
    if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
        raise PydanticCustomError("email", "an email address, e.g. helpline@partner.org.uk")
    return value


# An organisation's public website and contact address, as a helpline worker would use them.
Website = Annotated[str, Field(max_length=300), AfterValidator(_website)]
Email = Annotated[str, Field(max_length=200), AfterValidator(_email)]


class OrganisationFields(Strict):
    slug: str = Slug
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    website: Website | None = None
    email: Email | None = None
    charity_number: str | None = None
    # No webhook_url here: it is set with PUT /api/admin/organisations/{id}/webhook, which also
    # issues the signing secret, so no organisation has a webhook it cannot verify.


class OrganisationUpdate(Strict):
    name: str = Field(None, min_length=1, max_length=200)  # type: ignore[assignment]
    description: str = None  # type: ignore[assignment]
    website: Website | None = None
    email: Email | None = None
    charity_number: str | None = None


class OrganisationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    slug: str
    name: str
    description: str
    website: str | None
    email: str | None
    charity_number: str | None
    webhook_url: str | None


class ServiceOut(BaseModel):
    id: int
    slug: str
    organisation_id: int
    organisation: str
    name: str
    description: str
    eligibility_description: str
    status: str
    needs: list[str]
    min_age: int | None
    max_age: int | None
    areas: list[str]
    hours: list[HoursSpec]
    timezone: str
    capacity: int | None = Field(description=MAXIMUM_HELP)
    spaces: int | None = Field(description=SPACES_HELP)
    waiting_list: WaitingList | None = Field(description=WAITING_LIST_HELP)
    capacity_updated_at: Timestamp | None = Field(description="When places, maximum or waiting list were last given")
    capacity_updated_by: str | None
    live_phone: str | None
    targets: TargetsSpec
    locality_team_for: str | None


class HsdsDocument(BaseModel):
    """Open Referral HSDS 3: the objects as the specification names them (transfers/directory/hsds.py)."""

    hsds_version: str
    taxonomies: list[dict[str, Any]]
    taxonomy_terms: list[dict[str, Any]]
    service_areas: list[dict[str, Any]]
    organizations: list[dict[str, Any]]
    services: list[dict[str, Any]]


class NeedCategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    label: str


class LocalityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    name: str


# What a partner keeps up to date itself (``/api/partner/v1/services/{id}``).

Availability = Literal["open", "paused", "holiday"]


class ClosureSpec(Strict):
    """A planned closure, e.g. a bank holiday: closed from ``starts`` to ``ends``, both days included."""

    starts: date
    ends: date
    note: str | None = Field(None, max_length=120)

    @model_validator(mode="after")
    def _in_order(self) -> "ClosureSpec":
        if self.ends < self.starts:
            raise PydanticCustomError(
                "closure_order",
                "the closure ends ({ends}) before it starts ({starts})",
                {"ends": str(self.ends), "starts": str(self.starts)},
            )
        return self


class AvailabilityUpdate(Strict):
    """A partial change: only the fields given change. Setting ``open`` clears the reopening day
    and the note unless they are given too."""

    availability: Availability = Field(None, description="open, paused, or holiday (closed for a holiday)")  # type: ignore[assignment]
    reopens_on: date | None = Field(None, description="Paused or on holiday until the start of this day")
    note: str | None = Field(None, max_length=300, description="Why, for the helpline (no personal data)")
    spaces: int | None = Field(
        None,
        ge=0,
        le=MAX_SPACES,
        description="Places for more warm transfers now (each new one takes a place): 0 = at capacity "
        "(still suggested, lower, and the listener is told), null = not said",
    )
    maximum: int | None = Field(None, ge=0, le=DB_INT_MAX, description=MAXIMUM_HELP)
    waiting_list: WaitingList | None = Field(None, description=WAITING_LIST_HELP)
    hours: list[HoursSpec] = Field(None, max_length=28)  # type: ignore[assignment]
    closures: list[ClosureSpec] = Field(None, max_length=52)  # type: ignore[assignment]
    live_phone: str | None = Field(
        None, max_length=16, description="The live line, E.164 (e.g. +441823000111); null: no live line"
    )

    # Messages for the person at the form, without pydantic's "Value error, " in front.
    @field_validator("hours")
    @classmethod
    def _hours_parse(cls, value: list[HoursSpec]) -> list[HoursSpec]:
        try:
            parse_schedule([h.model_dump() for h in value])
        except ValueError as exc:
            raise PydanticCustomError("hours", str(exc)) from None
        return value

    @field_validator("live_phone")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is not None and not E164.match(value):
            raise PydanticCustomError(
                "e164", "use the international form: + then the country code and number, e.g. +441823000101"
            )
        return value


class AvailabilityOut(BaseModel):
    state: Availability
    reopens_on: date | None
    note: str | None
    spaces: int | None
    closures: list[ClosureSpec]
    available_now: bool
    unavailable_reason: str | None = Field(description="Why routing leaves the service out now, if it does")
    updated_at: Timestamp | None
    updated_by: str | None
    maximum: int | None = Field(description=MAXIMUM_HELP)
    waiting_list: WaitingList | None = Field(description=WAITING_LIST_HELP)
    capacity_updated_at: Timestamp | None = Field(description="When places, maximum or waiting list were last given")
    capacity_updated_by: str | None
    capacity_stale: bool = Field(description="Places or waiting list not confirmed for a day: listeners are told so")


class PartnerServiceOut(ServiceOut):
    availability: AvailabilityOut
