"""Personal data at rest: callers' numbers and notes are encrypted; numbers also get a keyed hash
so a repeat caller can be recognised without ever storing the number in the clear.

Several data keys can be live at once (a rotation in progress): the newest encrypts, every one
decrypts. Each ciphertext starts with the id of the key that made it, so a rotation finds what is
left to re-encrypt with a plain prefix match and a restart picks up where it stopped. The caller
hash has its own key, which never rotates with the data keys: a changed hash would stop a repeat
caller (and a subject access request) from ever matching their earlier calls."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

WITHHELD_NUMBERS = {"", "anonymous", "unknown", "restricted", "private", "withheld", "+266696687"}
# "<key id>:<Fernet token>"; a token from before key ids has no prefix (Fernet's start with "gAAAAA").
KEY_ID_SEPARATOR = ":"
UNREADABLE = "[unreadable: encrypted with another key]"


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"openline", info=purpose).derive(secret)


def key_id(data_key: str) -> str:
    """A short public name for a data key: derived one-way, so it says which key, never the key."""
    return _derive(data_key.encode(), b"key-id-v1").hex()[:8]


class Crypto:
    def __init__(self, data_key: str | Sequence[str], *, hash_key: str | None = None):
        keys = [data_key] if isinstance(data_key, str) else list(data_key)
        if not keys:
            raise ValueError("at least one data key is needed")
        self._fernets = {key_id(k): Fernet(base64.urlsafe_b64encode(_derive(k.encode(), b"encrypt-v1"))) for k in keys}
        self.current_key_id = key_id(keys[0])
        self._all = MultiFernet(list(self._fernets.values()))
        # Without its own key the hash is derived from the (single) data key, as it always was.
        self._hash_key = _derive((hash_key or keys[0]).encode(), b"caller-hash-v1")

    @property
    def key_ids(self) -> list[str]:
        return list(self._fernets)

    def encrypt(self, text: str | None) -> str | None:
        if text is None:
            return None
        token = self._fernets[self.current_key_id].encrypt(text.encode()).decode()
        return self.current_key_id + KEY_ID_SEPARATOR + token

    def decrypt(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self._open(token).decode()
        except InvalidToken:
            # Data written under a key no longer configured: show that plainly rather than fail a whole page.
            return UNREADABLE

    def reencrypt(self, token: str | None) -> str | None:
        """The same text under the newest key; None or already current is returned as it is, and
        a token no live key opens is left alone (re-encrypting it would lose it for good)."""
        if token is None or self.is_current(token):
            return token
        try:
            return self.encrypt(self._open(token).decode())
        except InvalidToken:
            return token

    def is_current(self, token: str) -> bool:
        return token.startswith(self.current_key_id + KEY_ID_SEPARATOR)

    def _open(self, token: str) -> bytes:
        kid, separator, rest = token.partition(KEY_ID_SEPARATOR)
        if separator and kid in self._fernets:
            return self._fernets[kid].decrypt(rest.encode())
        return self._all.decrypt(token.encode())

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
