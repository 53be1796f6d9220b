"""Signing in: the throttle that slows strangers without locking listeners out, and the
server-side sessions a signed-in browser's cookie points at.

The throttle never locks an account. Failed attempts are counted three ways, each with some free
failures and then a delay that doubles with every further failure:

- from this address for this account: what an attacker at one address hammering one account hits;
- from this address for any account: one address spraying many accounts (wider, since an office
  address serves a whole team);
- for this account from anywhere: much gentler and capped low, and skipped entirely on an address
  the person has signed in from before, so a stranger hammering ``sam`` cannot keep ``sam`` out.

A refused (throttled) attempt is not checked against the password and is not counted, so
hammering during a delay does not lengthen it. Every refusal is audited, never with the password.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import secrets
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import record_audit
from app.core.db import runtime_of
from app.core.errors import NotFound, TooManyRequests, Unauthorized
from app.core.security import DUMMY_HASH, LoginAttempt, User, UserSession, verify_password

# An address someone signed in from this recently is theirs: the account-wide delay skips it.
KNOWN_ADDRESS_DAYS = 30
# last_seen_at is written at most this often, so busy dashboards do not write on every request.
TOUCH_EVERY = timedelta(minutes=1)
USER_AGENT_MAX = 300


def normal_username(username: str) -> str:
    return username.strip().lower()[:80]


# SQLite has no row locks and one process serves it: without this, a burst of parallel guesses
# would all pass the same throttle check before any of them is counted. One attempt per account
# and per address at a time in this process, held until the attempt is committed (PostgreSQL's row
# lock in authenticate_user does the same across processes). Weak values: a lock nobody waits on
# is dropped, so strangers' made-up usernames do not pile up.
_attempt_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


@asynccontextmanager
async def one_attempt_at_a_time(username: str, ip: str) -> AsyncIterator[None]:
    account = _attempt_locks.setdefault(f"user:{normal_username(username)}", asyncio.Lock())
    address = _attempt_locks.setdefault(f"ip:{ip[:64]}", asyncio.Lock())
    async with account, address:  # always this order, so two attempts never wait on each other
        yield


class SignInThrottled(TooManyRequests):
    error = "sign_in_throttled"

    def __init__(self, retry_after: int):
        unit = "second" if retry_after == 1 else "seconds"
        super().__init__(
            f"too many attempts, try again in {retry_after} {unit}", headers={"Retry-After": str(retry_after)}
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class Failures:
    count: int
    last_at: datetime | None


def throttle_wait(failures: Failures, now: datetime, *, free: int, cap_seconds: int) -> int:
    """Whole seconds before the next attempt may be tried: 0 for the first ``free`` failures,
    then 1, 2, 4, 8 ... seconds after the latest failure, never more than ``cap_seconds``."""
    if failures.count < free or failures.last_at is None:
        return 0
    delay = min(cap_seconds, 2 ** min(failures.count - free, 30))
    remaining = (failures.last_at + timedelta(seconds=delay) - now).total_seconds()
    return max(0, math.ceil(remaining))


def _latest(*moments: datetime | None) -> datetime:
    return max(m for m in moments if m is not None)


async def _failures(session: AsyncSession, *where: sa.ColumnElement[bool], since: datetime) -> Failures:
    count, last_at = (
        await session.execute(
            sa.select(sa.func.count(), sa.func.max(LoginAttempt.at)).where(
                ~LoginAttempt.succeeded, LoginAttempt.at > since, *where
            )
        )
    ).one()
    return Failures(count, last_at)


async def _last_success(session: AsyncSession, *where: sa.ColumnElement[bool]) -> datetime | None:
    return await session.scalar(sa.select(sa.func.max(LoginAttempt.at)).where(LoginAttempt.succeeded, *where))


async def find_sign_in_throttle(
    session: AsyncSession, *, username: str, ip: str, cleared_at: datetime | None
) -> tuple[str, int] | None:
    """Which count blocks this attempt and for how many seconds, or None when it may go ahead."""
    runtime = runtime_of(session)
    settings, now = runtime.settings, runtime.clock.now()
    window = now - timedelta(seconds=settings.login_window_seconds)
    from_here = await _last_success(session, LoginAttempt.username == username, LoginAttempt.ip == ip)
    anywhere = await _last_success(session, LoginAttempt.username == username)
    pair = await _failures(
        session, LoginAttempt.username == username, LoginAttempt.ip == ip, since=_latest(window, from_here, cleared_at)
    )
    address = await _failures(session, LoginAttempt.ip == ip, since=window)
    waits = {
        "address_and_account": throttle_wait(
            pair, now, free=settings.login_free_failures, cap_seconds=settings.login_max_delay_seconds
        ),
        "address": throttle_wait(
            address, now, free=settings.login_address_free_failures, cap_seconds=settings.login_max_delay_seconds
        ),
    }
    if from_here is None or from_here < now - timedelta(days=KNOWN_ADDRESS_DAYS):
        account = await _failures(
            session, LoginAttempt.username == username, since=_latest(window, anywhere, cleared_at)
        )
        waits["account"] = throttle_wait(
            account,
            now,
            free=settings.login_account_free_failures,
            cap_seconds=settings.login_account_max_delay_seconds,
        )
    scope, wait = max(waits.items(), key=lambda item: item[1])
    return (scope, wait) if wait > 0 else None


async def authenticate_user(session: AsyncSession, *, username: str, password: str, ip: str) -> User:
    """Check a sign-in, recording the attempt; raises 429 while throttled and 401 when wrong."""
    username = normal_username(username)
    ip = ip[:64]
    # Row-locked (PostgreSQL) so a burst of parallel guesses is counted one by one, not all let
    # through by the same check; NO KEY UPDATE leaves rows that only refer to the person unblocked.
    user = await session.scalar(sa.select(User).where(User.username == username).with_for_update(key_share=True))
    throttle = await find_sign_in_throttle(
        session, username=username, ip=ip, cleared_at=user.throttle_cleared_at if user else None
    )
    if throttle is not None:
        scope, wait = throttle
        await record_audit(
            session,
            actor=f"address:{ip}",
            action="sign_in_throttled",
            subject_type="user" if user else "unknown_user",
            subject_id=user.id if user else 0,
            username=username,
            ip=ip,
            scope=scope,
            retry_after=wait,
        )
        raise SignInThrottled(wait)
    ok = verify_password(user.password_hash if user else DUMMY_HASH, password) and bool(user and user.is_active)
    session.add(LoginAttempt(username=username, ip=ip, succeeded=ok, at=runtime_of(session).clock.now()))
    await session.flush()
    if not ok or user is None:
        raise Unauthorized("wrong username or password", error="bad_credentials")
    return user


async def clear_sign_in_throttle(session: AsyncSession, *, user_id: int, actor: str) -> User:
    """A supervisor lets someone straight back in: earlier failures stop counting for the account
    (the per-address count of a stranger's own address is left alone)."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("no such person")
    user.throttle_cleared_at = runtime_of(session).clock.now()
    await record_audit(
        session,
        actor=actor,
        action="clear_sign_in_throttle",
        subject_type="user",
        subject_id=user.id,
        username=user.username,
    )
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_of(secret_key: str, session_token: str) -> str:
    """The CSRF token of a signed-in session: derived from its token, so it needs no storage and
    changes with every sign-in."""
    return hmac.new(secret_key.encode(), b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


async def start_user_session(session: AsyncSession, *, user: User, ip: str, user_agent: str) -> str:
    """A new signed-in session; returns the token for the cookie (only its hash is kept)."""
    runtime = runtime_of(session)
    now = runtime.clock.now()
    # Sessions that ran out are otherwise only removed when their cookie comes back.
    await session.execute(
        sa.delete(UserSession).where(
            UserSession.user_id == user.id,
            (UserSession.expires_at <= now) | (UserSession.last_seen_at <= now - _idle(session)),
        )
    )
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            token_hash=_digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=runtime.settings.signin_max_hours),
            ip=ip[:64],
            user_agent=user_agent[:USER_AGENT_MAX],
        )
    )
    await session.flush()
    return token


