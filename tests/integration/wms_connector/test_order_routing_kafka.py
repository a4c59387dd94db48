"""Order routing across locations (docs/order-routing.md, ADR 0018) through the real
services in process, on the real Kafka and Redis, with the WMS simulator: a store's routing
rules place each line at the first location that covers it or split it across locations,
the WMS fulfilment order carries those locations, a refused line names the locations tried,
a shipment commits where the line was held (the warehouse's shipment of a routed line
too) and a cancellation releases there."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer
from integration.order_consumer.harness import command, services
from integration.wms_connector.conftest import read_topic
from redis.asyncio import Redis
from unit.order_consumer.payloads import fulfillment, item, order

from order_consumer.adapters.redis_orders import RedisOrders
from stocksync_common.events import (
    InventoryChanged,
    InventoryCommandRequested,
    OrderOversold,
    ShopifyWebhook,
    ShopifyWebhookReceived,
    WmsEvent,
    WmsLine,
    WmsWebhookReceived,
    stable_id,
)
from stocksync_common.topics import (
    INVENTORY_CHANGED,
    INVENTORY_COMMANDS,
    WEBHOOKS_SHOPIFY,
    WEBHOOKS_WMS,
)
from support.poll import await_for

pytestmark = pytest.mark.integration

SHOP = "routed.myshopify.com"
ROUTE = ["wh-a", "wh-b", "wh-c"]


def stores_file(path: Path) -> Path:
    doc = {
        "stores": [
            {
                "shop": SHOP,
                "role": "parent",
                "access_token": "t",
                "webhook_secret": "s",
                "locations": {loc: f"gid://shopify/Location/{n}" for n, loc in enumerate(ROUTE)},
                "routing": {"locations": ROUTE, "split": True},
            }
        ]
    }
    path.write_text(yaml.safe_dump(doc))
    return path


async def send(producer: AIOKafkaProducer, topic: str, key: str | int, event: Any) -> None:
    """Publish as the edge does (an order's webhooks keyed ``{shop}/{order id}``)."""
    raw = f"{SHOP}/{key}" if isinstance(key, int) else key
    await (await producer.send(topic, event.model_dump_json().encode(), key=raw.encode()))


def webhook(topic: str, body: dict[str, Any]) -> ShopifyWebhookReceived:
    hook_id = uuid.uuid4().hex
    return ShopifyWebhookReceived(
        id=stable_id("shopify", SHOP, hook_id),
        source="test",
        shop=SHOP,
        payload=ShopifyWebhook(topic=topic, shop=SHOP, webhook_id=hook_id, body=body),
    )


def stock(sku: str, loc: str, n: int) -> InventoryCommandRequested:
    return command(sku, "set_on_hand", n, loc)


async def levels(api: httpx.AsyncClient, sku: str) -> dict[str, tuple[int, int]]:
    r = await api.get(f"/inventory/{sku}")
    if r.status_code != 200:
        return {}
    return {loc: (lv["on_hand"], lv["reserved"]) for loc, lv in r.json()["locations"].items()}


async def test_routed_order_reaches_the_wms_at_the_reserved_locations(
    connector: Any, kafka_bootstrap: str, redis_url: str, redis: Redis, tmp_path: Path
) -> None:
    oid = uuid.uuid4().int % 10**12
    tag = uuid.uuid4().hex[:6].upper()
    first, split, refused = f"RT1-{tag}", f"RT2-{tag}", f"RT3-{tag}"
    async with (
        connector() as rig,
        services(kafka_bootstrap, redis_url, stores_file(tmp_path / "stores.yaml")) as api,
    ):
        for sku, loc, n in [(first, "wh-a", 1), (first, "wh-b", 5), (split, "wh-a", 2),
                            (split, "wh-b", 2), (refused, "wh-a", 1)]:  # fmt: skip
            await send(rig.producer, INVENTORY_COMMANDS, sku, stock(sku, loc, n))

        async def stocked() -> bool:
            return (
                (await levels(api, refused)).get("wh-a") == (1, 0)
                and len(await levels(api, split)) == 2
                and len(await levels(api, first)) == 2
            )

        await await_for("stock loaded", stocked, 30)
        body = order(oid, item(1, first, 3), item(2, split, 3), item(3, refused, 4))
        await send(rig.producer, WEBHOOKS_SHOPIFY, oid, webhook("orders/create", body))

        async def wms_order() -> dict[str, Any] | None:
            listed = (await rig.wms_orders())["orders"]
            return next((o for o in listed if o["external_ref"] == f"{SHOP}:{oid}"), None)

        created = await await_for("the WMS order", wms_order, 30)
        assert sorted((ln["sku"], ln["location"], ln["quantity"]) for ln in created["lines"]) == [
            (first, "wh-b", 3),  # wh-a had 1: the first location covering the line
            (split, "wh-a", 2),  # no location had 3: split in the route's order
            (split, "wh-b", 1),
        ]
        assert await levels(api, first) == {"wh-a": (1, 0), "wh-b": (5, 3)}
        assert await levels(api, split) == {"wh-a": (2, 2), "wh-b": (2, 1)}
        assert await levels(api, refused) == {"wh-a": (1, 0)}

        state = (await RedisOrders(redis, ttl_s=60).load(SHOP, str(oid))).state
        assert state is not None
        assert state.lines["3"].oversold and state.lines["3"].tried == ROUTE
        assert state.lines["1"].routed == {"wh-b": 3}
        assert state.lines["2"].routed == {"wh-a": 2, "wh-b": 1}

        seen: set[tuple[Any, ...]] = set()

        def ours(e: Any) -> bool:
            """Each of our events once: delivery is at least once (a webhook handled again
            after a rebalance sends its command again, and the adjuster publishes the change
            it recorded again), so a copy is not counted."""
            if isinstance(e, OrderOversold):
                mine = e.payload.sku == refused
            else:
                mine = isinstance(e, InventoryChanged) and (
                    e.payload.sku == split and e.payload.command == "reserve"
                )
            key = (type(e).__name__, e.payload.sku, getattr(e.payload, "location", None),
                   getattr(e.payload, "version", None))  # fmt: skip
            if not mine or key in seen:
                return False
            seen.add(key)
            return True

        changes = await read_topic(kafka_bootstrap, INVENTORY_CHANGED, ours, want=3)
        split_changes = sorted(
            (e.payload.location, e.payload.after.reserved, e.payload.routed)
            for e in changes
            if isinstance(e, InventoryChanged)
        )
        assert split_changes == [
            ("wh-a", 2, {"wh-a": 2, "wh-b": 1}),  # one change per location of the split
            ("wh-b", 1, {"wh-a": 2, "wh-b": 1}),
        ]
        (refusal,) = [e for e in changes if isinstance(e, OrderOversold)]
        assert refusal.payload.tried == ROUTE and refusal.payload.available_at == {
            "wh-a": 1,
            "wh-b": 0,
            "wh-c": 0,
        }

        # shipped (no location given): committed where held, not at the default wh-a
        shipped = fulfillment(90 + oid % 1000, oid, (1, 3), sku=first)
        await send(
            rig.producer, WEBHOOKS_SHOPIFY, f"{SHOP}/{oid}", webhook("fulfillments/create", shipped)
        )

        async def committed() -> bool:
            return await levels(api, first) == {"wh-a": (1, 0), "wh-b": (2, 0)}

        await await_for("shipment committed at wh-b", committed, 30)
        # the warehouse ships one unit of the split line from wh-b: a routed commit there
        event_id = uuid.uuid4().hex
        wms_shipment = WmsEvent(
            event_id=event_id, event_type="shipment", occurred_at=datetime.now(UTC),
            order_id=f"{SHOP}:{oid}", lines=[WmsLine(sku=split, quantity=1, location="wh-b")],
        )  # fmt: skip
        hook = WmsWebhookReceived(source="it", payload=wms_shipment)
        await rig.publish(WEBHOOKS_WMS, f"wms/{event_id}", hook)

        async def wms_committed() -> bool:
            return await levels(api, split) == {"wh-a": (2, 2), "wh-b": (1, 0)}

        await await_for("the WMS shipment committed at wh-b", wms_committed, 30)
        hold = await redis.hgetall(f"inv:{{{split}}}:hold:{SHOP}:{oid}:2")
        assert hold == {b"wh-a": b"2"}  # the line's hold left wh-b with the shipment

        cancelled = order(oid, item(1, first, 3), item(2, split, 3), item(3, refused, 4),
                          updated=5, cancelled=5)  # fmt: skip
        await send(
            rig.producer, WEBHOOKS_SHOPIFY, f"{SHOP}/{oid}", webhook("orders/cancelled", cancelled)
        )

        async def released() -> bool:
            return await levels(api, split) == {"wh-a": (2, 0), "wh-b": (1, 0)}

        await await_for("the split line released where it was held", released, 30)
        assert await levels(api, refused) == {"wh-a": (1, 0)}  # never held: nothing released
