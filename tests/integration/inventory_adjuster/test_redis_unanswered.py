"""No Redis answering the adjuster's read API: ``GET /inventory/{sku}`` and its ledger are
answered 503 with ``Retry-After`` and "Redis did not answer" (a caller tries again), never
500; a user's bearer token that cannot be looked up is 503 too, never 401. On one Redis and
on a Redis Cluster no node of which answers (docs/decisions/0029-redis-cluster.md).

The app is the adjuster's own (``create_app``: its exception handlers), its container the
read API's store on Redis at a port where nothing listens; Kafka is not started (the
lifespan, which runs the consumers, is not entered)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import pytest

from inventory_adjuster.adapters.redis_store import RedisInventory
from inventory_adjuster.entrypoints.app import create_app
from inventory_adjuster.settings import Settings
from stocksync_common.accounts import new_token
from stocksync_common.accounts.store import Accounts
from stocksync_common.redis_client import connect

pytestmark = pytest.mark.integration
NOBODY = "127.0.0.1:1"  # connection refused at once
TOKEN = "a-token-long-enough-for-the-test"  # noqa: S105 - a test secret


@pytest.fixture(params=["redis", "redis+cluster"])
async def api(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    url = f"{request.param}://{NOBODY}/0"
    redis = connect(url, timeout_s=1.0)
    app = create_app(Settings(redis_url=url, admin_token=TOKEN, environment="test"))
    store = RedisInventory(redis, "g-unanswered", idem_ttl_s=3600, ledger_max_len=100)
    app.state.container = SimpleNamespace(store=store)
    app.state.accounts = Accounts(redis)  # where the runtime puts it: user tokens
    # an escaped exception is the server's 500, as a client sees it
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://adjuster") as http:
            yield http
    finally:
        await redis.aclose()


def assert_retry_later(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "1"
    assert r.json()["detail"] == "Redis did not answer; retry later"


async def test_levels_are_answered_503_retry_later(api: httpx.AsyncClient) -> None:
    assert_retry_later(await api.get(f"/inventory/IT-{uuid.uuid4().hex[:8]}"))


async def test_the_ledger_is_answered_503_retry_later(api: httpx.AsyncClient) -> None:
    r = await api.get(
        f"/inventory/IT-{uuid.uuid4().hex[:8]}/ledger", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert_retry_later(r)


async def test_a_user_token_not_looked_up_is_503_not_401(api: httpx.AsyncClient) -> None:
    _, token, _ = new_token()
    r = await api.get(
        f"/inventory/IT-{uuid.uuid4().hex[:8]}/ledger", headers={"Authorization": f"Bearer {token}"}
    )
    assert_retry_later(r)
    assert token not in r.text
