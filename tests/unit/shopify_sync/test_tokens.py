"""Expiring Admin API tokens (adapters.tokens): asked for through the client credentials
grant, kept until shortly before they expire, replaced at once when Shopify refuses one
(401) with the request sent again exactly once; a fixed token is sent as it is."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qsl

import httpx
import pytest
from unit.shopify_sync.fakes import FakeClock

from shopify_sync.adapters.shopify import ShopifyClient, TransientError
from shopify_sync.adapters.tokens import TokenError, TokenProvider, refresh_at
from stocksync_common.stores import Store

SECRET = "shpss_unit-client-secret-0123456789"  # noqa: S105 - a test secret
STORE = Store.model_validate({
    "shop": "a.myshopify.com", "admin_base_url": "http://shop.test", "client_id": "app-1",
    "client_secret": SECRET, "webhook_secret": "w",
})  # fmt: skip
FIXED = Store.model_validate(
    {"shop": "b.myshopify.com", "admin_base_url": "http://shop.test", "access_token": "shpat_fixed",
     "webhook_secret": "w"}
)  # fmt: skip
COST = {"cost": {"requestedQueryCost": 1, "actualQueryCost": 1, "throttleStatus": {
    "maximumAvailable": 2000.0, "currentlyAvailable": 1990.0, "restoreRate": 100.0}}}  # fmt: skip
AUTH_ERROR = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}


class Shopify:
    """A token endpoint issuing ``shpat_<n>`` for ``ttl`` seconds of ``clock``, and a GraphQL
    endpoint accepting only the newest unexpired one (or the fixed one)."""

    def __init__(self, clock: FakeClock, ttl: float = 100.0) -> None:
        self.clock, self.ttl = clock, ttl
        self.grants: list[dict[str, str]] = []
        self.valid: dict[str, float] = {}
        self.writes: list[str] = []  # GraphQL operations run
        self.refused = 0
        self.token_status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/admin/oauth/access_token":
            self.grants.append(dict(parse_qsl(request.content.decode())))
            if self.token_status != 200:
                return httpx.Response(self.token_status, json={"error": "invalid_client"})
            token = f"shpat_{len(self.grants)}"
            self.valid[token] = self.clock() + self.ttl
            return httpx.Response(200, json={"access_token": token, "scope": "write_inventory",
                                             "expires_in": self.ttl})  # fmt: skip
        token = request.headers["x-shopify-access-token"]
        if token != "shpat_fixed" and self.valid.get(token, 0.0) <= self.clock():
            self.refused += 1
            return httpx.Response(401, json=AUTH_ERROR)
        self.writes.append(json.loads(request.content)["operationName"])
        return httpx.Response(200, json={"data": {"ok": True}, "extensions": COST})


def provider(shopify: Shopify, clock: FakeClock) -> TokenProvider:
    return TokenProvider(httpx.AsyncClient(transport=httpx.MockTransport(shopify)), clock)


def test_a_token_is_refreshed_a_fifth_of_its_life_early_and_at_most_five_minutes() -> None:
    assert refresh_at(0.0, 100.0) == 80.0
    assert refresh_at(0.0, 86399.0) == 86399.0 - 300.0


async def test_a_token_is_asked_for_once_and_again_shortly_before_it_expires() -> None:
    clock = FakeClock()
    shopify = Shopify(clock)
    tokens = provider(shopify, clock)
    assert await tokens.token(STORE) == "shpat_1"
    assert shopify.grants == [
        {"grant_type": "client_credentials", "client_id": "app-1", "client_secret": SECRET}
    ]
    clock.now += 79.9
    assert await tokens.token(STORE) == "shpat_1" and len(shopify.grants) == 1
    clock.now += 0.1  # 80 of 100 s: refreshed before it expires
    assert await tokens.token(STORE) == "shpat_2" and len(shopify.grants) == 2


async def test_concurrent_callers_share_one_grant() -> None:
    clock = FakeClock()
    shopify = Shopify(clock)
    tokens = provider(shopify, clock)
    got = await asyncio.gather(*(tokens.token(STORE) for _ in range(10)))
    assert set(got) == {"shpat_1"} and len(shopify.grants) == 1


async def test_a_fixed_token_is_sent_as_it_is_and_never_granted() -> None:
    clock = FakeClock()
    shopify = Shopify(clock)
    assert await provider(shopify, clock).token(FIXED) == "shpat_fixed"
    assert shopify.grants == []


async def test_a_refused_grant_is_a_clear_error_without_the_secret() -> None:
    clock = FakeClock()
    shopify = Shopify(clock)
    shopify.token_status = 400
    with pytest.raises(TokenError, match="a.myshopify.com.*refused.*invalid_client") as caught:
        await provider(shopify, clock).token(STORE)
    assert SECRET not in str(caught.value)


async def test_a_401_replaces_the_token_and_sends_the_request_once_more() -> None:
    clock = FakeClock()
    shopify = Shopify(clock, ttl=100.0)
    http = httpx.AsyncClient(transport=httpx.MockTransport(shopify))
    client = ShopifyClient(http, clock=clock, sleep=clock.sleep)
    await client.execute(STORE, "mutation SetQ { x }", {}, operation="SetQ", cost=1.0)
    shopify.valid.clear()  # Shopify revoked or expired it before our refresh time
    await client.execute(STORE, "mutation SetQ { x }", {}, operation="SetQ", cost=1.0)
    assert shopify.refused == 1 and len(shopify.grants) == 2
    assert shopify.writes.count("SetQ") == 2  # each write run once: the refused one ran nothing


async def test_a_fresh_token_refused_too_is_a_transient_failure_not_a_loop() -> None:
    clock = FakeClock()
    shopify = Shopify(clock, ttl=0.0)  # every token is dead on arrival
    http = httpx.AsyncClient(transport=httpx.MockTransport(shopify))
    client = ShopifyClient(http, clock=clock, sleep=clock.sleep)
    with pytest.raises(TransientError, match="401"):
        await client.execute(STORE, "mutation SetQ { x }", {}, operation="SetQ", cost=1.0)
    assert len(shopify.grants) == 2 and shopify.writes == []
