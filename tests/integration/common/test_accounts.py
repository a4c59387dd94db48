"""The accounts store on the real Redis: argon2id hashes, lock-out after N failures and its
end, per-address throttling, tokens stored as digests, revoked, expired, and limited by the
user's role now."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from stocksync_common.accounts import AccountError, split_token
from stocksync_common.accounts.store import Accounts
from support.accounts import scratch_accounts
from support.poll import await_for

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"  # noqa: S105 - a test secret


@pytest.fixture
async def accounts(redis: Redis) -> AsyncIterator[Accounts]:
    async with scratch_accounts(redis, max_failures=3, max_address_failures=6) as accounts:
        yield accounts


async def test_a_password_is_kept_as_an_argon2id_hash_and_checked(
    accounts: Accounts, redis: Redis
) -> None:
    await accounts.add_user("alice", "operator", PASSWORD)
    stored = await redis.hget(f"{accounts.p}user:alice", "password")
    assert isinstance(stored, bytes) and stored.startswith(b"$argon2id$")
    assert PASSWORD.encode() not in stored
    ok = await accounts.login("alice", PASSWORD, "10.0.0.1")
    assert ok.outcome == "ok" and ok.principal is not None
    assert (ok.principal.user, ok.principal.role) == ("alice", "operator")
    assert ok.principal.scopes == {"read", "operate"}
    assert (await accounts.login("alice", "wrong password!", "10.0.0.1")).outcome == "wrong"
    assert (await accounts.login("nobody", PASSWORD, "10.0.0.1")).outcome == "wrong"


async def test_bad_names_roles_short_passwords_and_twins_are_refused(accounts: Accounts) -> None:
    for name, role, password in [
        ("Alice", "viewer", PASSWORD), ("admin-token", "admin", PASSWORD),
        ("bob", "root", PASSWORD), ("bob", "viewer", "short"),
    ]:  # fmt: skip
        with pytest.raises(AccountError):
            await accounts.add_user(name, role, password)
    await accounts.add_user("bob", "viewer", PASSWORD)
    with pytest.raises(AccountError, match="exists"):
        await accounts.add_user("bob", "admin", PASSWORD)
    assert (await accounts.user("bob") or {})["role"] == "viewer"


async def test_lock_out_after_n_failures_refuses_the_right_password_until_it_expires(
    redis: Redis,
) -> None:
    async with scratch_accounts(redis, max_failures=3, lockout_s=2) as accounts:
        await _locked_out_until_it_expires(accounts, redis)


async def _locked_out_until_it_expires(accounts: Accounts, redis: Redis) -> None:
    await accounts.add_user("carol", "viewer", PASSWORD)
    outcomes = [(await accounts.login("carol", "guess number x", "10.0.0.2")).outcome
                for _ in range(3)]  # fmt: skip
    assert outcomes == ["wrong", "wrong", "locked"]
    assert (await accounts.login("carol", PASSWORD, "10.0.0.3")).outcome == "locked"
    assert 0 < await redis.ttl(f"{accounts.p}failures:user:carol") <= 2

    async def lifted() -> bool:
        return (await accounts.login("carol", PASSWORD, "10.0.0.3")).outcome == "ok"

    await await_for("the lock-out to end", lifted, 10)


async def test_unknown_names_lock_like_real_ones_and_passwd_unlocks(accounts: Accounts) -> None:
    for _ in range(3):
        await accounts.login("ghost", "whatever it is", "10.0.0.4")
    assert (await accounts.login("ghost", "whatever it is", "10.0.0.5")).outcome == "locked"
    await accounts.add_user("dave", "viewer", PASSWORD)
    for _ in range(3):
        await accounts.login("dave", "not the password", "10.0.0.6")
    assert await accounts.locked("dave")
    await accounts.set_password("dave", "a brand new password")
    assert (await accounts.login("dave", "a brand new password", "10.0.0.6")).outcome == "ok"


async def test_one_address_failing_across_names_is_throttled(accounts: Accounts) -> None:
    await accounts.add_user("erin", "viewer", PASSWORD)
    for i in range(6):
        await accounts.login(f"name{i}", "not the password", "10.9.9.9")
    assert (await accounts.login("erin", PASSWORD, "10.9.9.9")).outcome == "throttled"
    assert (await accounts.login("erin", PASSWORD, "10.1.1.1")).outcome == "ok"


async def test_a_disabled_user_cannot_log_in(accounts: Accounts) -> None:
    await accounts.add_user("fay", "admin", PASSWORD)
    await accounts.set_disabled("fay", True)
    assert (await accounts.login("fay", PASSWORD, "10.0.0.7")).outcome == "wrong"
    await accounts.set_disabled("fay", False)
    assert (await accounts.login("fay", PASSWORD, "10.0.0.7")).outcome == "ok"


async def test_a_token_is_stored_as_a_digest_and_works_until_revoked(
    accounts: Accounts, redis: Redis
) -> None:
    await accounts.add_user("gus", "operator", PASSWORD)
    token_id, token = await accounts.issue_token("gus", "ci", frozenset({"read"}))
    parts = split_token(token)
    assert parts is not None and parts[0] == token_id
    stored = await redis.hgetall(f"{accounts.p}token:{token_id}")
    assert parts[1] not in repr(stored)
    found = await accounts.authenticate(token)
    assert found is not None and found.user == "gus" and found.scopes == {"read"}
    assert found.credential == f"token:{token_id}"
    assert await accounts.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert [t.id for t in await accounts.tokens("gus")] == [token_id]
    assert await accounts.revoke_token(token_id)
    assert await accounts.authenticate(token) is None
    assert await accounts.tokens("gus") == []


async def test_token_scopes_never_exceed_the_role_now(accounts: Accounts) -> None:
    await accounts.add_user("hal", "viewer", PASSWORD)
    with pytest.raises(AccountError, match="cannot have operate"):
        await accounts.issue_token("hal", "x", frozenset({"read", "operate"}))
    await accounts.set_role("hal", "operator")
    _, token = await accounts.issue_token("hal", "x", frozenset({"read", "operate"}))
    assert (await accounts.authenticate(token)).scopes == {"read", "operate"}  # type: ignore[union-attr]
    await accounts.set_role("hal", "viewer")
    assert (await accounts.authenticate(token)).scopes == {"read"}  # type: ignore[union-attr]
    await accounts.set_disabled("hal", True)
    assert await accounts.authenticate(token) is None


async def test_an_expired_token_is_refused(accounts: Accounts) -> None:
    now = [1_000_000.0]
    accounts.clock = lambda: now[0]
    await accounts.add_user("ivy", "operator", PASSWORD)
    _, token = await accounts.issue_token("ivy", "short", frozenset({"read"}), ttl_s=3600)
    assert await accounts.authenticate(token) is not None
    now[0] += 3600
    assert await accounts.authenticate(token) is None


async def test_removing_a_user_removes_their_tokens(accounts: Accounts) -> None:
    await accounts.add_user("jay", "admin", PASSWORD)
    _, token = await accounts.issue_token("jay", "x", frozenset({"admin"}))
    await accounts.remove_user("jay")
    assert await accounts.authenticate(token) is None
    assert await accounts.users() == []
