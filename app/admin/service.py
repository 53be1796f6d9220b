"""The admin's changes: each one checks what it must, changes rows and writes its audit event in
the request's transaction (the router's session commits; nothing here does)."""

from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.admin.schemas import NeedIn, UserChange, UserIn
from app.core.audit import AuditEvent, record_audit
from app.core.db import runtime_of
from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.security import (
    ApiKey,
    IssuedApiKey,
    Role,
    User,
    change_dial_address,
    create_api_key,
    create_user,
    hash_password,
    revoke_api_key,
)
from app.core.signin import end_user_sessions
from transfers import notifications
from transfers.directory.models import NeedCategory, Organisation
from transfers.directory.service import find_organisation
from transfers.tickets.models import PartnerNotification

AUDIT_PAGE = 50


def make_password() -> str:
    """A password to read out or paste once: 16 URL-safe characters, about 96 bits."""
    return secrets.token_urlsafe(12)


async def find_person(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("no such person")
    return user


async def list_people(session: AsyncSession) -> list[User]:
    return list((await session.scalars(sa.select(User).order_by(User.is_active.desc(), User.username))).all())


async def add_person(session: AsyncSession, spec: UserIn, *, actor: str) -> tuple[User, str | None]:
    """A new account; returns it and the password when Openline made one (shown once)."""
    if spec.organisation_id is not None:
        await find_organisation(session, spec.organisation_id)
    made = make_password() if spec.password is None else None
    user = await create_user(
        session,
        username=spec.username,
        password=spec.password or made or "",
        role=spec.role,
        display_name=spec.display_name,
        organisation_id=spec.organisation_id,
        dial_address=spec.dial_address,
    )
    await record_audit(
        session,
        actor=actor,
        action="add_person",
        subject_type="user",
        subject_id=user.id,
        username=user.username,
        role=user.role,
        organisation_id=user.organisation_id,
    )
    return user, made


async def _active_admins(session: AsyncSession) -> int:
    # Row-locked (PostgreSQL): two admins deactivating each other at once are counted one after
    # the other, so the second sees the first's change and is refused.
    stmt = sa.select(User.id).where(User.role == Role.admin, User.is_active).with_for_update()
    return len((await session.scalars(stmt)).all())


async def _keep_an_admin(session: AsyncSession, user: User, *, admin: User, doing: str) -> None:
    """An admin cannot lock themselves out, nor leave the line with nobody to run it."""
    if user.id == admin.id:
        raise Conflict(f"you cannot {doing} your own account; ask another admin", error="not_yourself")
    if user.role == Role.admin and user.is_active and await _active_admins(session) <= 1:
        raise Conflict(f"this is the last admin; add another admin before you {doing} this one", error="last_admin")


async def change_person(session: AsyncSession, user_id: int, change: UserChange, *, admin: User) -> User:
    user = await find_person(session, user_id)
    given = change.model_dump(exclude_unset=True)
    role = given.get("role", user.role)
    if role not in Role.__members__:
        raise Unprocessable("role", f"unknown role {role!r}; one of {', '.join(Role)}")
    organisation_id = given.get("organisation_id", user.organisation_id if role == Role.partner else None)
    if (role == Role.partner) != (organisation_id is not None):
        raise Unprocessable("organisation_id", "a partner worker belongs to one organisation; other roles to none")
    if organisation_id is not None:
        await find_organisation(session, organisation_id)
    if role != user.role and user.role == Role.admin:
        await _keep_an_admin(session, user, admin=admin, doing="change the role of")
    actor = f"user:{admin.username}"
    before = {"role": user.role, "organisation_id": user.organisation_id, "display_name": user.display_name}
    user.role, user.organisation_id = role, organisation_id
    if "display_name" in given:
        user.display_name = given["display_name"]
    if role == Role.partner:
        user.dial_address = None  # partner workers are never rung by the line
    elif "dial_address" in given:
        await change_dial_address(session, user_id=user.id, dial_address=given["dial_address"], actor=actor)
    after = {"role": user.role, "organisation_id": user.organisation_id, "display_name": user.display_name}
    changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
    if changed:
        await record_audit(
            session,
            actor=actor,
            action="change_person",
            subject_type="user",
            subject_id=user.id,
            **changed,
        )
        if "role" in changed or "organisation_id" in changed:
            # What a signed-in browser may do follows the new role from its next request, but a
            # partner moved between organisations should not keep a page open on the old one.
            await end_user_sessions(session, user_id=user.id, actor=actor)
    await session.flush()
    return user


async def deactivate_person(session: AsyncSession, user_id: int, *, admin: User) -> User:
    """They can no longer sign in, and every browser they are signed in on is signed out now."""
    user = await find_person(session, user_id)
    await _keep_an_admin(session, user, admin=admin, doing="deactivate")
    if user.is_active:
        user.is_active = False
        await end_user_sessions(session, user_id=user.id, actor=f"user:{admin.username}")
        await record_audit(
            session, actor=f"user:{admin.username}", action="deactivate_person", subject_type="user", subject_id=user.id
        )
    return user


async def reactivate_person(session: AsyncSession, user_id: int, *, admin: User) -> User:
    user = await find_person(session, user_id)
    if not user.is_active:
        user.is_active = True
        await record_audit(
            session, actor=f"user:{admin.username}", action="reactivate_person", subject_type="user", subject_id=user.id
        )
    return user


async def reset_password(
    session: AsyncSession, user_id: int, password: str | None, *, admin: User
) -> tuple[User, str | None, int]:
    """A new password (the admin's, or one made here and shown once). Everyone else is signed
    out everywhere, so an old password someone else knew stops working at once; an admin
    resetting their own stays signed in here."""
    user = await find_person(session, user_id)
    made = make_password() if password is None else None
    user.password_hash = hash_password(password or made or "")
    ended = 0
    if user.id != admin.id:
        ended = await end_user_sessions(session, user_id=user.id, actor=f"user:{admin.username}")
    await record_audit(
        session,
        actor=f"user:{admin.username}",
        action="reset_password",
        subject_type="user",
        subject_id=user.id,
        made_by_openline=made is not None,
    )
    return user, made, ended


async def list_api_keys(session: AsyncSession, *, organisation_id: int | None = None) -> list[ApiKey]:
    stmt = sa.select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(), ApiKey.id.desc())
    if organisation_id is not None:
        stmt = stmt.where(ApiKey.organisation_id == organisation_id)
    return list((await session.scalars(stmt)).all())


