"""Directory API: anyone signed in reads it (listeners pick services); admins change it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.core.deps import CurrentAdmin, CurrentSupervisor, CurrentUser, SessionDep
from app.core.responses import DB_INT_MAX, SIGNED_IN, PathId, error_responses
from transfers.directory import service as directory
from transfers.directory.schemas import (
    HsdsDocument,
    LocalityOut,
    NeedCategoryOut,
    OrganisationFields,
    OrganisationOut,
    OrganisationUpdate,
    ServiceCreate,
    ServiceOut,
    ServiceUpdate,
)

# 409: a slug that is taken, or an organisation that still has services.
router = APIRouter(prefix="/api/directory", tags=["directory"], responses=error_responses(*SIGNED_IN, 409))


@router.get("/needs", response_model=list[NeedCategoryOut])
async def show_need_categories(session: SessionDep, _user: CurrentUser):
    return await directory.list_need_categories(session)


@router.get("/localities", response_model=list[LocalityOut])
async def show_localities(session: SessionDep, _user: CurrentUser):
    return await directory.list_localities(session)


@router.get("/hsds", response_model=HsdsDocument)
async def show_directory_hsds(session: SessionDep, _user: CurrentSupervisor):
    """The directory as Open Referral HSDS 3 JSON (what ``openline directory export-hsds`` writes)."""
    return await directory.export_directory_hsds(session)


@router.get("/organisations", response_model=list[OrganisationOut])
async def show_organisations(session: SessionDep, _user: CurrentUser):
    return await directory.list_organisations(session)


@router.post("/organisations", response_model=OrganisationOut, status_code=status.HTTP_201_CREATED)
async def add_organisation(spec: OrganisationFields, session: SessionDep, admin: CurrentAdmin):
    return await directory.create_organisation(session, spec, actor=f"user:{admin.username}")


@router.patch("/organisations/{organisation_id}", response_model=OrganisationOut)
async def change_organisation(
    organisation_id: PathId, change: OrganisationUpdate, session: SessionDep, admin: CurrentAdmin
):
    return await directory.update_organisation(session, organisation_id, change, actor=f"user:{admin.username}")


@router.delete("/organisations/{organisation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_organisation(organisation_id: PathId, session: SessionDep, admin: CurrentAdmin) -> None:
    await directory.delete_organisation(session, organisation_id, actor=f"user:{admin.username}")


@router.get("/services", response_model=list[ServiceOut])
async def show_services(
    session: SessionDep, _user: CurrentUser, organisation_id: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None
):
    return [directory.service_out(s) for s in await directory.list_services(session, organisation_id=organisation_id)]


@router.get("/services/{service_id}", response_model=ServiceOut)
async def show_service(service_id: PathId, session: SessionDep, _user: CurrentUser):
    return directory.service_out(await directory.find_service(session, service_id))


@router.post("/services", response_model=ServiceOut, status_code=status.HTTP_201_CREATED)
async def add_service(spec: ServiceCreate, session: SessionDep, admin: CurrentAdmin):
    return directory.service_out(await directory.create_service(session, spec, actor=f"user:{admin.username}"))


@router.patch("/services/{service_id}", response_model=ServiceOut)
async def change_service(service_id: PathId, change: ServiceUpdate, session: SessionDep, admin: CurrentAdmin):
    return directory.service_out(
        await directory.update_service(session, service_id, change, actor=f"user:{admin.username}")
    )


@router.delete("/services/{service_id}", response_model=ServiceOut)
async def retire_service(service_id: PathId, session: SessionDep, admin: CurrentAdmin):
    return directory.service_out(await directory.retire_service(session, service_id, actor=f"user:{admin.username}"))
