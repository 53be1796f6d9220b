"""``/admin`` and ``/api/admin/...``: thin routes over app.admin.service (the session commits)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict

from app.admin import line
from app.admin import service as admin
from app.admin.schemas import (
    AddedUserOut,
    ApiKeyIn,
    ApiKeyOut,
    AuditOut,
    AuditPageOut,
    DeliveryOut,
    DialAddressIn,
    IssuedApiKeyOut,
    LineHeardOut,
    LineSettingsChange,
    LineSettingsOut,
    NeedChange,
    NeedIn,
    NeedOut,
    PasswordIn,
    PasswordOut,
    UserChange,
    UserIn,
    UserOut,
    UserSessionOut,
)
from app.core.deps import CurrentAdmin, OptionalUser, SessionDep
from app.core.responses import DB_INT_MAX, SIGNED_IN, PathId, Timestamp, error_responses
from app.core.security import change_dial_address
from app.core.signin import end_user_sessions, list_user_sessions
from app.core.web import render
from transfers.directory.schemas import SLUG_PATTERN
from transfers.directory.service import list_need_categories
from transfers.notifications import list_deliveries

pages = APIRouter(include_in_schema=False)
# 409: a username or slug that is taken, the last admin, your own account, a delivery not dead.
router = APIRouter(prefix="/api/admin", tags=["admin"], responses=error_responses(*SIGNED_IN, 409))

NeedPath = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=40)]


def _actor(user) -> str:
    return f"user:{user.username}"


@pages.get("/admin")
async def show_admin_page(request: Request, user: OptionalUser):
    if user is None:
        return RedirectResponse("/login?next=/admin", status_code=303)
    if user.role != "admin":
        return render(request, "forbidden.html", status_code=403, user=user)
    return render(request, "admin.html", user=user)


# ---- people -----------------------------------------------------------------------------------


@router.get("/users", response_model=list[UserOut])
async def show_people(session: SessionDep, _admin: CurrentAdmin):
    return await admin.list_people(session)


@router.post("/users", response_model=AddedUserOut, status_code=status.HTTP_201_CREATED)
async def add_user(spec: UserIn, session: SessionDep, user: CurrentAdmin):
    """Add a person. Without ``password`` Openline makes one and answers it this once."""
    added, password = await admin.add_person(session, spec, actor=_actor(user))
    return AddedUserOut.model_validate(added).model_copy(update={"password": password})


@router.patch("/users/{user_id}", response_model=UserOut)
async def change_user(user_id: PathId, change: UserChange, session: SessionDep, user: CurrentAdmin):
    """Change someone's role, organisation (partner workers) or name; a new role or organisation
    signs them out everywhere."""
    return await admin.change_person(session, user_id, change, admin=user)


@router.post("/users/{user_id}/deactivate", response_model=UserOut)
async def deactivate_user(user_id: PathId, session: SessionDep, user: CurrentAdmin):
    """They can no longer sign in and are signed out everywhere now (never yourself or the last admin)."""
    return await admin.deactivate_person(session, user_id, admin=user)


@router.post("/users/{user_id}/reactivate", response_model=UserOut)
async def reactivate_user(user_id: PathId, session: SessionDep, user: CurrentAdmin):
    return await admin.reactivate_person(session, user_id, admin=user)


@router.post("/users/{user_id}/password", response_model=PasswordOut)
async def reset_user_password(user_id: PathId, change: PasswordIn, session: SessionDep, user: CurrentAdmin):
    """Set a new password (or, without one, have Openline make it and show it once)."""
    changed, password, ended = await admin.reset_password(session, user_id, change.password, admin=user)
    return PasswordOut(user_id=changed.id, password=password, sessions_ended=ended)


@router.put("/users/{user_id}/dial-address", response_model=UserOut)
async def set_dial_address(user_id: PathId, change: DialAddressIn, session: SessionDep, user: CurrentAdmin):
    """Ring this listener's desk phone or SIP address instead of the browser headset (null: the headset)."""
    return await change_dial_address(session, user_id=user_id, dial_address=change.dial_address, actor=_actor(user))