def _idle(session: AsyncSession) -> timedelta:
    return timedelta(minutes=runtime_of(session).settings.signin_idle_minutes)


def _has_ended(record: UserSession, user: User, now: datetime, idle: timedelta) -> bool:
    return not user.is_active or now >= record.expires_at or now - record.last_seen_at >= idle


async def _find_session(session: AsyncSession, token: str) -> tuple[UserSession, User] | None:
    row = (
        await session.execute(
            sa.select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.token_hash == _digest(token))
        )
    ).first()
    return (row[0], row[1]) if row else None


async def find_signed_in_user(session: AsyncSession, token: str) -> User | None:
    """The person a cookie's token belongs to, or None when the session has ended, run out
    (idle or absolute limit) or its person was deactivated."""
    found = await _find_session(session, token)
    if found is None:
        return None
    record, user = found
    now = runtime_of(session).clock.now()
    if _has_ended(record, user, now, _idle(session)):
        return None
    if now - record.last_seen_at >= TOUCH_EVERY:
        record.last_seen_at = now
    return user


async def remove_ended_session(session: AsyncSession, token: str) -> None:
    """Delete a session that has run out; a deactivated person's sessions all go, so turning
    them back on later does not bring old cookies back to life."""
    found = await _find_session(session, token)
    if found is None:
        return
    record, user = found
    if not user.is_active:
        await session.execute(sa.delete(UserSession).where(UserSession.user_id == user.id))
    elif _has_ended(record, user, runtime_of(session).clock.now(), _idle(session)):
        await session.delete(record)


async def end_user_session(session: AsyncSession, token: str) -> None:
    """Signing out: the session is gone, so a copy of the cookie no longer works."""
    await session.execute(sa.delete(UserSession).where(UserSession.token_hash == _digest(token)))


async def list_user_sessions(session: AsyncSession, *, user_id: int) -> list[UserSession]:
    if await session.get(User, user_id) is None:
        raise NotFound("no such person")
    now = runtime_of(session).clock.now()
    stmt = (
        sa.select(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.expires_at > now,
            UserSession.last_seen_at > now - _idle(session),
        )
        .order_by(UserSession.created_at.desc(), UserSession.id.desc())
    )
    return list((await session.scalars(stmt)).all())


async def end_user_sessions(session: AsyncSession, *, user_id: int, actor: str, session_id: int | None = None) -> int:
    """An admin signs someone out: one session, or (without ``session_id``) all of them."""
    if await session.get(User, user_id) is None:
        raise NotFound("no such person")
    stmt = sa.delete(UserSession).where(UserSession.user_id == user_id)
    if session_id is not None:
        stmt = stmt.where(UserSession.id == session_id)
    ended = (await session.execute(stmt)).rowcount or 0
    if session_id is not None and ended == 0:
        raise NotFound("no such session")
    await record_audit(
        session,
        actor=actor,
        action="end_user_sessions",
        subject_type="user",
        subject_id=user_id,
        session_id=session_id,
        ended=ended,
    )
    return ended
