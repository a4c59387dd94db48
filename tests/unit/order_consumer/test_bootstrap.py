"""The composition root wires the consumer groups for ``order.oversold`` and compliance."""

from __future__ import annotations

from pathlib import Path

from order_consumer.bootstrap import Container, build
from order_consumer.settings import Settings
from stocksync_common.topics import (
    COMPLIANCE,
    CONSUMER_GROUPS,
    INVENTORY_CHANGED,
    WEBHOOKS_SHOPIFY,
)

STORES = """
stores:
  - shop: a.myshopify.com
    access_token: t
    webhook_secret: s
    locations:
      wh-1: gid://shopify/Location/1
"""


async def test_oversold_loop_has_its_own_group_on_inventory_changed(tmp_path: Path) -> None:
    stores = tmp_path / "stores.yaml"
    stores.write_text(STORES)
    settings = Settings(stores_file=str(stores), redis_url="redis://127.0.0.1:1/0")
    c = build(settings)
    try:
        assert (c.loop.group, list(c.loop.topics)) == ("order-consumer", [WEBHOOKS_SHOPIFY])
        assert (c.oversold_loop.group, list(c.oversold_loop.topics)) == (
            "order-consumer-oversold",
            [INVENTORY_CHANGED],
        )
        assert c.oversold_loop.consumer is c.oversold_consumer
        assert c.oversold_loop.producer is c.producer
        # Each group has its DLQ in the topic catalog.
        assert CONSUMER_GROUPS[c.oversold_loop.group] == (INVENTORY_CHANGED,)
        assert (c.compliance_loop.group, list(c.compliance_loop.topics)) == (
            "order-consumer-compliance",
            [COMPLIANCE],
        )
        assert CONSUMER_GROUPS[c.compliance_loop.group] == (COMPLIANCE,)
    finally:
        await close(c)


async def test_the_sync_path_consumer_waits_least_and_the_producer_does_not_linger(
    tmp_path: Path,
) -> None:
    stores = tmp_path / "stores.yaml"
    stores.write_text(STORES)
    c = build(Settings(stores_file=str(stores), redis_url="redis://127.0.0.1:1/0"))
    try:
        waits = [
            x._fetch_max_wait_ms for x in (c.consumer, c.oversold_consumer, c.compliance_consumer)
        ]
        assert waits == sorted(waits) and waits[0] <= 10
        assert c.consumer._max_poll_records == 500
        assert c.producer._message_accumulator._linger_time == 0
    finally:
        await close(c)


async def close(c: Container) -> None:
    """What build() opened, closed (nothing was started)."""
    await c.compliance_consumer.stop()
    await c.oversold_consumer.stop()
    await c.consumer.stop()
    await c.producer.stop()
    await c.redis.aclose()
