import pytest
from pydantic import ValidationError

from app.core.settings import Settings, development_settings

STRONG = dict(secret_key="s" * 32, data_key="d" * 32, twilio_auth_token="t" * 32, twilio_caller_id="+441632960000")


def test_production_refuses_placeholder_secrets():
    with pytest.raises(ValidationError) as err:
        Settings(_env_file=None, environment="production")
    message = str(err.value)
    assert (
        "OPENLINE_SECRET_KEY" in message and "OPENLINE_DATA_KEY" in message and "OPENLINE_TWILIO_AUTH_TOKEN" in message
    )


@pytest.mark.parametrize("missing", ["secret_key", "data_key", "twilio_auth_token"])
def test_production_refuses_each_missing_or_short_secret(missing):
    for weak in ("", "change-me", "short"):
        with pytest.raises(ValidationError, match=f"OPENLINE_{missing.upper()}"):
            Settings(_env_file=None, environment="production", **(STRONG | {missing: weak}))


def test_production_starts_with_real_secrets():
    settings = Settings(_env_file=None, environment="production", **STRONG)
    assert settings.signature_checks and settings.secret_key.get_secret_value() == "s" * 32
    assert "s" * 32 not in repr(settings)  # secrets never print


def test_simulated_telephony_only_in_development():
    with pytest.raises(ValidationError, match="only allowed"):
        Settings(_env_file=None, environment="production", telephony="simulated", **STRONG)
    assert not development_settings(_env_file=None).signature_checks


def test_environment_prefix(monkeypatch):
    monkeypatch.setenv("OPENLINE_SESSION_MINUTES", "45")
    monkeypatch.setenv("OPENLINE_ENVIRONMENT", "development")
    assert Settings(_env_file=None).session_minutes == 45


def test_warning_must_come_before_due():
    with pytest.raises(ValidationError, match="WARNING_MINUTES"):
        development_settings(_env_file=None, session_minutes=5, session_warning_minutes=5)


@pytest.mark.parametrize("caller_id", ["", "+441234000000", "01632 960000", "441632960000", "+44 1632 960000"])
def test_production_refuses_a_missing_placeholder_or_malformed_caller_id(caller_id):
    """Twilio refuses every dial and text From a number the account does not own: say so at start-up,
    not at the first warm transfer."""
    with pytest.raises(ValidationError, match="OPENLINE_TWILIO_CALLER_ID"):
        Settings(_env_file=None, environment="production", **(STRONG | {"twilio_caller_id": caller_id}))


def test_development_uses_the_simulated_line_number():
    assert development_settings(_env_file=None).twilio_caller_id == "+441234000000"
    assert development_settings(_env_file=None, twilio_caller_id="+441632960123").twilio_caller_id == "+441632960123"
