"""InventoryPusher against an httpx.MockTransport standing in for one store."""

import json
from types import SimpleNamespace

import httpx
import pytest

from shopify_sync.adapters.catalog import Catalog, sku_query
from shopify_sync.adapters.shopify import ShopifyClient, ShopifyError
from shopify_sync.handlers import InventoryPusher, coalesce, idempotency_key, publish_quantity
from stocksync_common.consumer import Incoming
from stocksync_common.events import InventoryChanged, Levels, StockChange
from stocksync_common.stores import Store, StoresConfig

STORE = Store(
    shop="a.myshopify.com",
    admin_base_url="http://shop.test",
    access_token="tok",  # type: ignore[arg-type]
    webhook_secret="s",  # type: ignore[arg-type]
    locations={"wh-1": "gid://shopify/Location/1"},
)
COST = {
    "requestedQueryCost": 10,
    "actualQueryCost": 10,
    "throttleStatus": {
        "maximumAvailable": 2000.0,
        "currentlyAvailable": 1990,
        "restoreRate": 100.0,
    },
}


class FakeShop:
    def __init__(self, level=10, stale_times=0, throttle_times=0):
        self.level = level
        self.stale_times = stale_times
        self.throttle_times = throttle_times
        self.mutations = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["X-Shopify-Access-Token"] == "tok"
        body = json.loads(request.content)
        if self.throttle_times:
            self.throttle_times -= 1
            return httpx.Response(
                200,
                json={
                    "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                    "extensions": {
                        "cost": {
                            **COST,
                            "throttleStatus": {
                                "maximumAvailable": 2000.0,
                                "currentlyAvailable": 10,
                                "restoreRate": 1000.0,
                            },
                        }
                    },
                },
            )
        if "inventoryItems" in body["query"]:
            assert body["variables"]["query"] == sku_query("A")
            node = {
                "id": "gid://shopify/InventoryItem/7",
                "sku": "A",
                "inventoryLevel": {"quantities": [{"name": "available", "quantity": self.level}]},
            }
            return httpx.Response(
                200,
                json={"data": {"inventoryItems": {"nodes": [node]}}, "extensions": {"cost": COST}},
            )
        q = body["variables"]["input"]["quantities"][0]
        self.mutations.append(body["variables"])
        if self.stale_times or q["changeFromQuantity"] != self.level:
            self.stale_times = max(0, self.stale_times - 1)
            self.level -= 1  # a sale raced us
            err = {"code": "CHANGE_FROM_QUANTITY_STALE", "field": ["input"], "message": "stale"}
            return httpx.Response(
                200,
                json={
                    "data": {"inventorySetQuantities": {"userErrors": [err]}},
                    "extensions": {"cost": COST},
                },
            )
        self.level = q["quantity"]
        return httpx.Response(
            200,
            json={
                "data": {
                    "inventorySetQuantities": {
                        "inventoryAdjustmentGroup": {"id": "g"},
                        "userErrors": [],
                    }
                },
                "extensions": {"cost": COST},
            },
        )


def change(version, available):
    lv = Levels(on_hand=available, available=available)
    payload = StockChange(
        sku="A",
        location="wh-1",
        command="reserve",
        idempotency_key=f"k{version}",
        version=version,
        before=lv,
        after=lv,
        sku_available_before=0,
        sku_available_after=available,
    )
    record = SimpleNamespace(topic="inventory.changed.v1", headers=[], offset=version)
    return Incoming(record=record, event=InventoryChanged(source="t", payload=payload))  # type: ignore[arg-type]


def pusher(shop: FakeShop) -> InventoryPusher:
    client = ShopifyClient(httpx.AsyncClient(transport=httpx.MockTransport(shop)))
    return InventoryPusher(StoresConfig(stores=[STORE]), client, Catalog(client))


def test_coalesce_keeps_the_latest_version():
    out = coalesce([change(3, 5), change(5, 1), change(4, 2)])
    assert [(c.version, c.after.available) for c in out] == [(5, 1)]


def test_idempotency_key_depends_on_content_and_compare_value():
    q = {"inventoryItemId": "i", "locationId": "l", "quantity": 5, "changeFromQuantity": 7}
    assert idempotency_key("s", [q]) == idempotency_key("s", [dict(q)])
    assert idempotency_key("s", [q]) != idempotency_key("s", [{**q, "quantity": 6}])
    assert idempotency_key("s", [q]) != idempotency_key("s", [{**q, "changeFromQuantity": 6}])
    assert idempotency_key("s", [q]) != idempotency_key("t", [q])


async def test_pushes_truth_with_change_from_quantity_and_key():
    shop = FakeShop(level=10)
    await pusher(shop).handle_batch(None, [change(1, 7)])  # type: ignore[arg-type]
    assert shop.level == 7
    (sent,) = shop.mutations
    q = sent["input"]["quantities"][0]
    assert q == {
        "inventoryItemId": "gid://shopify/InventoryItem/7",
        "locationId": "gid://shopify/Location/1",
        "quantity": 7,
        "changeFromQuantity": 10,
    }
    assert len(sent["idempotencyKey"]) == 64


async def test_stale_answer_refreshes_and_retries():
    shop = FakeShop(level=10, stale_times=1)
    await pusher(shop).handle_batch(None, [change(1, 4)])  # type: ignore[arg-type]
    assert shop.level == 4
    assert [m["input"]["quantities"][0]["changeFromQuantity"] for m in shop.mutations] == [10, 9]
    keys = [m["idempotencyKey"] for m in shop.mutations]
    assert keys[0] != keys[1]  # a new compare value is a new write, so a new key


async def test_no_call_when_the_store_already_shows_truth():
    shop = FakeShop(level=6)
    await pusher(shop).handle_batch(None, [change(1, 6)])  # type: ignore[arg-type]
    assert shop.mutations == []


async def test_throttled_is_waited_out_and_retried():
    shop = FakeShop(level=10, throttle_times=2)
    await pusher(shop).handle_batch(None, [change(1, 3)])  # type: ignore[arg-type]
    assert shop.level == 3


async def test_server_errors_raise_for_the_retry_path():
    client = ShopifyClient(
        httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(503)))
    )
    p = InventoryPusher(StoresConfig(stores=[STORE]), client, Catalog(client))
    with pytest.raises(ShopifyError, match="503"):
        await p.handle_batch(None, [change(1, 3)])  # type: ignore[arg-type]


def test_publishes_the_share_while_allocation_is_active():
    lv = Levels(on_hand=9, available=9)
    base = {
        "sku": "A",
        "location": "wh-1",
        "command": "reserve",
        "idempotency_key": "k",
        "version": 1,
        "before": lv,
        "after": lv,
        "sku_available_before": 9,
        "sku_available_after": 9,
    }
    assert publish_quantity(StockChange(**base), "a.myshopify.com") == 9
    shared = StockChange(**base, shares={"a.myshopify.com": 6, "b.myshopify.com": 3})
    assert publish_quantity(shared, "a.myshopify.com") == 6
    assert publish_quantity(shared, "c.myshopify.com") == 0
