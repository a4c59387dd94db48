"""The console's logins on the real Redis (sessions and the accounts store): a named user
logs in, repeated failures lock the name out and throttle the address, a session ends when
idle or old (an injected clock), or when its user is disabled, and audit lines name users.
The services behind the console are fakes (tests/unit/ops_console/fakes.py)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from integration.ops_console.harness import Clock, console
from redis.asyncio import Redis
from unit.ops_console.fakes import FakeServices

from ops_console.sessions import COOKIE
from stocksync_common.accounts.store import Accounts
from support.accounts import scratch_accounts
from support.poll import await_for

pytestmark = pytest.mark.integration
PASSWORD = "console test password"  # noqa: S105 - a test secret


@pytest.fixture
async def accounts(redis: Redis) -> AsyncIterator[Accounts]:
    async with scratch_accounts(redis, max_failures=3, max_address_failures=5) as store:
        await store.add_user("olga", "operator", PASSWORD)
        await store.add_user("vic", "viewer", PASSWORD)
        yield store


async def _login(
    client: httpx.AsyncClient, user: str, password: str = PASSWORD, forwarded_for: str = ""
) -> int:
    form = {"user": user, "password": password, "next": "/stores"}
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return (await client.post("/login", data=form, headers=headers)).status_code


async def _signed_in(client: httpx.AsyncClient) -> bool:
    return (await client.get("/stores")).status_code == 200


async def test_a_named_user_logs_in_and_the_audit_lines_name_them(
    redis_url: str, accounts: Accounts, caplog: pytest.LogCaptureFixture
) -> None:
    services = FakeServices(accept="Bearer sst_")
    async with console(redis_url, accounts, Clock(), services) as client:
        caplog.set_level(logging.INFO, "ops_console.audit")
        assert await _login(client, "olga", "wrong password") == 401
        assert COOKIE not in client.cookies
        assert await _login(client, "olga") == 303
        page = (await client.get("/reconcile")).text
        assert "olga (operator)" in page and 'action="/reconcile"' in page
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        assert (await client.post("/reconcile", data={"csrf": csrf})).status_code == 303
        lines = {r.getMessage(): getattr(r, "who", "") for r in caplog.records}
        assert lines["audit: login"].startswith("olga/console:")
        assert lines["audit: reconcile"].startswith("olga/console:")
        assert PASSWORD not in caplog.text
        # the services were called with olga's own session token (they check its scopes and
        # name her in their audit lines); logging out revokes it
        [call] = services.calls("shopify-sync", "POST", "/reconcile")
        token = call.headers["authorization"].removeprefix("Bearer ")
        found = await accounts.authenticate(token)
        assert found is not None and found.user == "olga" and found.scopes == {"read", "operate"}
        assert token not in caplog.text
        assert (await client.post("/logout", data={"csrf": csrf})).status_code == 303
        assert await accounts.authenticate(token) is None


async def test_repeated_failures_lock_the_name_out_then_throttle_the_address(
    redis_url: str, accounts: Accounts
) -> None:
    async with console(redis_url, accounts, Clock()) as client:
        assert [await _login(client, "vic", f"guess {i} wrong!") for i in range(3)] == [
            401, 401, 429,
        ]  # fmt: skip
        assert await _login(client, "vic") == 429  # the right password, locked out
        assert not await _signed_in(client)
        assert await _login(client, "olga", "also wrong pw") == 401
        assert await _login(client, "olga") == 429  # five failures from this address
        await accounts.unlock("vic")
        assert await _login(client, "vic") == 429  # the address is still throttled


async def test_a_spoofed_forwarded_for_does_not_escape_the_address_throttle(
    redis_url: str, accounts: Accounts
) -> None:
    """No trusted proxy: every failure counts on the peer, whatever X-Forwarded-For says."""
    async with console(redis_url, accounts, Clock(), peer="192.0.2.30") as client:
        for i, user in enumerate(("nobody1", "nobody2", "nobody3", "nobody4", "nobody5")):
            assert await _login(client, user, "wrong pw", f"203.0.113.{i}") == 401
        assert await _login(client, "vic", forwarded_for="203.0.113.99") == 429


async def test_behind_a_trusted_proxy_the_login_throttle_keys_on_the_client(
    redis_url: str, accounts: Accounts
) -> None:
    async with console(
        redis_url, accounts, Clock(), peer="10.9.8.7", trusted_proxies="10.9.0.0/16"
    ) as client:
        for i, user in enumerate(("nobody1", "nobody2", "nobody3", "nobody4", "nobody5")):
            # the guesser's own prefix is never read: the proxy appended its real address
            assert await _login(client, user, "wrong pw", f"6.6.6.{i}, 192.0.2.40") == 401
        assert await _login(client, "vic", forwarded_for="192.0.2.40") == 429
        assert await _login(client, "vic", forwarded_for="192.0.2.41") == 303  # another client


async def test_a_session_ends_when_idle_or_old(redis_url: str, accounts: Accounts) -> None:
    clock = Clock()
    async with console(redis_url, accounts, clock) as client:
        assert await _login(client, "vic") == 303
        for _ in range(19):  # used every 25 minutes: kept alive until 8 h after the login
            clock.now += 25 * 60
            assert await _signed_in(client)
        clock.now += 25 * 60  # 8 h 20 min after the login
        assert not await _signed_in(client)

        assert await _login(client, "vic") == 303
        clock.now += 29 * 60
        assert await _signed_in(client)
        clock.now += 30 * 60  # 30 min unused
        assert not await _signed_in(client)


async def test_disabling_a_user_or_changing_their_role_ends_their_session(
    redis_url: str, accounts: Accounts
) -> None:
    async with console(redis_url, accounts, Clock()) as client:
        assert await _login(client, "olga") == 303
        assert 'action="/reconcile"' in (await client.get("/reconcile")).text
        await accounts.set_role("olga", "viewer")
        assert not await _signed_in(client)  # logged in as an operator: that session is over
        assert await _login(client, "olga") == 303
        page = (await client.get("/reconcile")).text
        assert "olga (viewer)" in page and 'action="/reconcile"' not in page
        await accounts.set_disabled("olga", True)
        assert not await _signed_in(client)
        await accounts.set_disabled("olga", False)
        assert not await _signed_in(client)  # the session is gone, not only paused


async def test_a_password_reset_ends_every_session_of_the_user_at_once(
    redis_url: str, accounts: Accounts
) -> None:
    """Two sessions of olga on two console replicas; a reset (the CLI's or an admin's) ends
    both and refuses their tokens at the services before either is used again. A token
    olga was issued for a script lives on by its own expiry and revocation."""
    services = FakeServices(accept="Bearer sst_")
    _, script_token = await accounts.issue_token("olga", "a script", frozenset({"read"}))
    async with (
        console(redis_url, accounts, Clock(), services) as first,
        console(redis_url, accounts, Clock(), services) as second,
    ):
        tokens = []
        for client in (first, second):
            assert await _login(client, "olga") == 303
            assert await _signed_in(client)
            tokens.append(services.requests[-1].headers["authorization"].split(" ", 1)[1])
        assert await _login(second, "vic") == 303  # another user's session is untouched
        assert await _signed_in(second)
        vic_token = services.requests[-1].headers["authorization"].split(" ", 1)[1]
        for token in tokens:
            assert await accounts.authenticate(token) is not None

        await accounts.set_password("olga", "a new password for olga")
        for token in tokens:  # at once: no page of either session was asked for yet
            assert await accounts.authenticate(token) is None
        assert not await _signed_in(first)
        assert await accounts.authenticate(vic_token) is not None
        assert await _signed_in(second)  # vic's session, not olga's
        assert await accounts.authenticate(script_token) is not None
        assert await _login(first, "olga") == 401  # the old password
        assert await _login(first, "olga", "a new password for olga") == 303
        assert await _signed_in(first)


async def test_a_session_left_idle_takes_its_token_with_it(
    redis_url: str, accounts: Accounts, redis: Redis
) -> None:
    services = FakeServices(accept="Bearer sst_")
    # real time here: nobody comes back, so only the session record's own expiry ends it
    async with console(redis_url, accounts, Clock(), services, idle_s=3) as client:
        assert await _login(client, "olga") == 303
        assert await _signed_in(client)
        token = services.requests[-1].headers["authorization"].removeprefix("Bearer ")
        assert await accounts.authenticate(token) is not None
        session_key = "console:session:" + client.cookies[COOKIE].rpartition(".")[0]
        token_key = f"{accounts.p}token:{token.split('_')[1]}"
        # absolute expiry times (ms): the token never outlives the session
        token_end, session_end = (
            await redis.pexpiretime(token_key),
            await redis.pexpiretime(session_key),
        )
        assert 0 < token_end <= session_end

        async def session_gone() -> bool:
            return not await redis.exists(session_key)

        await await_for("the idle session's expiry", session_gone, 15)
        assert await accounts.authenticate(token) is None
        assert not await redis.exists(token_key)


async def test_revoking_a_sessions_token_ends_the_session(
    redis_url: str, accounts: Accounts
) -> None:
    services = FakeServices(accept="Bearer sst_")
    async with console(redis_url, accounts, Clock(), services) as client:
        assert await _login(client, "olga") == 303
        assert await _signed_in(client)
        token = services.requests[-1].headers["authorization"].removeprefix("Bearer ")
        assert await accounts.revoke_token(token.split("_")[1])  # an admin, on the Users page
        assert not await _signed_in(client)
