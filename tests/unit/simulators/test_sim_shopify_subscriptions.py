"""The simulator's app installation and webhook subscriptions, through shopify-sync's own
documents (validated against the Admin schema): granted scopes, subscriptions created,
listed, updated and deleted, userErrors for bad input, and deliveries going to the addresses
subscribed once a store has any."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from unit.simulators.shopify_harness import LOC, PARENT, WEBHOOK_URL, ShopifySim, running_shopify

from shopify_sync.adapters.connect_documents import (
    ACCESS_SCOPES,
    SUBSCRIPTION_CREATE,
    SUBSCRIPTION_DELETE,
    SUBSCRIPTION_UPDATE,
    WEBHOOK_SUBSCRIPTIONS,
)
from stocksync_sim.shopify.config import parse_stores
from stocksync_sim.shopify.state import StoreState
from stocksync_sim.shopify.subscriptions import DEFAULT_SCOPES, scopes_of

OURS = "https://stocksync.example/webhooks/shopify"


@pytest.fixture
async def shopify() -> AsyncIterator[ShopifySim]:
    """Documents and variables checked against the published schema, as Shopify does."""
    async with running_shopify("on") as sim:
        yield sim


async def create(shopify: ShopifySim, topic: str, uri: str) -> dict[str, Any]:
    body = await shopify.graphql(
        SUBSCRIPTION_CREATE, {"topic": topic, "subscription": {"uri": uri, "format": "JSON"}}
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["webhookSubscriptionCreate"]
    return payload


async def listed(shopify: ShopifySim) -> list[dict[str, Any]]:
    body = await shopify.graphql(WEBHOOK_SUBSCRIPTIONS, {"first": 100})
    nodes: list[dict[str, Any]] = body["data"]["webhookSubscriptions"]["nodes"]
    return nodes


async def test_granted_scopes_are_the_configured_ones_and_can_be_revoked(
    shopify: ShopifySim,
) -> None:
    body = await shopify.graphql(ACCESS_SCOPES)
    handles = [s["handle"] for s in body["data"]["currentAppInstallation"]["accessScopes"]]
    assert handles == list(DEFAULT_SCOPES)
    r = await shopify.client.put(f"/_sim/stores/{PARENT}/access-scopes",
                                 json={"scopes": ["read_products"]})  # fmt: skip
    assert r.status_code == 200
    body = await shopify.graphql(ACCESS_SCOPES)
    assert body["data"]["currentAppInstallation"]["accessScopes"] == [{"handle": "read_products"}]


async def test_subscriptions_are_created_listed_updated_and_deleted(shopify: ShopifySim) -> None:
    made = await create(shopify, "ORDERS_CREATE", "https://old.example/webhooks/shopify")
    assert made["userErrors"] == []
    sub = made["webhookSubscription"]
    assert sub["topic"] == "ORDERS_CREATE" and sub["format"] == "JSON"
    assert [n["id"] for n in await listed(shopify)] == [sub["id"]]

    body = await shopify.graphql(
        SUBSCRIPTION_UPDATE, {"id": sub["id"], "subscription": {"uri": OURS}}
    )
    assert body["data"]["webhookSubscriptionUpdate"]["webhookSubscription"]["uri"] == OURS
    assert [n["uri"] for n in await listed(shopify)] == [OURS]

    body = await shopify.graphql(SUBSCRIPTION_DELETE, {"id": sub["id"]})
    assert body["data"]["webhookSubscriptionDelete"]["deletedWebhookSubscriptionId"] == sub["id"]
    assert await listed(shopify) == []


async def test_bad_input_gets_user_errors_and_changes_nothing(shopify: ShopifySim) -> None:
    assert (await create(shopify, "ORDERS_CREATE", OURS))["userErrors"] == []
    taken = await create(shopify, "ORDERS_CREATE", OURS)
    assert taken["webhookSubscription"] is None
    assert taken["userErrors"][0]["message"] == "Address for this topic has already been taken"
    for bad in ("not a url", "http://stocksync.example/webhooks/shopify"):
        refused = await create(shopify, "ORDERS_UPDATED", bad)
        assert refused["webhookSubscription"] is None and refused["userErrors"], bad
    gone = "gid://shopify/WebhookSubscription/999999"
    body = await shopify.graphql(SUBSCRIPTION_DELETE, {"id": gone})
    assert body["data"]["webhookSubscriptionDelete"]["userErrors"][0]["field"] == ["id"]
    body = await shopify.graphql(SUBSCRIPTION_UPDATE, {"id": gone, "subscription": {"uri": OURS}})
    assert body["data"]["webhookSubscriptionUpdate"]["userErrors"]
    assert [n["topic"] for n in await listed(shopify)] == ["ORDERS_CREATE"]


async def test_deliveries_go_to_the_subscribed_addresses(shopify: ShopifySim) -> None:
    await shopify.seed(PARENT, [{"sku": "A", "quantities": {LOC: 5}}])
    sale = {"line_items": [{"sku": "A", "quantity": 1}]}
    await shopify.client.post(f"/_sim/stores/{PARENT}/orders", json=sale, params={"wait": "true"})
    assert [str(r.url) for r in shopify.receiver.requests] == [WEBHOOK_URL]  # none subscribed

    await create(shopify, "ORDERS_CREATE", OURS)
    await create(shopify, "PRODUCTS_UPDATE", "https://other.example/hooks")
    await shopify.client.post(f"/_sim/stores/{PARENT}/orders", json=sale, params={"wait": "true"})
    assert [str(r.url) for r in shopify.receiver.requests[1:]] == [OURS]
    assert shopify.receiver.requests[1].headers["X-Shopify-Topic"] == "orders/create"


def test_a_store_grants_the_scopes_its_configuration_names() -> None:
    [config] = parse_stores(
        {"stores": [{"shop": "s.myshopify.com", "access_token": "t", "webhook_secret": "w",
                     "access_scopes": ["read_products", "read_locations"]}]},
        environ={},
    )  # fmt: skip
    store = StoreState(config, itertools.count(1).__next__, lambda: 0.0)
    assert scopes_of(store) == ("read_products", "read_locations")
    store.granted_scopes = ("write_inventory",)
    assert scopes_of(store) == ("write_inventory",)
    store.reset()
    assert scopes_of(store) == ("read_products", "read_locations")
