"""The migrations are the schema: building a database with them leaves nothing for autogenerate."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from app.models import metadata
from app.ops import migration_head


def _diff(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, metadata)


async def test_models_and_migrations_agree(db_url):
    engine = create_async_engine(db_url)
    async with engine.connect() as conn:
        differences = await conn.run_sync(_diff)
        version = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    await engine.dispose()
    assert differences == []
    assert version == migration_head()
