"""Personal data at rest: callers' numbers and notes are encrypted; numbers also get a keyed hash
so a repeat caller can be recognised without ever storing the number in the clear."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

WITHHELD_NUMBERS = {"", "anonymous", "unknown", "restricted", "private", "withheld", "+266696687"}


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"openline", info=purpose).derive(secret)


class Crypto:
    def __init__(self, data_key: str):
        secret = data_key.encode()
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, b"encrypt-v1")))
        self._hash_key = _derive(secret, b"caller-hash-v1")

    def encrypt(self, text: str | None) -> str | None:
        if text is None:
            return None
        return self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            # Data written under another key: show that plainly rather than fail a whole page.
            return "[unreadable: encrypted with another key]"

    def caller_hash(self, number: str | None) -> str | None:
        """Keyed hash of a caller's number; None for withheld numbers, which must never match."""
        if is_withheld(number):
            return None
        digits = normalise_number(number or "")
        return hmac.new(self._hash_key, digits.encode(), hashlib.sha256).hexdigest()


def is_withheld(number: str | None) -> bool:
    """Withheld, unknown, or not a phone number at all (a browser client): never a repeat-caller match."""
    value = (number or "").strip().lower()
    return value in WITHHELD_NUMBERS or value.startswith("client:") or not any(ch.isdigit() for ch in value)


def normalise_number(number: str) -> str:
    keep = "".join(ch for ch in number if ch.isdigit() or ch == "+")
    if keep.startswith("00"):
        keep = "+" + keep[2:]
    if keep.startswith("0"):
        keep = "+44" + keep[1:]
    return keep


def mask_number(number: str | None) -> str:
    """What a screen shows: enough to tell two callers apart, not enough to dial."""
    if is_withheld(number):
        return "withheld"
    digits = normalise_number(number or "")
    return digits[:3] + " ••• ••" + digits[-3:] if len(digits) > 6 else "•••"
