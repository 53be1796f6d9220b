"""Schema upgrades, used by the CLI, the demo and the tests alike."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command

from app.ops import alembic_config


def upgrade_database(database_url: str) -> None:
    """Run the migrations to head (synchronously; Alembic's env runs its own event loop)."""
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    config = alembic_config(database_url)
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")


async def upgrade_database_async(database_url: str) -> None:
    await asyncio.to_thread(upgrade_database, database_url)
