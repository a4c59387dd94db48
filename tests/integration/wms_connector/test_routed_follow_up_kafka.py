"""Units of a routed order placed after its first ``order.routed`` reach the WMS (ADR 0031),
through the real services in process, on the real Kafka and Redis, with the WMS simulator: a
line added by an update is placed by the adjuster and order-consumer sends an
``order.routed`` for it alone (``follow_up``), which wms-connector creates as a fulfilment
order of its own (``{shop}:{order}+{part}``); the order's cancellation cancels both."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from integration.order_consumer.harness import services
from integration.wms_connector.test_order_routing_kafka import (
    SHOP,
    levels,
    send,
    stock,
    stores_file,
    webhook,
)
from unit.order_consumer.payloads import item, order

from stocksync_common.topics import INVENTORY_COMMANDS, WEBHOOKS_SHOPIFY
from support.poll import await_for

pytestmark = pytest.mark.integration


async def test_a_line_added_later_reaches_the_wms_as_a_follow_up(
    connector: Any, kafka_bootstrap: str, redis_url: str, tmp_path: Path
) -> None:
    oid = uuid.uuid4().int % 10**12
    tag = uuid.uuid4().hex[:6].upper()
    first, added = f"FU1-{tag}", f"FU2-{tag}"
    async with (
        connector() as rig,
        services(kafka_bootstrap, redis_url, stores_file(tmp_path / "stores.yaml")) as api,
    ):
        for sku, loc, n in [(first, "wh-a", 5), (added, "wh-b", 4)]:
            await send(rig.producer, INVENTORY_COMMANDS, sku, stock(sku, loc, n))

        async def stocked() -> bool:
            return len(await levels(api, first)) == 1 and len(await levels(api, added)) == 1

        await await_for("stock loaded", stocked, 30)
        created = order(oid, item(1, first, 2))
        await send(rig.producer, WEBHOOKS_SHOPIFY, oid, webhook("orders/create", created))

        async def wms_orders() -> dict[str, dict[str, Any]] | None:
            listed = (await rig.wms_orders())["orders"]
            mine = {o["external_ref"]: o for o in listed if str(oid) in o["external_ref"]}
            return mine or None

        main = await await_for("the WMS order", wms_orders, 30)
        assert [(ln["sku"], ln["location"]) for ln in main[f"{SHOP}:{oid}"]["lines"]] == [
            (first, "wh-a")
        ]
        # the merchant adds a line: placed at wh-b (wh-a has none of it)
        updated = order(oid, item(1, first, 2), item(2, added, 3), updated=3)
        await send(rig.producer, WEBHOOKS_SHOPIFY, oid, webhook("orders/updated", updated))

        async def two() -> dict[str, dict[str, Any]] | None:
            mine = await wms_orders()
            return mine if mine and len(mine) == 2 else None

        async def placed() -> bool:
            return await levels(api, added) == {"wh-b": (4, 3)}

        await await_for("the added line placed at wh-b", placed, 30)
        both = await await_for("the follow-up WMS order", two, 30)
        [(ref, follow)] = [(r, o) for r, o in both.items() if r != f"{SHOP}:{oid}"]
        assert ref.startswith(f"{SHOP}:{oid}+")
        assert [(ln["sku"], ln["location"], ln["quantity"]) for ln in follow["lines"]] == [
            (added, "wh-b", 3)
        ]
        assert await levels(api, added) == {"wh-b": (4, 3)}

        cancelled = order(oid, item(1, first, 2), item(2, added, 3), updated=5, cancelled=5)
        await send(rig.producer, WEBHOOKS_SHOPIFY, oid, webhook("orders/cancelled", cancelled))

        async def all_cancelled() -> bool:
            mine = await wms_orders() or {}
            return len(mine) == 2 and all(o["status"] == "cancelled" for o in mine.values())

        await await_for("both WMS orders cancelled", all_cancelled, 30)
