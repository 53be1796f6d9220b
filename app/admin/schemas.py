"""What the admin API takes and answers; bounded so bad input is a 422 naming the field."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from app.core.line import POSITION_MARK, VOICES
from app.core.responses import DbId, Timestamp
from transfers.directory.schemas import SLUG_PATTERN, ClosureSpec, HoursSpec
from transfers.hours import parse_schedule

Password = Annotated[str, Field(min_length=10, max_length=200)]
NeedSlug = Annotated[str, Field(pattern=SLUG_PATTERN, max_length=40)]
# Spoken length limits: well inside Twilio's (3000 characters for a Polly voice), and short
# enough that a caller is not kept listening long before they reach a listener or the tone.
MAX_GREETING = 400
MAX_MESSAGE = 600
MAX_POSITION = 240


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


# ---- the line's own settings ------------------------------------------------------------------


def _spoken(max_length: int, description: str):
    return Field(None, min_length=1, max_length=max_length, description=description)


class LineClosureSpec(ClosureSpec):
    """A day or days the line is closed (callers are offered voicemail), with the reason."""

    note: str = Field(min_length=1, max_length=120, description="Why, e.g. Christmas Day")  # type: ignore[assignment]


class LineSettingsChange(Strict):
    """Only the fields given change; ``null`` puts a field back to its default (the environment's
    setting, or the built-in wording)."""

    taking_calls: bool | None = Field(None, description="Off: every caller is offered voicemail (OPENLINE_LINE_OPEN)")
    hours: list[HoursSpec] | None = Field(None, min_length=1, max_length=28, description="Weekly slots; null: 24/7")
    timezone: str | None = Field(None, max_length=64)
    closures: list[LineClosureSpec] | None = Field(None, max_length=60)
    max_wait_seconds: int | None = Field(None, ge=30, le=3600, description="Longest wait before voicemail")
    position_announce_seconds: int | None = Field(None, ge=15, le=600)
    greeting: str | None = _spoken(MAX_GREETING, "Said when a call arrives, before the caller waits")
    closed_message: str | None = _spoken(MAX_MESSAGE, "Said while the line is closed, before the tone")
    voicemail_prompt: str | None = _spoken(MAX_MESSAGE, "Said after the longest wait, before the tone")
    position_wording: str | None = _spoken(MAX_POSITION, "Said on hold; {position} is the caller's place")
    voice: str | None = Field(None, max_length=40, description="; ".join(VOICES))

    @field_validator("hours")
    @classmethod
    def _hours_parse(cls, value: list[HoursSpec] | None) -> list[HoursSpec] | None:
        if value is not None:
            try:
                parse_schedule([h.model_dump() for h in value])
            except ValueError as exc:
                raise PydanticCustomError("hours", str(exc)) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise PydanticCustomError("timezone", "unknown time zone (use e.g. Europe/London)") from None
        return value

    @field_validator("voice")
    @classmethod
    def _known_voice(cls, value: str | None) -> str | None:
        if value is not None and value not in VOICES:
            raise PydanticCustomError(
                "voice", "not a British English voice: one of {voices}", {"voices": ", ".join(VOICES)}
            )
        return value

    @field_validator("position_wording")
    @classmethod
    def _has_position(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if (
            value.count(POSITION_MARK) != 1
            or value.replace(POSITION_MARK, "").count("{")
            or "}" in value.replace(POSITION_MARK, "")
        ):
            raise PydanticCustomError("position", "say {position} once, where the caller's place in the queue goes")
        return value

    @field_validator("greeting", "closed_message", "voicemail_prompt", "position_wording")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        # Spoken as written: line breaks and runs of spaces mean nothing to the voice.
        return " ".join(value.split()) if value is not None else None


class SpokenOut(BaseModel):
    says: str = Field(description="Everything the caller hears, in order")
    seconds: int = Field(description="About how long it takes to say")


class LineHeardOut(BaseModel):
    greeting: SpokenOut
    closed_message: SpokenOut
    voicemail_prompt: SpokenOut
    position_wording: SpokenOut


class LineSettingsOut(BaseModel):
    taking_calls: bool
    hours: list[HoursSpec] | None
    timezone: str
    closures: list[LineClosureSpec]
    max_wait_seconds: int
    position_announce_seconds: int
    greeting: str
    closed_message: str
    voicemail_prompt: str
    position_wording: str
    voice: str
    language: str
    voices: dict[str, str]
    defaults: list[str] = Field(description="The fields still at their default (never saved)")
    open_now: bool
    open_words: str = Field(description="Whether callers reach a listener now, and until when")
    heard: LineHeardOut
    updated_at: Timestamp | None
    updated_by: str | None
