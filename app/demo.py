"""The demo: the Somerset-style directory plus one account of each role."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import User, create_user
from transfers.directory.importer import ImportSummary, import_directory, parse_directory
from transfers.directory.models import Organisation

DEMO_DIRECTORY = Path(__file__).resolve().parents[1] / "transfers" / "demo" / "somerset.yaml"
DEMO_PASSWORD = "openline-demo"


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: str
    organisation: str | None = None


DEMO_USERS = (
    DemoUser("sam", "Sam", "listener"),
    DemoUser("alex", "Alex", "listener"),
    DemoUser("jo", "Jo", "supervisor"),
    DemoUser("admin", "Admin", "admin"),
    DemoUser("ca-worker", "Priya, Citizens Advice", "partner", "citizens-advice"),
    DemoUser("mind-worker", "Tom, Mind in Somerset", "partner", "mind-in-somerset"),
    DemoUser("nhs-worker", "Ruth, NHS locality team", "partner", "nhs-somerset-ft"),
)


async def load_demo(session: AsyncSession) -> ImportSummary:
    summary = await import_directory(session, parse_directory(DEMO_DIRECTORY.read_text()))
    for demo in DEMO_USERS:
        if await session.scalar(sa.select(User.id).where(User.username == demo.username)):
            continue
        organisation_id = None
        if demo.organisation:
            organisation_id = await session.scalar(
                sa.select(Organisation.id).where(Organisation.slug == demo.organisation)
            )
        await create_user(
            session,
            username=demo.username,
            password=DEMO_PASSWORD,
            role=demo.role,
            display_name=demo.display_name,
            organisation_id=organisation_id,
        )
    return summary
