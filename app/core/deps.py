"""Request dependencies as ``Annotated`` aliases, so authorisation (401/403/404) lives here once."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import Clock
from app.core.db import session_scope
from app.core.errors import Forbidden, Unauthorized
from app.core.runtime import Runtime
from app.core.security import ApiKey, Role, User, authenticate_api_key
from app.core.signin import csrf_token_of, find_signed_in_user, remove_ended_session

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


# async on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, a needless hop
# on every webhook.
async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_clock(runtime: RuntimeDep) -> Clock:
    return runtime.clock


ClockDep = Annotated[Clock, Depends(get_clock)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with session_scope(runtime) as session:
        yield session


# scope="function": commit before the response is sent, so a 2xx means the change is stored.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


SESSION_KEY = "sid"


def _session_csrf(request: Request) -> str | None:
    token = request.session.get(SESSION_KEY)
    if not token:
        return None
    return csrf_token_of(request.app.state.runtime.settings.secret_key.get_secret_value(), token)


def csrf_token_for(request: Request) -> str:
    """Signed in: derived from the session's token. Signed out (the login form): a random token in
    the cookie, which the sign-in then replaces, so a signed-in cookie carries only the session id."""
    token = _session_csrf(request) or request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """Every state-changing browser request carries the session's token (header or form field)."""
    if request.method in SAFE_METHODS:
        return
    expected = _session_csrf(request) or request.session.get("csrf")
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        presented = (await request.form()).get(CSRF_FIELD)
    if not expected or not isinstance(presented, str) or not hmac.compare_digest(expected, presented):
        raise Forbidden("missing or wrong CSRF token; reload the page and try again", error="csrf_failed")


async def get_optional_user(request: Request, session: SessionDep) -> User | None:
    token = request.session.get(SESSION_KEY)
    if not token:
        return None
    user = await find_signed_in_user(session, token)
    if user is None:
        request.session.clear()
        # In a unit of work of its own: the request's rolls back when it answers 401.
        async with session_scope(request.app.state.runtime) as own:
            await remove_ended_session(own, token)
    return user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


async def get_current_user(request: Request, user: OptionalUser) -> User:
    if user is None:
        raise Unauthorized("sign in first")
    await check_csrf(request)
    return user


# Anyone signed in, a commissioner too: only for routes that name who may use them (require_role)
# or that show people their own account.
SignedInUser = Annotated[User, Depends(get_current_user)]


async def get_staff_user(user: SignedInUser) -> User:
    """Denied unless allowed: a commissioner reads the reports' aggregates and nothing else, so a
    route open to "anyone signed in" is still closed to them."""
    if user.role == Role.commissioner:
        raise Forbidden("a commissioner's account reads the reports only")
    return user


CurrentUser = Annotated[User, Depends(get_staff_user)]


def require_role(*roles: Role):
    allowed = {str(r) for r in roles}

    async def dependency(user: SignedInUser) -> User:
        if user.role not in allowed:
            raise Forbidden(f"this needs the {' or '.join(sorted(allowed))} role")
        return user

    return dependency


CurrentListener = Annotated[User, Depends(require_role(Role.listener, Role.supervisor))]
CurrentSupervisor = Annotated[User, Depends(require_role(Role.supervisor, Role.admin))]
CurrentAdmin = Annotated[User, Depends(require_role(Role.admin))]
CurrentHelpline = Annotated[User, Depends(require_role(Role.listener, Role.supervisor, Role.admin))]


@dataclass(frozen=True)
class PartnerPrincipal:
    """Who is acting for a partner organisation: a signed-in partner user or a partner system's key."""

    organisation_id: int
    user: User | None
    api_key: ApiKey | None

    @property
    def actor(self) -> str:
        if self.user is not None:
            return f"user:{self.user.username}"
        assert self.api_key is not None
        return f"apikey:{self.api_key.prefix}"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key")


async def get_current_partner(request: Request, session: SessionDep) -> PartnerPrincipal:
    presented = _bearer(request)
    if presented:
        # API keys are not ambient credentials like cookies, so they need no CSRF token.
        key = await authenticate_api_key(session, presented)
        return PartnerPrincipal(key.organisation_id, None, key)
    user = await get_current_user(request, await get_optional_user(request, session))
    if user.role != Role.partner or user.organisation_id is None:
        raise Forbidden("this needs a partner organisation's account or API key")
    return PartnerPrincipal(user.organisation_id, user, None)


CurrentPartner = Annotated[PartnerPrincipal, Depends(get_current_partner)]
