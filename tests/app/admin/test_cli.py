"""``openline apikey create citizens-advice``, exactly as the README gives it, against the demo's
database: it works with no OPENLINE_* secrets set, and is still refused anywhere else."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from app import cli

DEMO_YAML = Path(__file__).resolve().parents[3] / "transfers" / "demo" / "somerset.yaml"


def _demo_database(tmp_path, monkeypatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'openline.db'}"
    for name in ("OPENLINE_ENVIRONMENT", "OPENLINE_SECRET_KEY", "OPENLINE_DATA_KEY", "OPENLINE_TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    # The demo's database is var/openline.db; the test's stands in for it.
    monkeypatch.setenv("OPENLINE_DATABASE_URL", url)
    monkeypatch.setattr(cli, "DEMO_DATABASE_URL", url)
    return url


def test_apikey_create_works_against_the_demo_database_as_documented(tmp_path, monkeypatch):
    _demo_database(tmp_path, monkeypatch)
    runner = CliRunner()
    assert runner.invoke(cli.cli, ["db", "upgrade"]).exit_code == 0
    imported = runner.invoke(cli.cli, ["directory", "import", str(DEMO_YAML)])
    assert imported.exit_code == 0, imported.output
    made = runner.invoke(cli.cli, ["apikey", "create", "citizens-advice"])
    assert made.exit_code == 0, made.output
    assert "olk_" in made.output and "refusing" not in made.output
    unknown = runner.invoke(cli.cli, ["apikey", "create", "no-such-org"])
    assert unknown.exit_code == 1 and "no organisation 'no-such-org'" in unknown.output


def test_another_database_or_a_stated_environment_is_still_checked(tmp_path, monkeypatch):
    _demo_database(tmp_path, monkeypatch)
    monkeypatch.setenv("OPENLINE_ENVIRONMENT", "production")
    refused = CliRunner().invoke(cli.cli, ["apikey", "create", "citizens-advice"])
    assert refused.exit_code == 2 and "refusing to start outside development" in refused.output
    monkeypatch.delenv("OPENLINE_ENVIRONMENT")
    monkeypatch.setenv("OPENLINE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'production.db'}")
    refused = CliRunner().invoke(cli.cli, ["apikey", "create", "citizens-advice"])
    assert refused.exit_code == 2 and "refusing" in refused.output
