"""Signing in and out, who am I, a supervisor's unlock, and the admin's account, session and
API-key endpoints."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from app.core.db import session_scope
from app.core.deps import (
    SESSION_KEY,
    CurrentAdmin,
    CurrentSupervisor,
    CurrentUser,
    OptionalUser,
    RuntimeDep,
    SessionDep,
    check_csrf,
    csrf_token_for,
)
from app.core.errors import AppError
from app.core.responses import SIGNED_IN, DbId, PathId, error_responses
from app.core.security import change_dial_address, create_api_key, create_user, revoke_api_key
from app.core.signin import (
    authenticate_user,
    clear_sign_in_throttle,
    end_user_session,
    end_user_sessions,
    list_user_sessions,
    one_attempt_at_a_time,
    start_user_session,
)
from app.core.web import HOME_BY_ROLE, render
from transfers.directory.service import find_organisation

router = APIRouter(tags=["accounts"], responses=error_responses(401))
# 409: a username that is taken.
admin_router = APIRouter(prefix="/api/admin", tags=["admin"], responses=error_responses(*SIGNED_IN, 409))


@router.get("/login", include_in_schema=False)
async def show_login(request: Request, user: OptionalUser):
    if user is not None:
        return RedirectResponse(HOME_BY_ROLE[user.role], status_code=303)
    return render(request, "login.html", next=request.query_params.get("next", ""))


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _wants_page(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


@router.post("/login", include_in_schema=False)
async def sign_in(
    request: Request, runtime: RuntimeDep, username: str = Form(""), password: str = Form(""), next: str = Form("")
):
    ip = _client_address(request)
    # The attempt is counted and committed before the next one for this account or address is
    # checked (one_attempt_at_a_time), so a parallel burst cannot slip past the throttle.
    async with session_scope(runtime, lock=one_attempt_at_a_time(username, ip)) as session:
        try:
            await check_csrf(request)
            user = await authenticate_user(session, username=username, password=password, ip=ip)
        except AppError as exc:
            # Answered, not raised: the session then commits the failed attempt (which the
            # throttle counts) and the audit of a refusal. A browser gets the page, anything else
            # the project's error body.
            if not _wants_page(request):
                return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)
            page = render(
                request, "login.html", status_code=exc.status_code, error=exc.detail, username=username, next=next
            )
            page.headers.update(exc.headers or {})
            return page
        token = await start_user_session(session, user=user, ip=ip, user_agent=request.headers.get("user-agent", ""))
    request.session.clear()
    request.session[SESSION_KEY] = token
    target = next if next.startswith("/") and not next.startswith("//") else HOME_BY_ROLE[user.role]
    return RedirectResponse(target, status_code=303)


@router.post("/logout", include_in_schema=False)
async def sign_out(request: Request, session: SessionDep):
    await check_csrf(request)
    token = request.session.get(SESSION_KEY)
    if token:
        await end_user_session(session, token)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.post(
    "/api/supervisor/people/{user_id}/unlock",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["supervisor"],
    responses=error_responses(*SIGNED_IN),
)
async def unlock_person(user_id: PathId, session: SessionDep, supervisor: CurrentSupervisor) -> None:
    """Clear the sign-in throttle on someone's account, so they can sign in again at once."""
    await clear_sign_in_throttle(session, user_id=user_id, actor=f"user:{supervisor.username}")


class MeOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    organisation_id: int | None
    csrf_token: str


@router.get("/api/me", response_model=MeOut)
async def show_me(request: Request, user: CurrentUser):
    return MeOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        organisation_id=user.organisation_id,
        csrf_token=csrf_token_for(request),
    )


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=10, max_length=200)
    role: str
    display_name: str | None = None
    organisation_id: DbId | None = None
    dial_address: str | None = None


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    organisation_id: int | None
    dial_address: str | None = None


@admin_router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def add_user(spec: UserIn, session: SessionDep, _admin: CurrentAdmin):
    if spec.organisation_id is not None:
        await find_organisation(session, spec.organisation_id)
    user = await create_user(session, **spec.model_dump())
    return UserOut.model_validate(user, from_attributes=True)


class DialAddressIn(BaseModel):
    dial_address: str | None = Field(
        None, max_length=200, description="E.164 number or sip: URI; null or blank: the browser headset"
    )


@admin_router.put("/users/{user_id}/dial-address", response_model=UserOut)
async def set_dial_address(user_id: PathId, change: DialAddressIn, session: SessionDep, admin: CurrentAdmin):
    user = await change_dial_address(
        session, user_id=user_id, dial_address=change.dial_address, actor=f"user:{admin.username}"
    )
    return UserOut.model_validate(user, from_attributes=True)


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    expires_at: datetime | None = None


class ApiKeyOut(BaseModel):
    id: int
    name: str
    organisation_id: int
    key: str = Field(description="Shown once: store it now. Openline keeps only its hash.")


@admin_router.post(
    "/organisations/{organisation_id}/api-keys", response_model=ApiKeyOut, status_code=status.HTTP_201_CREATED
)
async def issue_api_key(organisation_id: PathId, spec: ApiKeyIn, session: SessionDep, _admin: CurrentAdmin):
    await find_organisation(session, organisation_id)
    issued = await create_api_key(session, organisation_id=organisation_id, name=spec.name, expires_at=spec.expires_at)
    return ApiKeyOut(id=issued.key.id, name=issued.key.name, organisation_id=organisation_id, key=issued.plaintext)


@admin_router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_key(key_id: PathId, session: SessionDep, _admin: CurrentAdmin) -> None:
    await revoke_api_key(session, key_id=key_id)


class UserSessionOut(BaseModel):
    id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str
    user_agent: str


@admin_router.get("/users/{user_id}/sessions", response_model=list[UserSessionOut])
async def list_sessions(user_id: PathId, session: SessionDep, _admin: CurrentAdmin):
    """Where this person is signed in now (last seen is kept to the minute)."""
    records = await list_user_sessions(session, user_id=user_id)
    return [UserSessionOut.model_validate(r, from_attributes=True) for r in records]


@admin_router.delete("/users/{user_id}/sessions", status_code=status.HTTP_204_NO_CONTENT)
async def end_sessions(user_id: PathId, session: SessionDep, admin: CurrentAdmin) -> None:
    """Sign this person out everywhere."""
    await end_user_sessions(session, user_id=user_id, actor=f"user:{admin.username}")


@admin_router.delete("/users/{user_id}/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def end_session(user_id: PathId, session_id: PathId, session: SessionDep, admin: CurrentAdmin) -> None:
    await end_user_sessions(session, user_id=user_id, session_id=session_id, actor=f"user:{admin.username}")
