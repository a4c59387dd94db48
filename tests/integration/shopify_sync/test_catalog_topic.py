"""The catalog hop through ``catalog.v1`` on the real Kafka and Redis: the mapping group
hands each products/* webhook on as ``catalog.product_changed`` (same correlation id, caused
by the webhook, keyed by shop and product, with a traceparent), the propagation group writes
the children (a product of two options and four variants, then a variant added and one
removed), and a child that keeps failing sends the event to the propagation group's DLQ
while the mapping keeps up."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from integration.shopify_sync.conftest import Sync, SyncFactory

from shopify_sync.adapters.documents import PRODUCT_SET
from shopify_sync.own_events import CatalogProductChanged, decode
from stocksync_common.events import ShopifyWebhook, ShopifyWebhookReceived, encode
from stocksync_common.topics import dlq_topic
from support.poll import await_for

pytestmark = pytest.mark.integration
ROLES = [{"role": "parent"}, {"role": "child"}, {"role": "child"}]
PLANS = ["plus", "standard", "standard"]
COMBOS = [("S", "Red", "20.00"), ("S", "Blue", "21.00"), ("M", "Red", "22.00"),
          ("M", "Blue", "23.00")]  # fmt: skip


async def parent_set(s: Sync, handle: str, combos: list[tuple[str, str, str]]) -> str:
    """Set the parent's product to exactly these variants; its first SKU."""
    parent = s.container.stores.by_shop(s.shops[0])
    assert parent is not None
    data = {
        "handle": handle, "title": handle.title(),
        "productOptions": [
            {"name": "Size", "values": [{"name": v} for v in dict.fromkeys(c[0] for c in combos)]},
            {"name": "Color", "values": [{"name": v} for v in dict.fromkeys(c[1] for c in combos)]},
        ],
        "variants": [
            {"optionValues": [{"optionName": "Size", "name": size},
                              {"optionName": "Color", "name": color}],
             "price": price, "inventoryItem": {"sku": sku(handle, size, color)}}
            for size, color, price in combos
        ],
    }  # fmt: skip
    out = await s.container.client.execute(
        parent, PRODUCT_SET, {"identifier": {"handle": handle}, "input": data},
        operation="ProductSetSync", cost=10,
    )  # fmt: skip
    assert out["productSet"]["userErrors"] == [], out
    return sku(handle, combos[0][0], combos[0][1])


def sku(handle: str, size: str, color: str) -> str:
    return f"{handle.upper()}-{size}-{color}"


async def body_of(s: Sync, shop: str, first_sku: str) -> dict[str, Any] | None:
    r = await s.sim.get(f"/_sim/stores/{shop}/products/{first_sku}/payload")
    return r.json() if r.status_code == 200 else None


async def publish(s: Sync, topic: str, first_sku: str) -> ShopifyWebhookReceived:
    parent = s.shops[0]
    body = await body_of(s, parent, first_sku)
    assert body is not None
    event = ShopifyWebhookReceived(
        source="test", shop=parent,
        payload=ShopifyWebhook(topic=topic, shop=parent, webhook_id=str(uuid.uuid4()), body=body),
    )  # fmt: skip
    key = f"{parent}/{body['id']}".encode()
    await s.producer.send_and_wait(s.settings.webhooks_topic, encode(event), key=key)
    return event


def variants(body: dict[str, Any] | None) -> list[tuple[str, str]]:
    return [(v["sku"], v["price"]) for v in (body or {}).get("variants", [])]


async def records(s: Sync, topic: str) -> list[Any]:
    """Every record the topic holds now (read to its end offsets, within 30 s)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=s.settings.kafka_bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    try:
        numbers = await s.producer.partitions_for(topic)  # fetches the topic's metadata
        parts = [TopicPartition(topic, p) for p in sorted(numbers)]
        assert parts, f"{topic} has no partitions"
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        out: list[Any] = []
        deadline = time.monotonic() + 30
        while any([await consumer.position(tp) < ends[tp] for tp in parts]):
            assert time.monotonic() < deadline, f"{topic} not read to its end"
            batches = await consumer.getmany(timeout_ms=200)
            out.extend(r for rs in batches.values() for r in rs)
        return out
    finally:
        await consumer.stop()


async def test_variants_flow_through_catalog_topic_to_both_children(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, *children = s.shops
        first = await parent_set(s, "tee", COMBOS)
        webhook = await publish(s, "products/create", first)
        want = [(sku("tee", size, color), price) for size, color, price in COMBOS]

        async def propagated() -> bool:
            return all([variants(await body_of(s, c, first)) == want for c in children])

        await await_for("four variants in both children", propagated, 60)
        mapped = await s.container.catalog.entries(parent, [k for k, _ in want])
        assert len(mapped) == 4 and len({e.item_id for e in mapped.values()}) == 4

        handed = await records(s, s.settings.catalog_topic)
        assert len(handed) == 1
        event = decode(handed[0].value)
        assert isinstance(event, CatalogProductChanged)
        body = await body_of(s, parent, first)
        assert body is not None
        assert handed[0].key == f"{parent}/{body['id']}".encode()
        assert (event.correlation_id, event.causation_id) == (webhook.correlation_id, webhook.id)
        assert (event.payload.role, event.payload.topic) == ("parent", "products/create")
        headers = dict(handed[0].headers)
        assert headers["type"] == b"catalog.product_changed"
        assert headers["correlation-id"] == webhook.correlation_id.encode()

        edited = [*COMBOS[:3], ("L", "Red", "24.00")]  # M/Blue removed, L/Red added
        await parent_set(s, "tee", edited)
        await publish(s, "products/update", first)
        want = [(sku("tee", size, color), price) for size, color, price in edited]
        await await_for("variant edit in both children", propagated, 60)
        mapped = await s.container.catalog.entries(parent, [sku("tee", "M", "Blue")])
        assert mapped == {}  # the parent's removed variant is unmapped


async def test_a_failing_child_dead_letters_propagation_not_the_mapping(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(PLANS, store_extra=ROLES) as s:
        parent, healthy, failing = s.shops
        r = await s.sim.post(
            "/_sim/faults", json={"shop": failing, "fail_mutations": ["productSet"]}
        )
        assert r.status_code == 200
        first = await parent_set(s, "cap", COMBOS[:2])
        await publish(s, "products/create", first)

        async def healthy_done() -> bool:
            return len(variants(await body_of(s, healthy, first))) == 2

        await await_for("healthy child synced", healthy_done, 60)
        # While the failing child's event waits in the retry topic, the mapping keeps up.
        second = await parent_set(s, "hat", COMBOS[2:])
        await publish(s, "products/create", second)

        async def mapped() -> bool:
            found = await s.container.catalog.entries(parent, [second, first])
            return len(found) == 2

        await await_for("mapping of the next product", mapped, 30)
        dlq = dlq_topic(s.settings.catalog_topic, s.settings.propagation_consumer_group)

        async def dead_lettered() -> list[Any] | None:
            found = [
                r for r in await records(s, dlq)
                if r.key == f"{parent}/{(await body_of(s, parent, first) or {}).get('id')}".encode()
            ]  # fmt: skip
            return found or None

        await await_for("propagation event in its DLQ", dead_lettered, 90)
        assert await body_of(s, failing, first) is None  # never half there
        webhooks_dlq = dlq_topic(s.settings.webhooks_topic, s.settings.catalog_consumer_group)
        assert await records(s, webhooks_dlq) == []