@router.get("/users/{user_id}/sessions", response_model=list[UserSessionOut])
async def list_sessions(user_id: PathId, session: SessionDep, _admin: CurrentAdmin):
    """Where this person is signed in now (last seen is kept to the minute)."""
    return await list_user_sessions(session, user_id=user_id)


@router.delete("/users/{user_id}/sessions", status_code=status.HTTP_204_NO_CONTENT)
async def end_sessions(user_id: PathId, session: SessionDep, user: CurrentAdmin) -> None:
    """Sign this person out everywhere."""
    await end_user_sessions(session, user_id=user_id, actor=_actor(user))


@router.delete("/users/{user_id}/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def end_session(user_id: PathId, session_id: PathId, session: SessionDep, user: CurrentAdmin) -> None:
    await end_user_sessions(session, user_id=user_id, session_id=session_id, actor=_actor(user))


# ---- partner API keys -------------------------------------------------------------------------


@router.get("/api-keys", response_model=list[ApiKeyOut])
async def show_api_keys(
    session: SessionDep,
    _admin: CurrentAdmin,
    organisation_id: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None,
):
    """Every key (never its secret), live ones first, with when each was last used."""
    return await admin.list_api_keys(session, organisation_id=organisation_id)


@router.post(
    "/organisations/{organisation_id}/api-keys", response_model=IssuedApiKeyOut, status_code=status.HTTP_201_CREATED
)
async def issue_api_key(organisation_id: PathId, spec: ApiKeyIn, session: SessionDep, user: CurrentAdmin):
    issued = await admin.issue_api_key(
        session, organisation_id=organisation_id, name=spec.name, expires_at=spec.expires_at, actor=_actor(user)
    )
    return IssuedApiKeyOut(
        id=issued.key.id, name=issued.key.name, organisation_id=organisation_id, key=issued.plaintext
    )


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_key(key_id: PathId, session: SessionDep, user: CurrentAdmin) -> None:
    await admin.withdraw_api_key(session, key_id=key_id, actor=_actor(user))


# ---- partner webhooks -------------------------------------------------------------------------


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None


class WebhookOut(BaseModel):
    organisation_id: int
    url: str | None
    # Shown once, in this response; stored only encrypted.
    secret: str | None


@router.put("/organisations/{organisation_id}/webhook", response_model=WebhookOut)
async def set_organisation_webhook(organisation_id: PathId, change: WebhookIn, session: SessionDep, user: CurrentAdmin):
    """Set where an organisation's warm-transfer notifications are pushed, with a new secret.

    ``url`` must be an ``http://`` or ``https://`` address (422 otherwise; ``null`` turns pushes
    off). Every call makes a new secret and returns it **once**; it cannot be read again, so
    give it to the partner now. Notifications are POSTed as JSON::

        {"id": 41, "event": "ticket.created", "ticket_id": 7, "created_at": "...", "data": {...}}

    with the headers ``X-Openline-Timestamp`` (unix seconds), ``X-Openline-Signature``
    (``v1=<hex>``), ``X-Openline-Delivery`` (the notification id) and ``X-Openline-Event``.

    To verify a delivery, the partner computes HMAC-SHA256 keyed with the secret (its UTF-8
    bytes) over the timestamp header, a ``.``, and the **raw request body bytes** (before any
    JSON parsing), hex-encodes it, prefixes ``v1=``, and compares that with
    ``X-Openline-Signature`` in constant time. It should also reject a timestamp more than
    5 minutes from its own clock (replays). ``transfers.notifications.verify_delivery`` does
    exactly this. Answer any 2xx once stored; anything else (or no answer within 10 s) is
    retried with exponential backoff (30 s, 1 min, 2 min … hourly) for 24 hours. Deliveries are
    at-least-once: de-duplicate on ``X-Openline-Delivery``.
    """
    organisation, secret = await admin.change_webhook(
        session, organisation_id=organisation_id, url=change.url, actor=_actor(user)
    )
    return WebhookOut(organisation_id=organisation.id, url=organisation.webhook_url, secret=secret)


@router.post(
    "/organisations/{organisation_id}/webhook/test", response_model=DeliveryOut, status_code=status.HTTP_201_CREATED
)
async def test_organisation_webhook(organisation_id: PathId, session: SessionDep, user: CurrentAdmin):
    """Send a signed ``webhook.test`` delivery (no ticket, no caller) now; its status is in the
    organisation's deliveries a moment later."""
    return await admin.try_webhook(session, organisation_id=organisation_id, actor=_actor(user))


@router.get("/organisations/{organisation_id}/deliveries", response_model=list[DeliveryOut])
async def show_deliveries(organisation_id: PathId, session: SessionDep, _admin: CurrentAdmin):
    """The organisation's 50 latest notifications, newest first, without their bodies."""
    return await list_deliveries(session, organisation_id=organisation_id)


@router.post("/deliveries/{notification_id}/retry", response_model=DeliveryOut)
async def retry_delivery(notification_id: PathId, session: SessionDep, user: CurrentAdmin):
    """Send a dead delivery once more, now (409 unless it is dead)."""
    return await admin.retry_delivery(session, notification_id=notification_id, actor=_actor(user))


# ---- need categories --------------------------------------------------------------------------


@router.get("/needs", response_model=list[NeedOut])
async def show_needs(session: SessionDep, _admin: CurrentAdmin):
    """Every need category, retired ones too (listeners and services are offered only the rest)."""
    return await list_need_categories(session, include_retired=True)


@router.post("/needs", response_model=NeedOut, status_code=status.HTTP_201_CREATED)
async def add_need(spec: NeedIn, session: SessionDep, user: CurrentAdmin):
    return await admin.add_need(session, spec, actor=_actor(user))


@router.patch("/needs/{slug}", response_model=NeedOut)
async def rename_need(slug: NeedPath, change: NeedChange, session: SessionDep, user: CurrentAdmin):
    return await admin.rename_need(session, slug, change.label, actor=_actor(user))


@router.post("/needs/{slug}/retire", response_model=NeedOut)
async def retire_need(slug: NeedPath, session: SessionDep, user: CurrentAdmin):
    """No longer offered to listeners or services; call logs and services that name it keep it."""
    return await admin.retire_need(session, slug, actor=_actor(user))


# ---- the line's own settings ------------------------------------------------------------------


@router.get("/line", response_model=LineSettingsOut)
async def show_line_settings(session: SessionDep, _admin: CurrentAdmin):
    """The line's hours, closures, longest wait and what callers hear, with whether it is open now."""
    return await line.show_line_settings(session)


@router.patch("/line", response_model=LineSettingsOut)
async def change_line_settings(change: LineSettingsChange, session: SessionDep, user: CurrentAdmin):
    """Change only the fields given (``null``: back to the default); audited with before and after.
    Calls arriving at this process follow at once, at other processes within 15 seconds."""
    return await line.change_line_settings(session, change, actor=_actor(user))


@router.post("/line/preview", response_model=LineHeardOut)
async def preview_line_settings(change: LineSettingsChange, session: SessionDep, _admin: CurrentAdmin):
    """What callers would hear with this wording, checked as a save would be; nothing is saved."""
    return await line.preview_line_words(session, change)


# ---- the audit --------------------------------------------------------------------------------


@router.get("/audit", response_model=AuditPageOut)
async def search_audit(
    session: SessionDep,
    _admin: CurrentAdmin,
    actor: Annotated[str | None, Query(max_length=120, description="part of who: sam finds user:sam")] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[Timestamp | None, Query(description="from this moment (inclusive)")] = None,
    until: Annotated[Timestamp | None, Query(description="up to this moment (exclusive)")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
):
    """Who did what, newest first, 50 a page."""
    events, more = await admin.search_audit(session, actor=actor, action=action, since=since, until=until, page=page)
    return AuditPageOut(events=[AuditOut.model_validate(e) for e in events], page=page, has_more=more)
