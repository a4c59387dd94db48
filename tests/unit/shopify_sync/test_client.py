"""The GraphQL client: THROTTLED waited out by the restore rate, failures and the circuit."""

from __future__ import annotations

import json

import httpx
import pytest
from unit.shopify_sync.fakes import FakeClock

from shopify_sync.adapters.shopify import CircuitOpen, QueryError, ShopifyClient, TransientError
from shopify_sync.domain.breaker import CircuitBreaker, State
from shopify_sync.domain.pacing import Clock
from stocksync_common.stores import Store

STORE = Store(
    shop="a.myshopify.com",
    admin_base_url="http://shop.test",
    api_version="2026-07",
    access_token="tok",  # type: ignore[arg-type]
    webhook_secret="s",  # type: ignore[arg-type]
)


def cost(available: float, requested: int = 10) -> dict[str, object]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": requested,
            "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": available,
                               "restoreRate": 100.0},
        }
    }  # fmt: skip


class Shop:
    def __init__(self, answers: list[httpx.Response]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if json.loads(request.content).get("operationName") == "ShopProbe":
            return httpx.Response(
                200, json={"data": {"shop": {"id": "s"}}, "extensions": cost(1990, 1)}
            )
        return self.answers.pop(0)


def client(shop: Shop, clock: FakeClock, threshold: int = 2) -> ShopifyClient:
    def breaker(_s: str, c: Clock) -> CircuitBreaker:
        return CircuitBreaker(c, failure_threshold=threshold, open_s=5)

    http = httpx.AsyncClient(transport=httpx.MockTransport(shop))
    return ShopifyClient(http, clock=clock, sleep=clock.sleep, breaker_factory=breaker)


OK = httpx.Response(200, json={"data": {"x": 1}, "extensions": cost(1980)})
THROTTLED = httpx.Response(
    200,
    json={"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
          "extensions": cost(3)},
)  # fmt: skip


async def test_url_version_token_and_probe_first() -> None:
    shop, clock = Shop([OK]), FakeClock()
    assert await client(shop, clock).execute(
        STORE, "query Q { x }", {}, operation="Q", cost=10
    ) == {"x": 1}
    probe, real = shop.requests
    assert str(real.url) == "http://shop.test/admin/api/2026-07/graphql.json"
    assert real.headers["X-Shopify-Access-Token"] == "tok"
    assert json.loads(probe.content)["operationName"] == "ShopProbe"


async def test_throttled_waits_by_the_restore_rate_then_succeeds() -> None:
    shop, clock = Shop([THROTTLED, OK]), FakeClock()
    start = clock.now
    data = await client(shop, clock).execute(STORE, "query Q { x }", {}, operation="Q", cost=10)
    assert data == {"x": 1}
    assert clock.now - start == pytest.approx((10 + 1 - 3) / 100, abs=0.002)


async def test_429_is_waited_out_too() -> None:
    shop, clock = Shop([httpx.Response(429, headers={"Retry-After": "2"}), OK]), FakeClock()
    assert await client(shop, clock).execute(STORE, "query Q { x }", {}, operation="Q", cost=10)


async def test_5xx_opens_the_circuit_and_an_open_circuit_sends_nothing() -> None:
    shop, clock = Shop([httpx.Response(503), httpx.Response(502), OK]), FakeClock()
    c = client(shop, clock)
    for _ in range(2):
        with pytest.raises(TransientError):
            await c.execute(STORE, "query Q { x }", {}, operation="Q", cost=10)
    assert c.circuit(STORE.shop) == State.OPEN
    sent = len(shop.requests)
    with pytest.raises(CircuitOpen):
        await c.execute(STORE, "query Q { x }", {}, operation="Q", cost=10)
    assert len(shop.requests) == sent
    clock.now += 5
    assert await c.execute(STORE, "query Q { x }", {}, operation="Q", cost=10)  # the probe
    assert c.circuit(STORE.shop) == State.CLOSED


async def test_refused_document_is_a_query_error_and_does_not_open_the_circuit() -> None:
    bad = httpx.Response(
        200, json={"errors": [{"message": "Field 'x' doesn't exist"}], "extensions": cost(1990)}
    )
    shop, clock = Shop([bad, bad, bad]), FakeClock()
    c = client(shop, clock)
    for _ in range(3):
        with pytest.raises(QueryError):
            await c.execute(STORE, "query Q { x }", {}, operation="Q", cost=10)
    assert c.circuit(STORE.shop) == State.CLOSED


async def test_higher_requested_cost_is_learned() -> None:
    big = httpx.Response(200, json={"data": {"x": 1}, "extensions": cost(1500, requested=480)})
    shop, clock = Shop([big, OK]), FakeClock()
    c = client(shop, clock)
    await c.execute(STORE, "query Q { x }", {}, operation="Q", cost=10)
    assert c.learned[(STORE.shop, "Q")] == 480
