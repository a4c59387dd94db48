"""Test harness for the simulators: stores, a frozen clock, a capturing webhook receiver
and a no-op sleep, so nothing touches the network and nothing sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from stocksync_sim.delivery import RetryPolicy
from stocksync_sim.shopify.app import create_app
from stocksync_sim.shopify.config import StoreConfig, parse_stores
from stocksync_sim.shopify.runtime import SimSettings, Simulator
from stocksync_sim.shopify.schema import ValidationMode

PARENT = "parent.myshopify.com"
CHILD = "child.myshopify.com"
PARENT_TOKEN = "shpat_parent"
CHILD_TOKEN = "shpat_child"
# the child's app's client credentials too (the client credentials grant, stocksync_sim oauth)
CHILD_CLIENT_ID = "child-app"
CHILD_CLIENT_SECRET = "shpss_child_app_secret"  # noqa: S105 - a test secret
PARENT_SECRET = "parent-webhook-secret"
LOC = "gid://shopify/Location/1"
LOC2 = "gid://shopify/Location/2"
WEBHOOK_URL = "http://receiver.test/webhooks/shopify"


class FrozenClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Receiver:
    """A webhook endpoint: records requests, answers with queued outcomes (default 200)."""

    outcomes: list[int | Exception] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.outcomes.pop(0) if self.outcomes else 200
        if isinstance(outcome, Exception):
            raise outcome
        return httpx.Response(outcome, json={"ok": outcome < 300})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)


@dataclass
class Sleeps:
    """Stands in for asyncio.sleep: records the requested waits, returns at once."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def store_configs() -> list[StoreConfig]:
    return parse_stores(
        {
            "stores": [
                {
                    "shop": PARENT,
                    "role": "parent",
                    "access_token": PARENT_TOKEN,
                    "webhook_secret": PARENT_SECRET,
                    "webhook_secret_previous": "parent-old-secret",
                    "locations": {"wh-1": LOC, "wh-2": LOC2},
                },
                {
                    "shop": CHILD,
                    "role": "child",
                    "access_token": CHILD_TOKEN,
                    "client_id": CHILD_CLIENT_ID,
                    "client_secret": CHILD_CLIENT_SECRET,
                    "webhook_secret": "child-secret",
                    "plan": "plus",
                    "locations": {"wh-1": "gid://shopify/Location/9"},
                },
            ]
        },
        environ={},
    )


@dataclass
class ShopifySim:
    client: httpx.AsyncClient
    sim: Simulator
    clock: FrozenClock
    receiver: Receiver
    sleeps: Sleeps
    transport: httpx.AsyncBaseTransport  # the app over ASGI, for clients of its own

    async def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str = PARENT_TOKEN,
        version: str = "2026-10",
    ) -> dict[str, Any]:
        response = await self.client.post(
            f"/admin/api/{version}/graphql.json",
            json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": token},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def seed(self, shop: str, products: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response = await self.client.post(f"/_sim/stores/{shop}/products", json=products)
        assert response.status_code == 201, response.text
        seeded: list[dict[str, Any]] = response.json()
        return seeded

    async def inventory(self, shop: str = PARENT) -> dict[str, dict[str, int]]:
        response = await self.client.get(f"/_sim/stores/{shop}/inventory")
        assert response.status_code == 200
        levels: dict[str, dict[str, int]] = response.json()
        return levels


@asynccontextmanager
async def running_shopify(validation: ValidationMode = "off") -> AsyncIterator[ShopifySim]:
    """The Shopify simulator app, started (lifespan) and reachable over ASGI."""
    clock, receiver, sleeps = FrozenClock(), Receiver(), Sleeps()
    settings = SimSettings(
        stores=store_configs(),
        webhook_url=WEBHOOK_URL,
        validation=validation,
        retry=RetryPolicy(max_attempts=8, window_seconds=3.0),
    )
    app = create_app(settings, clock=clock, webhook_transport=receiver.transport(), sleep=sleeps)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shopify.test") as client:
            yield ShopifySim(client, app.state.sim, clock, receiver, sleeps, transport)
