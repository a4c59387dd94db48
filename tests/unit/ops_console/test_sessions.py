"""Session signing, the login secret check, and the session stores' lifetimes."""

from __future__ import annotations

import pytest

from ops_console.sessions import MemorySessions, Signer, new_session
from ops_console.settings import Settings


def test_a_signed_session_id_round_trips_and_any_change_is_refused() -> None:
    signer = Signer("secret-one")
    value = signer.sign("abc123")
    assert signer.unsign(value) == "abc123"
    assert signer.unsign(value[:-1] + ("0" if value[-1] != "0" else "1")) is None
    assert signer.unsign("abc124." + value.rpartition(".")[2]) is None
    assert signer.unsign("abc123") is None
    assert signer.unsign("") is None


def test_rotating_the_admin_secret_invalidates_every_cookie() -> None:
    value = Signer("secret-one").sign("abc123")
    assert Signer("secret-two").unsign(value) is None


def test_sessions_are_random_and_the_audit_label_is_not_the_credential() -> None:
    a, b = new_session("ann", "viewer"), new_session("ann", "viewer")
    assert a.sid != b.sid and a.csrf != b.csrf and a.csrf != a.sid
    assert a.sid not in a.who and a.who.startswith("ann/console:")


async def test_memory_sessions_expire_and_can_be_deleted() -> None:
    store = MemorySessions()
    live, dead = new_session(), new_session()
    await store.put(live, 60)
    await store.put(dead, -1)
    assert await store.get(live.sid) == live
    assert await store.get(dead.sid) is None
    await store.delete(live.sid)
    assert await store.get(live.sid) is None


def test_a_placeholder_admin_secret_is_refused_in_production() -> None:
    with pytest.raises(ValueError, match="STOCKSYNC_ADMIN_TOKEN"):
        Settings(
            environment="production", admin_token="dev-admin-token", allow_insecure_transport=True
        )
    real = "a-real-secret-long-enough-for-production"
    assert Settings(
        environment="production", admin_token=real, allow_insecure_transport=True
    ).secure_cookie
