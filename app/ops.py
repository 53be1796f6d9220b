"""Operator endpoints: liveness, readiness (database reachable and migrated) and metrics."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from app.core.deps import RuntimeDep
from app.core.responses import ErrorOut

# A source checkout keeps migrations beside the packages; an installed image keeps them in its
# working directory (see the Dockerfile).
_SOURCE_ROOT = Path(__file__).resolve().parents[1]
ROOT = _SOURCE_ROOT if (_SOURCE_ROOT / "migrations").is_dir() else Path.cwd()
router = APIRouter(tags=["operations"])


def alembic_config(database_url: str | None = None) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if database_url:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


@lru_cache(maxsize=1)
def migration_head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    status: str
    migration: str | None


@router.get("/healthz", response_model=HealthOut)
async def check_health():
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": ErrorOut, "description": "The database is unreachable or not migrated"}},
)
async def check_ready(runtime: RuntimeDep):
    head = migration_head()
    try:
        async with runtime.engine.connect() as conn:
            current = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported as such
        return JSONResponse(
            {"error": "not_ready", "detail": f"database unreachable or not migrated: {type(exc).__name__}"},
            status_code=503,
        )
    if current != head:
        return JSONResponse(
            {"error": "not_ready", "detail": f"database at migration {current}, code expects {head}"}, status_code=503
        )
    return JSONResponse({"status": "ready", "migration": current})


@router.get("/metrics", response_class=PlainTextResponse)
async def export_metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
