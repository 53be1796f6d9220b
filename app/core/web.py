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
HOME_BY_ROLE = {
    "listener": "/listener",
    "supervisor": "/board",
    "partner": "/partner",
    "admin": "/admin",
    "commissioner": "/reports",
}

# The pages each role can open, in the top bar of every page (a role with one page gets none).
PAGES_BY_ROLE: dict[str, list[tuple[str, str]]] = {
    "listener": [("/listener", "Listener")],
    "supervisor": [
        ("/listener", "Listener"),
        ("/board", "Board"),
        ("/reports", "Reports"),
        ("/reports/capacity", "Capacity"),
    ],
    "admin": [("/admin", "Admin"), ("/board", "Board"), ("/reports", "Reports"), ("/reports/capacity", "Capacity")],
    "partner": [("/partner", "Warm transfers")],
    "commissioner": [("/reports", "Reports")],
}
templates.env.globals["pages_for"] = lambda role: PAGES_BY_ROLE.get(str(role), [])


def render(request: Request, name: str, status_code: int = 200, **context: Any):
    context.setdefault("user", None)
    return templates.TemplateResponse(
        request, name, {"csrf_token": csrf_token_for(request), **context}, status_code=status_code
    )
