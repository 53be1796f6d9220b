"""Access tokens for the listener's browser headset (Twilio Voice SDK)."""

from __future__ import annotations

from typing import Any

from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

from app.core.errors import ServiceUnavailable
from app.core.security import User
from app.core.settings import Settings

TOKEN_TTL_SECONDS = 3600
# Practice mode has no Twilio account: the token has the right shape, says it is simulated, and
# is signed with a key Twilio has never issued, so it can never be mistaken for a real one.
SIMULATED_KEY_SID = "SK" + "0" * 32
SIMULATED_SECRET = "openline-simulated-headset-not-a-twilio-key"


def issue_voice_token(settings: Settings, user: User) -> dict[str, Any]:
    key_sid = settings.twilio_api_key_sid
    secret = settings.twilio_api_key_secret.get_secret_value()
    simulated = not (key_sid and secret)
    if simulated:
        if settings.environment != "development" and settings.telephony != "simulated":
            raise ServiceUnavailable(
                "the browser headset needs OPENLINE_TWILIO_API_KEY_SID, OPENLINE_TWILIO_API_KEY_SECRET "
                "and OPENLINE_TWILIO_TWIML_APP_SID",
                error="voice_not_configured",
            )
        key_sid, secret = SIMULATED_KEY_SID, SIMULATED_SECRET
    token = AccessToken(
        settings.twilio_account_sid, key_sid, secret, identity=user.headset_identity, ttl=TOKEN_TTL_SECONDS
    )
    token.add_grant(VoiceGrant(incoming_allow=True, outgoing_application_sid=settings.twilio_twiml_app_sid or None))
    return {
        "token": token.to_jwt(),
        "identity": user.headset_identity,
        "ttl_seconds": TOKEN_TTL_SECONDS,
        "simulated": simulated,
    }
