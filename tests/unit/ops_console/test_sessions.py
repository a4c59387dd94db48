"""Session signing, the login secret check, and the session stores' lifetimes."""

from __future__ import annotations

import httpx
import pytest
from unit.ops_console.fakes import FakeUsers

from ops_console.bootstrap import Seams, build
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


def test_rotating_the_session_key_invalidates_every_cookie() -> None:
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
    key = "a-session-key-of-its-own-long-enough"
    assert Settings(
        environment="production",
        admin_token=real,
        console_session_key=key,
        console_services={"notifier": "http://notifier:8085"},
        allow_insecure_transport=True,
    ).secure_cookie


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "must be set to a real secret"),
        ("short-session-key", "at least 32 characters"),
        ("a-real-secret-long-enough-for-production", "must not be STOCKSYNC_ADMIN_TOKEN"),
    ],
)
def test_production_refuses_a_missing_short_or_borrowed_session_key(key: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as refused:
        Settings(
            environment="production",
            admin_token="a-real-secret-long-enough-for-production",
            console_session_key=key,
            allow_insecure_transport=True,
        )
    assert "STOCKSYNC_CONSOLE_SESSION_KEY" in str(refused.value)


def test_cookies_are_signed_with_the_session_key_never_the_admin_token() -> None:
    key, token = "the-console-session-key-0123456789", "the-admin-token-0123456789abcdef"
    seams = Seams(http=httpx.AsyncClient(), sessions=MemorySessions(), users=FakeUsers())
    signer = build(Settings(admin_token=token, console_session_key=key), seams).signer
    cookie = signer.sign("abc123")
    assert Signer(key).unsign(cookie) == "abc123"
    assert Signer(token).unsign(cookie) is None
    # without a key (development): a random one per process, nothing derived from the token
    unset = build(Settings(admin_token=token), seams).signer.sign("abc123")
    assert Signer(token).unsign(unset) is None
    assert build(Settings(admin_token=token), seams).signer.unsign(unset) is None
