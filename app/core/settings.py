"""Settings from the environment (prefix ``OPENLINE_``), validated at start-up."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER = "change-me"
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{ROOT / 'var' / 'openline.db'}"
# The number the simulator's practice callers ring: fine for the demo, never a real line's.
DEMO_LINE_NUMBER = "+441234000000"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class CrisisLine(BaseModel):
    """A crisis line the listener or a supervisor can dial into a live call (a warm transfer)."""

    name: str = Field(min_length=1, max_length=80)
    number: str = Field(pattern=E164.pattern, description="E.164, e.g. +441823000999")


class SettingsError(ValueError):
    """Raised when the configuration is unsafe to start with; the message says what to set."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENLINE_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "production"
    database_url: str = DEFAULT_DATABASE_URL
    public_url: str = "http://127.0.0.1:8000"
    telephony: Literal["twilio", "simulated"] = "twilio"

    twilio_account_sid: str = "AC" + "0" * 32
    twilio_auth_token: SecretStr = SecretStr(PLACEHOLDER)
    twilio_api_key_sid: str = ""
    twilio_api_key_secret: SecretStr = SecretStr("")
    twilio_twiml_app_sid: str = ""
    twilio_api_base: str = ""
    # The line's own Twilio number: the From of every dial and text (Twilio refuses any other).
    twilio_caller_id: str = ""
    # Where ``make install`` put the browser packages (Twilio's Voice SDK): served, never a CDN.
    node_modules_dir: Path = ROOT / "node_modules"

    secret_key: SecretStr = SecretStr(PLACEHOLDER)
    data_key: SecretStr = SecretStr(PLACEHOLDER)
    # Key rotation: every data key in use, newest first (the newest encrypts, all decrypt). Empty:
    # OPENLINE_DATA_KEY alone. JSON, e.g. ["new-key…", "old-key…"].
    data_keys: list[SecretStr] = Field(default_factory=list, max_length=10)
    # The caller hash's own key; empty: OPENLINE_DATA_KEY's, as before rotation existed. It must
    # never change, or repeat callers and subject access requests stop matching earlier calls.
    caller_hash_key: SecretStr = SecretStr("")

    # Retention, in days, per kind of data (README "Personal data" says why each default). A value
    # below the kind's floor (RETENTION_FLOORS) is refused at start-up.
    retain_call_records_days: int = Field(395, ge=1)
    retain_call_logs_days: int = Field(395, ge=1)
    retain_safeguarding_days: int = Field(2920, ge=1)
    retain_recordings_days: int = Field(30, ge=1)
    retain_tickets_days: int = Field(730, ge=1)
    retain_webhook_deliveries_days: int = Field(30, ge=1)
    retain_live_events_days: int = Field(2, ge=1)
    retain_jobs_days: int = Field(30, ge=1)
    retain_signin_attempts_days: int = Field(90, ge=1)
    retain_audit_days: int = Field(2555, ge=1)
    # The keyed hash a text survey keeps to match the caller's reply (the answers stay, unnamed).
    retain_survey_numbers_days: int = Field(7, ge=1)
    retention_batch_size: int = Field(500, ge=1, le=10_000)

    session_minutes: int = Field(30, ge=1, le=240)
    session_warning_minutes: int = Field(5, ge=0, le=60)
    wrap_up_seconds: int = Field(120, ge=0, le=3600)
    # The contact types whose full log (consent, outcome) must be recorded before the listener takes
    # the next caller, rings someone back or starts a callback, as JSON: '["support", "abusive"]'.
    # A call with no log yet counts as one of these (nobody knows it was silent until it is said);
    # the others (silent, wrong number, hang-up, test) take a short log: type, title, outcome, no
    # consent question. An empty list turns the check off.
    log_before_next_contact_types: list[Literal["support", "silent", "wrong-number", "abusive", "hang-up", "test"]] = (
        Field(default_factory=lambda: ["support", "abusive"], max_length=6)
    )
    max_wait_seconds: int = Field(600, ge=10)
    live_transfer_ring_seconds: int = Field(30, ge=5, le=300)
    line_open: bool = True
    # The shift lead's board: when a wait or an overrun becomes an alert.
    wait_target_seconds: int = Field(60, ge=10)
    overrun_alert_minutes: int = Field(5, ge=0, le=120)
    # Whether a listener's page says a supervisor is listening or coaching (barging is always heard).
    tell_listener_when_monitored: bool = True
    position_announce_seconds: int = Field(45, ge=10)
    # This line's crisis lines, as JSON: [{"name": "Somerset crisis team", "number": "+44…"}].
    crisis_lines: list[CrisisLine] = Field(default_factory=list, max_length=10)
    crisis_ring_seconds: int = Field(45, ge=5, le=300)
    # The capacity model: how many past weeks it learns from, and the share of a rota lost to
    # breaks, training and sickness.
    capacity_weeks: int = Field(4, ge=1, le=52)
    capacity_shrinkage: float = Field(0.30, ge=0, le=0.8)

    # Sign-in throttle: failures first cost nothing, then each further attempt waits a doubling
    # delay. Never a lock-out: a stranger slows only themselves (see app/core/throttle.py).
    login_free_failures: int = Field(5, ge=1)
    login_address_free_failures: int = Field(20, ge=1)
    login_account_free_failures: int = Field(10, ge=1)
    login_max_delay_seconds: int = Field(900, ge=1)
    login_account_max_delay_seconds: int = Field(60, ge=1)
    login_window_seconds: int = Field(3600, ge=1)
    # A signed-in browser: ended after this long without a request, and at the latest after the
    # absolute limit.
    signin_idle_minutes: int = Field(120, ge=1)
    signin_max_hours: int = Field(12, ge=1)
    max_body_bytes: int = Field(64 * 1024, ge=1024)

    run_jobs: bool = True
    job_poll_seconds: float = Field(1.0, gt=0)
    simulate_callers: bool = False
    simulator_port: int = 8010
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> "Settings":
        if self.session_warning_minutes >= self.session_minutes:
            raise SettingsError("OPENLINE_SESSION_WARNING_MINUTES must be less than OPENLINE_SESSION_MINUTES")
        too_short = retention_too_short(self)
        if too_short:
            raise SettingsError("refusing to start: " + "; ".join(too_short))
        if self.environment == "development":
            if not self.twilio_caller_id:
                self.twilio_caller_id = DEMO_LINE_NUMBER
            return self
        if self.telephony == "simulated":
            raise SettingsError(
                "OPENLINE_TELEPHONY=simulated turns off Twilio signature checks and is only allowed "
                "with OPENLINE_ENVIRONMENT=development"
            )
        weak = [
            f"OPENLINE_{name.upper()}"
            for name in ("secret_key", "data_key", "twilio_auth_token")
            if _is_placeholder(getattr(self, name))
        ]
        if any(_is_placeholder(key) for key in self.data_keys):
            weak.append("OPENLINE_DATA_KEYS")
        if self.caller_hash_key.get_secret_value() and _is_placeholder(self.caller_hash_key):
            weak.append("OPENLINE_CALLER_HASH_KEY")
        if weak:
            raise SettingsError(
                "refusing to start outside development with missing or placeholder secrets: "
                + ", ".join(weak)
                + " (set each to a long random value, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        if self.twilio_caller_id in ("", DEMO_LINE_NUMBER) or not E164.match(self.twilio_caller_id):
            raise SettingsError(
                "refusing to start outside development without OPENLINE_TWILIO_CALLER_ID: set it to the line's "
                "own Twilio number in E.164 (e.g. +441632960000); Twilio refuses every dial and text from any other"
            )
        return self

    @property
    def encryption_keys(self) -> list[str]:
        """The data keys, newest first."""
        return [k.get_secret_value() for k in self.data_keys] or [self.data_key.get_secret_value()]

    @property
    def hash_key(self) -> str:
        return self.caller_hash_key.get_secret_value() or self.data_key.get_secret_value()

    def retention_days(self, kind: str) -> int:
        return getattr(self, f"retain_{kind}_days")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def signature_checks(self) -> bool:
        return self.telephony == "twilio"

    @cached_property
    def public_base(self) -> str:
        return self.public_url.rstrip("/")


# The shortest each kind may be kept, and why: below these the line breaks a legal duty or its own
# working (Twilio retries a webhook for up to a day; the sign-in throttle looks back an hour).
RETENTION_FLOORS: dict[str, tuple[int, str]] = {
    "call_records": (30, "a complaint or an incident review needs the month's calls"),
    "call_logs": (30, "a complaint or an incident review needs the month's logs"),
    "safeguarding": (2190, "safeguarding records are kept at least 6 years (limitation period, Limitation Act 1980)"),
    "recordings": (1, "the listener who claimed a voicemail must be able to play it"),
    "tickets": (90, "a partner may still be reporting an outcome on a warm transfer"),
    "webhook_deliveries": (2, "Twilio retries a delivery for up to a day; the stored reply answers it"),
    "live_events": (1, "a dashboard reconnecting catches up on the last day's events"),
    "jobs": (1, "a finished job's row stops it running twice"),
    "signin_attempts": (1, "the sign-in throttle counts the last hour's failures"),
    "audit": (2190, "the audit trail is evidence for 6 years (Limitation Act 1980)"),
    "survey_numbers": (5, "a survey text goes the next day and waits 3 days for its reply"),
}


def retention_too_short(settings: "Settings") -> list[str]:
    """What is set below its floor, each said with the floor and why."""
    return [
        f"OPENLINE_RETAIN_{kind.upper()}_DAYS={settings.retention_days(kind)} is below the minimum of {floor} days ({why})"
        for kind, (floor, why) in RETENTION_FLOORS.items()
        if settings.retention_days(kind) < floor
    ]


def _is_placeholder(secret: SecretStr) -> bool:
    value = secret.get_secret_value().strip()
    return not value or value == PLACEHOLDER or len(value) < 16


def development_settings(**overrides) -> Settings:
    """Settings for the demo and practice mode: simulated telephony, placeholder secrets allowed."""
    values = {"environment": "development", "telephony": "simulated"} | overrides
    return Settings(**values)
