"""The demo: the Somerset-style directory plus one account of each role."""

from __future__ import annotations

import errno
import socket
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


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def choose_simulator_port(preferred: int, host: str = "127.0.0.1") -> tuple[int, str | None]:
    """The port for the demo's Twilio simulator, and what to tell the person running it when that
    is not the one asked for. A taken port used to bring the demo up with no callers and no word
    why; now another free port is used and named."""
    if _bindable(host, preferred):
        return preferred, None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    return port, (
        f"port {preferred} is already in use on {host} (another demo or simulator?): "
        f"the Twilio simulator uses port {port} instead (set OPENLINE_SIMULATOR_PORT to choose one)"
    )
