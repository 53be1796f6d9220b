"""What the admin API takes and answers; bounded so bad input is a 422 naming the field."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.core.responses import DbId, Timestamp
from transfers.directory.schemas import SLUG_PATTERN

Password = Annotated[str, Field(min_length=10, max_length=200)]
NeedSlug = Annotated[str, Field(pattern=SLUG_PATTERN, max_length=40)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class UserIn(Strict):
    username: str = Field(min_length=1, max_length=80)
    password: Password | None = Field(None, description="Leave out to have Openline make one, shown once")
    role: str = Field(max_length=16)
    display_name: str | None = Field(None, max_length=120)
    organisation_id: DbId | None = None
    dial_address: str | None = Field(None, max_length=200)


class UserChange(Strict):
    """Only the fields given change, all at once or none; ``organisation_id`` goes with the partner
    role, ``dial_address`` with the others."""

    role: str = Field(None, max_length=16)  # type: ignore[assignment]
    display_name: str = Field(None, min_length=1, max_length=120)  # type: ignore[assignment]
    organisation_id: DbId | None = None
    dial_address: str | None = Field(
        None, max_length=200, description="E.164 number or sip: URI; null or blank: the browser headset"
    )


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: str
    organisation_id: int | None
    dial_address: str | None = None
    is_active: bool = True


class AddedUserOut(UserOut):
    password: str | None = Field(None, description="Only when Openline made the password: shown once")


class PasswordIn(Strict):
    password: Password | None = Field(None, description="Leave out to have Openline make one, shown once")


class PasswordOut(BaseModel):
    user_id: int
    password: str | None = Field(description="The new password when Openline made it: shown once")
    sessions_ended: int


class DialAddressIn(BaseModel):
    dial_address: str | None = Field(
        None, max_length=200, description="E.164 number or sip: URI; null or blank: the browser headset"
    )


class ApiKeyIn(Strict):
    name: str = Field(min_length=1, max_length=120)
    expires_at: Timestamp | None = None


class IssuedApiKeyOut(BaseModel):
    id: int
    name: str
    organisation_id: int
    key: str = Field(description="Shown once: store it now. Openline keeps only its hash.")


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    prefix: str
    name: str
    organisation_id: int
    created_at: Timestamp
    expires_at: Timestamp | None
    revoked_at: Timestamp | None
    last_used_at: Timestamp | None


class UserSessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: Timestamp
    last_seen_at: Timestamp
    expires_at: Timestamp
    ip: str
    user_agent: str


class DeliveryOut(BaseModel):
    """A partner notification without its body (it may hold a caller's details)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    organisation_id: int
    ticket_id: int | None
    event: str
    status: str
    attempts: int
    last_error: str | None
    created_at: Timestamp
    delivered_at: Timestamp | None


class NeedIn(Strict):
    slug: NeedSlug
    label: str = Field(min_length=1, max_length=80)


class NeedChange(Strict):
    label: str = Field(min_length=1, max_length=80)


class NeedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    label: str
    retired_at: Timestamp | None


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: Timestamp
    actor: str
    action: str
    subject_type: str
    subject_id: int
    detail: dict


class AuditPageOut(BaseModel):
    events: list[AuditOut]
    page: int
    has_more: bool
