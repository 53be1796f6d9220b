"""Server-rendered pages: one Jinja2 environment, the CSRF token in every page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from app.core.deps import csrf_token_for

# The pages live in app/templates; every package renders through this one environment.
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))

# Where each role works: a sign-in without a ``next`` lands there (and so does ``/``).
HOME_BY_ROLE = {"listener": "/listener", "supervisor": "/board", "partner": "/partner", "admin": "/admin"}


def render(request: Request, name: str, status_code: int = 200, **context: Any):
    context.setdefault("user", None)
    return templates.TemplateResponse(
        request, name, {"csrf_token": csrf_token_for(request), **context}, status_code=status_code
    )
