"""Data-key rotation: the newest key encrypts, every configured key decrypts, the caller hash
never changes, and `openline keys rotate` re-encrypts in short batches while calls keep arriving."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from app.core.audit import AuditEvent
from app.core.crypto import UNREADABLE, Crypto, _derive, key_id
from app.core.db import session_scope
from app.core.settings import Settings
from app.privacy.keys import ENCRYPTED_COLUMNS, count_stale, reencrypt_batch, rotate_keys
from telephony.models import Call, WebhookDelivery
from tests.conftest import load_demo_directory
from tests.conftest import test_settings as settings_for
from tests.scenarios import CALLER_NUMBER, logged_session
from tests.telephony.conftest import simulator_for

OLD = "old-data-key-0123456789abcdef"
NEW = "new-data-key-0123456789abcdef"


def test_the_newest_key_encrypts_and_every_key_decrypts():
    old, both = Crypto(OLD), Crypto([NEW, OLD], hash_key=OLD)
    token = old.encrypt("Behind on rent")
    assert token.startswith(key_id(OLD) + ":")
    assert both.decrypt(token) == "Behind on rent"
    fresh = both.encrypt("Behind on rent")
    assert fresh.startswith(key_id(NEW) + ":") and both.is_current(fresh) and not both.is_current(token)
    assert Crypto(NEW).decrypt(token) == UNREADABLE
    assert Crypto(NEW).reencrypt(token) == token  # a token no key opens is left, never lost


def test_a_ciphertext_from_before_key_ids_still_opens():
    legacy = Fernet(base64.urlsafe_b64encode(_derive(OLD.encode(), b"encrypt-v1"))).encrypt(b"+447700900321").decode()
    both = Crypto([NEW, OLD], hash_key=OLD)
    assert both.decrypt(legacy) == "+447700900321"
    assert both.reencrypt(legacy).startswith(key_id(NEW) + ":")


def test_the_caller_hash_does_not_change_with_the_data_key():
    before = Crypto(OLD).caller_hash(CALLER_NUMBER)
    assert Crypto([NEW, OLD], hash_key=OLD).caller_hash(CALLER_NUMBER) == before
    assert Crypto([NEW], hash_key=OLD).caller_hash(CALLER_NUMBER) == before


def test_settings_read_the_keys_newest_first_and_keep_the_hash_on_the_data_key(monkeypatch):
    monkeypatch.setenv("OPENLINE_DATA_KEYS", f'["{NEW}", "{OLD}"]')
    settings = Settings(_env_file=None, environment="development", data_key=OLD)
    assert settings.encryption_keys == [NEW, OLD]
    assert settings.hash_key == OLD
    assert Settings(_env_file=None, environment="development", data_key=OLD).encryption_keys == [NEW, OLD]
    monkeypatch.delenv("OPENLINE_DATA_KEYS")
    assert Settings(_env_file=None, environment="development", data_key=OLD).encryption_keys == [OLD]


def test_a_short_rotation_key_is_refused_outside_development():
    with pytest.raises(ValueError, match="OPENLINE_DATA_KEYS"):
        settings_for("sqlite+aiosqlite:///x.db", data_keys=[NEW, "short"])


async def _numbers(harness) -> list[str]:
    async with session_scope(harness.runtime) as session:
        calls = (await session.scalars(sa.select(Call).order_by(Call.id))).all()
        return [harness.runtime.crypto.decrypt(c.from_encrypted) for c in calls]


async def test_rotation_in_batches_while_calls_keep_arriving(make_harness):
    before = await make_harness(data_key=OLD)
    old_sim = simulator_for(before)
    for n in range(3):
        await old_sim.caller(f"+44770090010{n}").arrive()
    await old_sim.deliver()
    await load_demo_directory(before)
    await logged_session(before)
    await old_sim.close()

    during = await make_harness(data_key=OLD, data_keys=[NEW, OLD])
    sim = simulator_for(during)
    async with session_scope(during.runtime) as session:
        assert (await count_stale(session))["calls"] == 3
    # One row per transaction, a new call arriving between batches: its webhook is stored and its
    # number (under the new key) readable, and the rotation carries on past it.
    after_id, arrivals = 0, 0
    while True:
        async with session_scope(during.runtime) as session:
            batch = await reencrypt_batch(session, table_name="calls", after_id=after_id, limit=1)
        if not batch.rows:
            break
        after_id = batch.last_id
        await sim.caller(f"+44770090020{arrivals}").arrive()
        await sim.deliver()
        arrivals += 1
    assert arrivals == 3
    async with session_scope(during.runtime) as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) >= 6
    # Stopped half way and started again: the rest is done, what was done is skipped.
    counts = await rotate_keys(during.runtime, batch_size=1)
    assert counts["calls"] == 0 and counts["call_log_revisions"] >= 1 and counts["organisations"] == 0
    async with session_scope(during.runtime) as session:
        assert set((await count_stale(session)).values()) == {0}
        audit = await session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "rotate_data_keys"))
        assert audit.detail["key_id"] == key_id(NEW)
    await sim.close()

    # The old key gone: everything still reads, and a repeat caller still matches.
    after = await make_harness(data_key=OLD, data_keys=[NEW])
    expected = [f"+44770090010{n}" for n in range(3)] + [f"+44770090020{n}" for n in range(3)]
    assert await _numbers(after) == expected
    async with session_scope(after.runtime) as session:
        first = await session.scalar(sa.select(Call.from_hash).order_by(Call.id))
    assert first == after.runtime.crypto.caller_hash("+447700900100")
    assert set(ENCRYPTED_COLUMNS) >= {"calls", "call_log_revisions", "transfer_tickets", "safeguarding_records"}