async def issue_api_key(
    session: AsyncSession, *, organisation_id: int, name: str, expires_at: datetime | None, actor: str
) -> IssuedApiKey:
    await find_organisation(session, organisation_id)
    issued = await create_api_key(session, organisation_id=organisation_id, name=name, expires_at=expires_at)
    await record_audit(
        session,
        actor=actor,
        action="issue_api_key",
        subject_type="api_key",
        subject_id=issued.key.id,
        organisation_id=organisation_id,
        name=name,
        prefix=issued.key.prefix,
    )
    return issued


async def withdraw_api_key(session: AsyncSession, *, key_id: int, actor: str) -> ApiKey:
    was_live = (key := await session.get(ApiKey, key_id)) is not None and key.revoked_at is None
    key = await revoke_api_key(session, key_id=key_id)
    if was_live:
        await record_audit(
            session,
            actor=actor,
            action="revoke_api_key",
            subject_type="api_key",
            subject_id=key.id,
            organisation_id=key.organisation_id,
            prefix=key.prefix,
        )
    return key


async def find_need(session: AsyncSession, slug: str) -> NeedCategory:
    need = await session.scalar(sa.select(NeedCategory).where(NeedCategory.slug == slug))
    if need is None:
        raise NotFound("no such need category")
    return need


async def add_need(session: AsyncSession, spec: NeedIn, *, actor: str) -> NeedCategory:
    if await session.scalar(sa.select(NeedCategory.id).where(NeedCategory.slug == spec.slug)):
        raise Conflict(f"a need category {spec.slug!r} exists", error="duplicate_slug")
    last = await session.scalar(sa.select(sa.func.max(NeedCategory.sort_order))) or 0
    need = NeedCategory(slug=spec.slug, label=spec.label, sort_order=last + 1)
    session.add(need)
    await session.flush()
    await record_audit(
        session, actor=actor, action="add_need", subject_type="need_category", subject_id=need.id, slug=need.slug
    )
    return need


async def rename_need(session: AsyncSession, slug: str, label: str, *, actor: str) -> NeedCategory:
    """The label people see changes; the slug (what records and services store) never does."""
    need = await find_need(session, slug)
    if need.label != label:
        await record_audit(
            session,
            actor=actor,
            action="rename_need",
            subject_type="need_category",
            subject_id=need.id,
            slug=slug,
            label={"from": need.label, "to": label},
        )
        need.label = label
    return need


async def retire_need(session: AsyncSession, slug: str, *, actor: str) -> NeedCategory:
    need = await find_need(session, slug)
    if need.retired_at is None:
        need.retired_at = runtime_of(session).clock.now()
        await record_audit(
            session, actor=actor, action="retire_need", subject_type="need_category", subject_id=need.id, slug=slug
        )
    return need


async def search_audit(
    session: AsyncSession,
    *,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
) -> tuple[list[AuditEvent], bool]:
    """Newest first, a page at a time; ``actor`` matches part of the name (``sam`` finds ``user:sam``)."""
    if since is not None and until is not None and since > until:
        raise Unprocessable("since", "the start of the range is after its end")
    stmt = sa.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if actor:
        escaped = actor.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(sa.func.lower(AuditEvent.actor).like(f"%{escaped}%", escape="\\"))
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.at < until)
    rows = list((await session.scalars(stmt.offset((page - 1) * AUDIT_PAGE).limit(AUDIT_PAGE + 1))).all())
    return rows[:AUDIT_PAGE], len(rows) > AUDIT_PAGE


async def change_webhook(
    session: AsyncSession, *, organisation_id: int, url: str | None, actor: str
) -> tuple[Organisation, str | None]:
    """Set, move or turn off a partner's webhook; a new secret each time (shown once)."""
    organisation, secret = await notifications.set_webhook(session, organisation_id=organisation_id, url=url)
    await record_audit(
        session,
        actor=actor,
        action="set_webhook" if url is not None else "clear_webhook",
        subject_type="organisation",
        subject_id=organisation.id,
        url=organisation.webhook_url,
    )
    return organisation, secret


async def try_webhook(session: AsyncSession, *, organisation_id: int, actor: str) -> PartnerNotification:
    notification = await notifications.send_test_delivery(session, organisation_id=organisation_id)
    await record_audit(
        session,
        actor=actor,
        action="test_webhook",
        subject_type="organisation",
        subject_id=organisation_id,
        notification_id=notification.id,
    )
    return notification


async def retry_delivery(session: AsyncSession, *, notification_id: int, actor: str) -> PartnerNotification:
    notification = await notifications.retry_dead_notification(session, notification_id=notification_id)
    await record_audit(
        session,
        actor=actor,
        action="retry_delivery",
        subject_type="organisation",
        subject_id=notification.organisation_id,
        notification_id=notification.id,
    )
    return notification
