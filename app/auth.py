"""Signing in and out, who am I, and a supervisor's unlock (the admin's endpoints are in app/admin)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel

from app.core.db import session_scope
from app.core.deps import (
    SESSION_KEY,
    CurrentSupervisor,
    CurrentUser,
    OptionalUser,
    RuntimeDep,
    SessionDep,
    check_csrf,
    csrf_token_for,
)
from app.core.errors import AppError
from app.core.responses import SIGNED_IN, PathId, error_responses
from app.core.signin import (
    authenticate_user,
    clear_sign_in_throttle,
    end_user_session,
    one_attempt_at_a_time,
    start_user_session,
)
from app.core.web import HOME_BY_ROLE, render

router = APIRouter(tags=["accounts"], responses=error_responses(401))


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
