"""The simulator's client credentials grant: a store configured with client_id and
client_secret gets tokens that expire after its token_ttl_s; an expired token is answered
with Shopify's 401, bad credentials with OAuth's 400 ``invalid_client``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from unit.simulators.shopify_harness import FrozenClock

from stocksync_sim.shopify.app import create_app
from stocksync_sim.shopify.config import parse_stores
from stocksync_sim.shopify.endpoint import AUTH_ERROR
from stocksync_sim.shopify.runtime import SimSettings

A, B = "a.myshopify.com", "b.myshopify.com"
SECRET = "shpss_app-1-secret"  # noqa: S105 - a test secret
CLIENT: dict[str, Any] = {"client_id": "app-1", "client_secret": SECRET, "token_ttl_s": 60}
GRANT = {"grant_type": "client_credentials", "client_id": "app-1", "client_secret": SECRET}
PROBE = {"query": "query ShopProbe { shop { id } }", "variables": {}}


@asynccontextmanager
async def sim(*stores: dict[str, Any]) -> AsyncIterator[tuple[httpx.AsyncClient, FrozenClock]]:
    clock = FrozenClock()
    configs = parse_stores({"stores": list(stores)}, environ={})
    app = create_app(SimSettings(stores=configs, validation="off"), clock=clock)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s.test") as c,
    ):
        yield c, clock


def store(shop: str, **access: Any) -> dict[str, Any]:
    return {"shop": shop, "webhook_secret": "w", **(access or CLIENT)}


async def graphql(client: httpx.AsyncClient, token: str, path: str = "") -> httpx.Response:
    return await client.post(
        f"{path}/admin/api/2026-10/graphql.json", json=PROBE,
        headers={"X-Shopify-Access-Token": token},
    )  # fmt: skip


async def test_an_issued_token_works_until_it_expires_then_is_refused_as_shopify_does() -> None:
    async with sim(store(A)) as (client, clock):
        r = await client.post("/admin/oauth/access_token", data=GRANT)
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        body = r.json()
        assert body["access_token"].startswith("shpat_") and body["expires_in"] == 60
        assert "write_inventory" in body["scope"].split(",")
        assert (await graphql(client, body["access_token"])).status_code == 200
        clock.advance(59.9)
        assert (await graphql(client, body["access_token"])).status_code == 200
        clock.advance(0.1)
        expired = await graphql(client, body["access_token"])
        assert expired.status_code == 401 and expired.json() == AUTH_ERROR
        stats = (await client.get("/_sim/stats")).json()[A]
        assert stats["tokens_issued"] == 1 and stats["expired_tokens_refused"] == 1
        # a new grant gives a new token that works
        fresh = (await client.post("/admin/oauth/access_token", json=GRANT)).json()
        assert fresh["access_token"] != body["access_token"]
        assert (await graphql(client, fresh["access_token"])).status_code == 200


async def test_wrong_credentials_or_grant_type_get_oauths_error_shape() -> None:
    async with sim(store(A)) as (client, _):
        wrong = await client.post(
            "/admin/oauth/access_token", data={**GRANT, "client_secret": "nope"}
        )
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_client"
        assert SECRET not in wrong.text
        other = await client.post(
            "/admin/oauth/access_token", data={**GRANT, "grant_type": "password"}
        )
        assert other.status_code == 400 and other.json()["error"] == "unsupported_grant_type"


async def test_one_app_in_two_shops_names_the_shop_and_each_token_is_its_shops() -> None:
    async with sim(store(A), store(B)) as (client, _):
        shared = await client.post("/admin/oauth/access_token", data=GRANT)
        assert shared.status_code == 400 and shared.json()["error"] == "invalid_request"
        r = await client.post(f"/shops/{B}/admin/oauth/access_token", data=GRANT)
        assert r.status_code == 200
        token = r.json()["access_token"]
        assert (await graphql(client, token, f"/shops/{B}")).status_code == 200
        assert (await graphql(client, token, f"/shops/{A}")).status_code == 401


async def test_a_fixed_token_store_has_no_client_credentials_to_grant() -> None:
    async with sim(store(A, access_token="shpat_fixed")) as (client, clock):
        r = await client.post("/admin/oauth/access_token", data=GRANT)
        assert r.status_code == 400 and r.json()["error"] == "invalid_client"
        clock.advance(10**6)  # a fixed token never expires
        assert (await graphql(client, "shpat_fixed")).status_code == 200
