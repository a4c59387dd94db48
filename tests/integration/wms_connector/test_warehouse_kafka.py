"""wms-connector on real Kafka and Redis against the WMS simulator: orders out exactly
once through failures, cancellations, the DLQ when the WMS stays down, and shipments in
(commit commands plus ``order.shipped``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from integration.wms_connector.conftest import ADMIN, read_topic

from stocksync_common.events import (
    Event,
    InventoryCommandRequested,
    Order,
    OrderCancellation,
    OrderCancelled,
    OrderLine,
    OrderReceived,
    OrderShipped,
    WmsEvent,
    WmsWebhookReceived,
)
from stocksync_common.topics import INVENTORY_COMMANDS, ORDERS, WEBHOOKS_WMS, dlq_topic
from support.poll import await_for

pytestmark = pytest.mark.integration
SHOP = "it-wms.myshopify.com"


def received(order_id: str, sku: str, qty: int = 2) -> OrderReceived:
    line = OrderLine(line_id="1", sku=sku, quantity=qty, location="wh-1")
    return OrderReceived(
        source="it", shop=SHOP, payload=Order(shop=SHOP, order_id=order_id, lines=[line])
    )


async def test_order_reaches_the_wms_exactly_once_when_it_fails_twice(connector: Any) -> None:
    order_id, sku = str(uuid.uuid4().int % 10**12), f"IT-{uuid.uuid4().hex[:6]}"
    ref = f"{SHOP}:{order_id}"
    async with connector() as rig:
        await rig.wms.put("/_sim/faults", json={"fail_next": 2, "fail_status": 503})
        event = received(order_id, sku)
        await rig.publish(ORDERS, order_id, event)
        await rig.publish(ORDERS, order_id, event)  # a duplicate delivery

        async def at_wms() -> list[dict[str, Any]] | None:
            orders = [o for o in (await rig.wms_orders())["orders"] if o["external_ref"] == ref]
            return orders or None

        (fo,) = await await_for("order at the WMS", at_wms, 30)
        assert fo["lines"] == [{"sku": sku, "quantity": 2, "location": "wh-1"}]
        faults = (await rig.wms.get("/_sim/faults")).json()
        assert faults["refused"] == {"injected failure": 2}
        status = (await rig.admin.get("/wms/status", headers=ADMIN)).json()
        # At least one create succeeded; on a loaded machine a create that timed out after
        # the WMS took it is sent again, and the WMS answers with the same order (by its
        # external ref), so the count of successful calls may be higher than one.
        assert status["outbound"]["counts"]["create:ok"] >= 1
        # The duplicate delivery is recognised by the connector's own record of the order.
        await await_for(
            "duplicate seen",
            lambda: _counted(rig, "create:duplicate"),
            15,
        )
        # Whatever was retried, the WMS holds exactly one fulfilment order for it.
        assert len(await at_wms() or []) == 1
        assert (await rig.admin.get("/wms/status")).status_code == 401


async def _counted(rig: Any, name: str) -> bool:
    status = (await rig.admin.get("/wms/status", headers=ADMIN)).json()
    return bool(status["outbound"]["counts"].get(name))


async def test_cancellation_cancels_the_fulfilment_order(connector: Any) -> None:
    order_id, sku = str(uuid.uuid4().int % 10**12), f"IT-{uuid.uuid4().hex[:6]}"
    ref = f"{SHOP}:{order_id}"
    async with connector() as rig:
        await rig.publish(ORDERS, order_id, received(order_id, sku))
        cancel = OrderCancelled(
            source="it", shop=SHOP, payload=OrderCancellation(shop=SHOP, order_id=order_id)
        )
        await rig.publish(ORDERS, order_id, cancel)

        async def cancelled() -> bool:
            orders = (await rig.wms_orders())["orders"]
            return any(o["external_ref"] == ref and o["status"] == "cancelled" for o in orders)

        await await_for("cancelled at the WMS", cancelled, 30)


async def test_a_wms_that_stays_down_sends_the_order_to_the_dlq_with_the_reason(
    connector: Any, kafka_bootstrap: str
) -> None:
    order_id, sku = str(uuid.uuid4().int % 10**12), f"IT-{uuid.uuid4().hex[:6]}"
    async with connector() as rig:
        await rig.wms.put("/_sim/faults", json={"down": True})
        await rig.publish(ORDERS, order_id, received(order_id, sku))
        dlq = dlq_topic(ORDERS, rig.settings.orders_consumer_group)
        ref = f"{SHOP}:{order_id}"

        async def ours() -> list[dict[str, str]] | None:
            # the recent failures are the connector's, not this test's: earlier suites on the
            # same Redis (the fault suite's orders) may have left some of their own
            return [f for f in await _failures(rig) or [] if f["ref"] == ref] or None

        status = await await_for("failure visible to ops", ours, 30)
        assert status[0]["ref"] == ref
        consumer = AIOKafkaConsumer(
            dlq, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:

            async def dead() -> dict[str, Any] | None:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for r in records:
                        body = dict(orjson.loads(r.value))
                        if body.get("key") == order_id:  # not an earlier suite's order
                            return body
                return None

            record = await await_for("record in the DLQ", dead, 60)
        finally:
            await consumer.stop()
        assert record["key"] == order_id and record["group"] == rig.settings.orders_consumer_group
        assert "503" in record["error"] or "circuit" in record["error"].lower()
        assert (await rig.wms_orders())["orders"] == []


async def _failures(rig: Any) -> list[dict[str, str]] | None:
    status = (await rig.admin.get("/wms/status", headers=ADMIN)).json()
    return status["outbound"]["recent_failures"] or None


async def test_shipment_commits_stock_and_publishes_the_fulfilment_fact(
    connector: Any, kafka_bootstrap: str
) -> None:
    order_id, sku = str(uuid.uuid4().int % 10**12), f"IT-{uuid.uuid4().hex[:6]}"
    event_id = str(uuid.uuid4())
    shipment = WmsEvent(
        event_id=event_id, event_type="shipment", occurred_at=datetime.now(UTC),
        order_id=f"{SHOP}:{order_id}", tracking_number="1ZIT", carrier="UPS",
        lines=[{"sku": sku, "quantity": 2, "location": "wh-1"}],  # type: ignore[list-item]
    )  # fmt: skip
    hook = WmsWebhookReceived(source="it", payload=shipment)
    async with connector() as rig:
        await rig.publish(WEBHOOKS_WMS, f"wms/{event_id}", hook)
        await rig.publish(WEBHOOKS_WMS, f"wms/{event_id}", hook)  # redelivered

        def commit_of(e: Event) -> bool:
            return isinstance(e, InventoryCommandRequested) and e.payload.sku == sku

        def shipped(e: Event) -> bool:
            return isinstance(e, OrderShipped) and e.payload.order_id == order_id

        commands = await read_topic(kafka_bootstrap, INVENTORY_COMMANDS, commit_of, 2)
        facts = await read_topic(kafka_bootstrap, ORDERS, shipped, 2)
    keys = {c.payload.idempotency_key for c in commands if isinstance(c, InventoryCommandRequested)}
    assert keys == {f"wms:{event_id}:line:0:commit"}  # the redelivery has the same key
    assert {c.payload.command for c in commands if isinstance(c, InventoryCommandRequested)} == {
        "commit"
    }
    assert len({f.id for f in facts}) == 1  # same id twice: shopify-sync dedupes
    fact = facts[0]
    assert isinstance(fact, OrderShipped)
    assert (fact.payload.shop, fact.payload.tracking_number, fact.payload.carrier) == (
        SHOP,
        "1ZIT",
        "UPS",
    )
    assert [(ln.sku, ln.quantity) for ln in fact.payload.lines] == [(sku, 2)]
