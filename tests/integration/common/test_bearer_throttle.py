"""Failed bearer attempts on an admin route, throttled on the real Redis
(stocksync_common.accounts.throttle): a guesser of the bootstrap token is refused with 429
and Retry-After and gets no answer from the token any more, even the right one; one client
repeating a revoked token is cut off alone, so the console's other users keep working from
the same address; wrong secrets for one token id from many addresses are throttled while the
token itself keeps working; every counter expires."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from stocksync_common.accounts.store import Accounts
from stocksync_common.accounts.throttle import BearerThrottle
from stocksync_common.auth import AdminDep
from stocksync_common.redis_client import connect
from stocksync_common.settings import CommonSettings
from support.accounts import scratch_accounts
from support.infra import REDIS_CLUSTER

pytestmark = pytest.mark.integration
BOOTSTRAP = "throttle-test-bootstrap-token"  # noqa: S105 - a test secret
PASSWORD = "throttle test password"  # noqa: S105 - a test secret
CONSOLE = "10.0.0.86"
WINDOW_S = 120


@dataclass
class Api:
    app: FastAPI
    accounts: Accounts
    throttle: BearerThrottle

    async def get(
        self, address: str, bearer: str | None, forwarded_for: str | None = None
    ) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
        headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
        if forwarded_for is not None:
            headers["X-Forwarded-For"] = forwarded_for
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/look", headers=headers)

    async def codes(self, address: str, bearer: str | None, times: int) -> list[int]:
        return [(await self.get(address, bearer)).status_code for _ in range(times)]


@pytest.fixture
async def api(redis: Redis) -> AsyncIterator[Api]:
    prefix = f"test-bearer:{uuid.uuid4().hex[:8]}:"
    throttle = BearerThrottle(
        redis, per_pair=3, per_address=6, per_token=4, window_s=WINDOW_S, prefix=prefix
    )
    async with scratch_accounts(redis) as accounts:
        app = FastAPI()
        app.state.settings = CommonSettings(admin_token=BOOTSTRAP)
        app.state.accounts, app.state.bearer_throttle = accounts, throttle

        @app.get("/look")
        async def look(who: AdminDep) -> dict[str, str]:
            return {"who": who.who}

        try:
            yield Api(app, accounts, throttle)
        finally:
            keys = [k async for k in redis.scan_iter(f"{prefix}*")]
            if keys:
                await redis.delete(*keys)


async def _token(api: Api, name: str) -> str:
    await api.accounts.add_user(name, "viewer", PASSWORD)
    return (await api.accounts.issue_token(name, "test", frozenset({"read"})))[1]


async def test_a_guesser_of_the_bootstrap_token_is_throttled_and_told_when_to_retry(
    api: Api,
) -> None:
    guesses = [(await api.get("192.0.2.7", f"guess-{i}")).status_code for i in range(6)]
    assert guesses == [401] * 6
    refused = await api.get("192.0.2.7", "guess-6")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= WINDOW_S
    # the right token is not even compared from there: a guess gets no answer at all
    assert (await api.get("192.0.2.7", BOOTSTRAP)).status_code == 429
    # another address is not touched
    assert (await api.get("192.0.2.8", BOOTSTRAP)).status_code == 200


async def test_a_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(
    api: Api,
) -> None:
    """No trusted proxy (the default): a guesser writing a new X-Forwarded-For each time is
    still one address."""
    codes = [
        (await api.get("192.0.2.9", f"guess-{i}", f"203.0.113.{i}")).status_code for i in range(7)
    ]
    assert codes == [401] * 6 + [429]
    assert (await api.get("192.0.2.9", BOOTSTRAP, "203.0.113.200")).status_code == 429


async def test_behind_a_trusted_proxy_each_client_is_throttled_alone(api: Api) -> None:
    proxy = "10.1.2.3"
    api.app.state.settings = CommonSettings(admin_token=BOOTSTRAP, trusted_proxies="10.1.0.0/16")
    # a guesser behind the proxy, prepending addresses of its own to the header
    guesses = [
        (await api.get(proxy, f"guess-{i}", f"6.6.6.{i}, 192.0.2.66")).status_code for i in range(7)
    ]
    assert guesses == [401] * 6 + [429]
    # another client through the same proxy is not touched by the guesser's failures
    assert (await api.get(proxy, BOOTSTRAP, "192.0.2.67")).status_code == 200
    # an untrusted peer's header still names nobody: it is its own address
    assert (await api.get("192.0.2.68", BOOTSTRAP, "192.0.2.66")).status_code == 200
    assert (await api.get("192.0.2.66", BOOTSTRAP)).status_code == 429


async def test_a_revoked_token_from_the_console_locks_out_no_other_user(api: Api) -> None:
    revoked, other = await _token(api, "rita"), await _token(api, "otto")
    assert await api.accounts.revoke_token(revoked.split("_")[1])
    # the console keeps sending rita's dead token: cut off after three, with no lookup
    assert await api.codes(CONSOLE, revoked, 5) == [401, 401, 401, 429, 429]
    # more failures from the console's address (other dead credentials) push it over its cap
    assert await api.codes(CONSOLE, "stale-script-token", 3) == [401, 401, 401]
    assert (await api.get(CONSOLE, "yet-another")).status_code == 429
    # otto's valid token still works from the console's address
    ok = await api.get(CONSOLE, other)
    assert ok.status_code == 200 and ok.json() == {"who": "otto"}


async def test_wrong_secrets_for_one_token_id_are_throttled_but_the_token_works(
    api: Api,
) -> None:
    token = await _token(api, "tess")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    codes = [(await api.get(f"198.51.100.{i}", forged)).status_code for i in range(6)]
    assert codes == [401, 401, 401, 401, 429, 429]  # four failures for the id, any address
    assert (await api.get("198.51.100.99", token)).status_code == 200


async def test_every_counter_expires_within_its_window(api: Api, redis: Redis) -> None:
    token = await _token(api, "ezra")
    await api.get("203.0.113.5", token[:-1] + ("x" if token[-1] != "x" else "y"))
    # no credential guesses nothing: 401, never counted, never throttled
    assert await api.codes("203.0.113.5", None, 12) == [401] * 12
    keys = [k async for k in redis.scan_iter(f"{api.throttle.prefix}*")]
    assert len(keys) == 3  # the pair, the address, the token id
    for key in keys:
        assert 0 < await redis.ttl(key) <= WINDOW_S
    secret = token.split("_", 2)[2]  # sst_<id>_<secret>: the secret may hold "_" itself
    assert len(secret) == 43
    assert not any(secret in str(k) for k in keys)  # never the secret


async def test_without_redis_attempts_go_uncounted_and_credentials_are_still_checked() -> None:
    # Opened as the services open Redis, of the kind under test: on a Redis Cluster run, the
    # cluster client, whose "no node answers" is an error of its own.
    gone = connect(f"{'redis+cluster' if REDIS_CLUSTER else 'redis'}://127.0.0.1:1/0", timeout_s=1)
    app = FastAPI()
    app.state.settings = CommonSettings(admin_token=BOOTSTRAP)
    app.state.bearer_throttle = BearerThrottle(gone, per_pair=1, per_address=1)

    @app.get("/look")
    async def look(who: AdminDep) -> dict[str, str]:
        return {"who": who.who}

    api = Api(app, None, app.state.bearer_throttle)  # type: ignore[arg-type]
    assert await api.codes("192.0.2.50", "wrong", 3) == [401] * 3
    assert (await api.get("192.0.2.50", BOOTSTRAP)).status_code == 200
    await gone.aclose()
