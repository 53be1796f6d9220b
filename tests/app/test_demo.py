"""`make run`: the demo's port can be chosen, and a taken simulator port is said and worked around
(a real socket holds the port on 127.0.0.1)."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

import app.cli
from app.demo import choose_simulator_port

DEMO_ENVIRONMENT = (
    "OPENLINE_ENVIRONMENT",
    "OPENLINE_TELEPHONY",
    "OPENLINE_PUBLIC_URL",
    "OPENLINE_SIMULATE_CALLERS",
    "OPENLINE_TWILIO_API_BASE",
    "OPENLINE_SIMULATOR_PORT",
    "OPENLINE_DATABASE_URL",
)


def held_port() -> socket.socket:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder


def test_a_free_simulator_port_is_kept_and_a_taken_one_is_replaced_and_named():
    with held_port() as holder:
        taken = holder.getsockname()[1]
        port, said = choose_simulator_port(taken)
        assert port != taken and said is not None
        assert f"port {taken} is already in use" in said and f"uses port {port} instead" in said
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as check:
            check.bind(("127.0.0.1", port))  # the port it chose is really free
    assert choose_simulator_port(taken) == (taken, None)


def test_the_demo_says_why_and_its_callers_ring_on_the_port_it_chose(tmp_path, monkeypatch):
    served, simulated = {}, {}
    monkeypatch.setattr(app.cli, "serve", lambda **kwargs: served.update(kwargs))
    monkeypatch.setattr(
        app.cli, "_start_simulator", lambda settings, app_url: simulated.update(port=settings.simulator_port)
    )
    # The demo sets these for itself; set-then-delete makes monkeypatch put every one back after.
    for name in DEMO_ENVIRONMENT:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    with held_port() as holder:
        taken = holder.getsockname()[1]
        result = CliRunner().invoke(
            app.cli.cli,
            ["demo", "--port", "8123"],
            env={
                "OPENLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/demo.db",
                "OPENLINE_SIMULATOR_PORT": str(taken),
                "OPENLINE_SIMULATE_CALLERS": "true",
            },
        )
    assert result.exit_code == 0, result.output
    assert f"port {taken} is already in use" in result.output
    assert simulated["port"] != taken and f"uses port {simulated['port']} instead" in result.output
    assert served["port"] == 8123 and "http://127.0.0.1:8123/login" in result.output
