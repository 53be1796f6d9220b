"""Accounts, roles, passwords, partner API keys, and the tables sign-in keeps (attempts and
server-side sessions; their rules live in app/core/signin.py)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.audit import record_audit
from app.core.db import Base, runtime_of
from app.core.errors import Conflict, NotFound, Unauthorized, Unprocessable


class Role(StrEnum):
    listener = "listener"
    partner = "partner"
    supervisor = "supervisor"
    admin = "admin"
    # Reports only: aggregates, never a caller's number, notes or name (small counts shown as "<5").
    commissioner = "commissioner"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(f"role IN {tuple(r.value for r in Role)}", name="role_known"),
        # A partner user belongs to exactly one organisation; helpline staff belong to none.
        sa.CheckConstraint(
            "(role = 'partner' AND organisation_id IS NOT NULL) OR (role <> 'partner' AND organisation_id IS NULL)",
            name="partner_has_organisation",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(120))
    role: Mapped[str] = mapped_column(sa.String(16))
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    # Where to ring a listener who is not on the browser headset: a phone number or SIP address.
    dial_address: Mapped[str | None] = mapped_column(sa.String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    # Failed sign-ins before this moment no longer slow this account down (a supervisor's unlock).
    throttle_cleared_at: Mapped[datetime | None]

    @property
    def headset_identity(self) -> str:
        # Twilio client identities allow only letters, digits and underscores. A supervisor's
        # browser is rung as client:supervisor_<id> to listen, coach or barge.
        return f"{'supervisor' if self.role == 'supervisor' else 'listener'}_{self.id}"


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(sa.String(24), unique=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64))
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    __table_args__ = (sa.Index("ix_login_attempts_lookup", "username", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(80))
    ip: Mapped[str] = mapped_column(sa.String(64), index=True)
    succeeded: Mapped[bool]
    at: Mapped[datetime]


class UserSession(Base):
    """A signed-in browser. The cookie carries only a random token; this row keeps its hash."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ip: Mapped[str] = mapped_column(sa.String(64))
    user_agent: Mapped[str] = mapped_column(sa.String(300))


_hasher = PasswordHasher()
# Verified against when the username does not exist, so a wrong username costs as long as a
# wrong password and does not reveal which accounts exist.
DUMMY_HASH = _hasher.hash("openline-dummy-password")
API_KEY_PREFIX = "olk"
# Where Twilio can ring a listener off the browser: an E.164 number or a SIP URI (user@host).
E164 = re.compile(r"\+[1-9]\d{6,14}")
SIP_URI = re.compile(r"sip:[A-Za-z0-9._~%!$&'()*+,;=-]+@[A-Za-z0-9.-]+(:\d{1,5})?(;[A-Za-z0-9=._-]+)*")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_dial_address(value: str | None) -> str | None:
    """The address normalised (blank: none), or a 422 saying what a valid one looks like."""
    value = (value or "").strip()
    if not value:
        return None
    compact = re.sub(r"[\s()-]", "", value) if not value.lower().startswith("sip:") else value
    if E164.fullmatch(compact) or SIP_URI.fullmatch(compact):
        return compact
    raise Unprocessable("dial_address", "a phone number in international form (+44…) or a SIP address (sip:name@host)")


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    organisation_id: int | None = None,
    dial_address: str | None = None,
) -> User:
    username = username.strip().lower()
    if role not in Role.__members__:
        raise Unprocessable("role", f"unknown role {role!r}; one of {', '.join(Role)}")
    if not username or len(username) > 80:
        raise Unprocessable("username", "a username of 1 to 80 characters is required")
    if len(password) < 10:
        raise Unprocessable("password", "passwords need at least 10 characters")
    if (role == Role.partner) != (organisation_id is not None):
        raise Unprocessable("organisation", "a partner user belongs to one organisation; other roles to none")
    dial_address = check_dial_address(dial_address)
    if await session.scalar(sa.select(User.id).where(User.username == username)):
        raise Conflict(f"the username {username!r} is taken", error="duplicate_username")
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        organisation_id=organisation_id,
        password_hash=hash_password(password),
        dial_address=dial_address,
        created_at=runtime_of(session).clock.now(),
    )
    session.add(user)
    await session.flush()
    return user


async def change_dial_address(session: AsyncSession, *, user_id: int, dial_address: str | None, actor: str) -> User:
    """Set (or, with None, clear) where a listener's calls ring instead of the browser headset."""
    address = check_dial_address(dial_address)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    if user.role == Role.partner:
        raise Unprocessable("dial_address", "only helpline staff take calls")
    if user.dial_address != address:
        await record_audit(
            session,
            actor=actor,
            action="change_dial_address",
            subject_type="user",
            subject_id=user.id,
            had_address=user.dial_address is not None,
            has_address=address is not None,
        )
        user.dial_address = address
    return user


@dataclass(frozen=True)
class IssuedApiKey:
    key: ApiKey
    plaintext: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_api_key(
    session: AsyncSession, *, organisation_id: int, name: str, expires_at: datetime | None = None
) -> IssuedApiKey:
    """A partner system's key. The plaintext is returned once and only its hash is kept."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        prefix=prefix,
        secret_hash=_digest(secret),
        organisation_id=organisation_id,
        name=name,
        created_at=runtime_of(session).clock.now(),
        expires_at=expires_at,
    )
    session.add(key)
    await session.flush()
    return IssuedApiKey(key, f"{API_KEY_PREFIX}_{prefix}_{secret}")


async def authenticate_api_key(session: AsyncSession, presented: str) -> ApiKey:
    # High-entropy random secrets need no slow hash: SHA-256 and a constant-time compare suffice.
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        raise Unauthorized("malformed API key", error="bad_api_key")
    key = await session.scalar(sa.select(ApiKey).where(ApiKey.prefix == parts[1]))
    now = runtime_of(session).clock.now()
    if key is None or not hmac.compare_digest(key.secret_hash, _digest(parts[2])):
        raise Unauthorized("unknown API key", error="bad_api_key")
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        raise Unauthorized("this API key has expired or been revoked", error="expired_api_key")
    key.last_used_at = now
    return key


async def revoke_api_key(session: AsyncSession, *, key_id: int, organisation_id: int | None = None) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None or (organisation_id is not None and key.organisation_id != organisation_id):
        raise NotFound("no such API key")
    key.revoked_at = key.revoked_at or runtime_of(session).clock.now()
    return key
