"""The GraphQL client: THROTTLED waited out by the restore rate, failures and the circuit,
queries that fit a bucket Shopify cut."""

from __future__ import annotations

import json

import httpx
import pytest
from unit.shopify_sync.fakes import FakeClock

from shopify_sync.adapters.shopify import (
    CircuitOpen,
    CostExceeded,
    QueryError,
    ShopifyClient,
    TransientError,
)
from shopify_sync.domain.pacing import Clock
from stocksync_common.breaker import CircuitBreaker, State
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
        return CircuitBreaker(clock=c, failure_threshold=threshold, open_s=5, max_open_s=60.0)

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


async def test_the_request_is_the_document_and_its_variables_as_json() -> None:
    shop, clock = Shop([OK]), FakeClock()
    variables = {"input": {"name": "available", "reason": "correction", "quantities": [
        {"inventoryItemId": "gid://shopify/InventoryItem/1", "quantity": -3,
         "changeFromQuantity": None, "locationId": "gid://shopify/Location/é"}]}}  # fmt: skip
    await client(shop, clock).execute(STORE, "mutation M { x }", variables, operation="M", cost=10)
    real = shop.requests[-1]
    assert real.headers["Content-Type"] == "application/json"
    assert json.loads(real.content) == {
        "query": "mutation M { x }", "variables": variables, "operationName": "M"
    }  # fmt: skip


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
    assert c.factor(STORE.shop, "Q") == 48  # Shopify asked 48 times our estimate


# Reduced limits (#17): a query never costs more than the bucket holds; THROTTLED waits.


def small(available: float, requested: int = 10, maximum: float = 200.0) -> dict[str, object]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": None,
            "throttleStatus": {"maximumAvailable": maximum, "currentlyAvailable": available,
                               "restoreRate": 10.0},
        }
    }  # fmt: skip


class CutShop(Shop):
    """A shop whose limits were cut to 10 points/s and a 200-point bucket; when it answers."""

    def __init__(self, answers: list[httpx.Response], clock: FakeClock) -> None:
        super().__init__(answers)
        self.clock = clock
        self.sent_at: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if json.loads(request.content).get("operationName") == "ShopProbe":
            self.requests.append(request)
            return httpx.Response(
                200, json={"data": {"shop": {"id": "s"}}, "extensions": small(199, 1)}
            )
        self.sent_at.append(self.clock.now)
        return super().__call__(request)


def throttled(available: float, requested: int) -> httpx.Response:
    errors = [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]
    return httpx.Response(200, json={"errors": errors, "extensions": small(available, requested)})


async def test_a_query_over_the_cut_bucket_is_never_sent() -> None:
    """What was observed: a 982-point page sent to a 200-point bucket, THROTTLED, resent 20
    times at once. Now it is not sent at all: the caller is told to send less."""
    clock = FakeClock()
    shop = CutShop([], clock)
    c = client(shop, clock)
    with pytest.raises(CostExceeded) as refused:
        await c.execute(STORE, "query Q { x }", {}, operation="CatalogPage", cost=982)
    assert refused.value.limit == 200
    assert shop.sent_at == []  # only the probe went out
    assert c.circuit(STORE.shop) == State.CLOSED
    assert await c.budget(STORE, "CatalogPage", 0.5) == 100


async def test_throttled_waits_for_the_missing_points_at_the_cut_rate() -> None:
    clock = FakeClock()
    ok = httpx.Response(200, json={"data": {"x": 1}, "extensions": small(100, 182)})
    shop = CutShop([throttled(50, 182), ok], clock)
    assert await client(shop, clock).execute(
        STORE, "query Q { x }", {}, operation="Q", cost=182
    ) == {"x": 1}
    first, retry = shop.sent_at
    assert retry - first >= (182 - 50) / 10.0


async def test_throttled_never_retries_at_once_even_when_the_status_says_enough() -> None:
    clock = FakeClock()
    ok = httpx.Response(200, json={"data": {"x": 1}, "extensions": small(100, 10)})
    shop = CutShop([throttled(190, 10), ok], clock)  # a status read after the bucket refilled
    await client(shop, clock).execute(STORE, "query Q { x }", {}, operation="Q", cost=10)
    first, retry = shop.sent_at
    assert retry - first >= 1 / 10.0


async def test_max_cost_exceeded_teaches_the_limit_and_nothing_larger_is_sent() -> None:
    """The bucket was 2,000 points when last seen; Shopify cut it to 200 meanwhile and says
    so in the error alone (no throttleStatus)."""
    message = "Query cost is 300, which exceeds the single query max cost limit (200)."
    refused = httpx.Response(
        200,
        json={"errors": [{"message": message, "extensions": {
            "code": "MAX_COST_EXCEEDED", "cost": 300, "maxCost": 200}}]},
    )  # fmt: skip
    clock = FakeClock()
    shop = Shop([refused])
    c = client(shop, clock)
    with pytest.raises(CostExceeded) as error:
        await c.execute(STORE, "query Q { x }", {}, operation="Q", cost=300)
    assert error.value.limit == 200
    with pytest.raises(CostExceeded):
        await c.execute(STORE, "query Q { x }", {}, operation="Q", cost=250)
    assert len(shop.requests) == 2  # the probe and the refused query, nothing since
    assert c.circuit(STORE.shop) == State.CLOSED
    assert await c.budget(STORE, "Q") == 200


async def test_limits_restored_lift_the_learned_ceiling() -> None:
    clock = FakeClock()
    back = httpx.Response(200, json={"data": {"x": 1}, "extensions": small(2000, 10, 2000.0)})
    shop = CutShop([back], clock)
    c = client(shop, clock)
    assert await c.budget(STORE, "Q") == 200
    await c.execute(STORE, "query Q { x }", {}, operation="Q", cost=10)
    assert await c.budget(STORE, "Q") == 1000  # Shopify's single-query limit again
    assert await c.budget(STORE, "Q", 0.5) == 1000
