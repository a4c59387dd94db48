"""The composition root wires the consumer groups for ``order.oversold`` and compliance."""

from __future__ import annotations

from pathlib import Path

from order_consumer.bootstrap import Container, service
from order_consumer.change_filter import decode_changes
from order_consumer.settings import Settings
from stocksync_common.consumer import FETCH_MAX_WAIT_MS, ConsumerLoop
from stocksync_common.runtime import consumer_loops
from stocksync_common.topics import COMPLIANCE, INVENTORY_CHANGED, WEBHOOKS_SHOPIFY, registered

# The groups the services register (each in its own bootstrap).
CONSUMER_GROUPS = registered().consumers

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
    spec = service(settings)
    c = spec.build()
    loop, oversold_loop, compliance_loop = [x for _, x in consumer_loops(spec, c)]
    try:
        assert (loop.group, list(loop.topics)) == ("order-consumer", [WEBHOOKS_SHOPIFY])
        assert (oversold_loop.group, list(oversold_loop.topics)) == (
            "order-consumer-oversold",
            [INVENTORY_CHANGED],
        )
        assert oversold_loop.consumer is not loop.consumer  # its own consumer
        assert oversold_loop.producer is c.producer
        assert oversold_loop.decode is decode_changes  # skips what it does not act on
        assert loop.decode is not decode_changes
        # Each group is registered: its DLQ is in the topic catalog.
        assert CONSUMER_GROUPS[oversold_loop.group] == (INVENTORY_CHANGED,)
        assert (compliance_loop.group, list(compliance_loop.topics)) == (
            "order-consumer-compliance",
            [COMPLIANCE],
        )
        assert CONSUMER_GROUPS[compliance_loop.group] == (COMPLIANCE,)
    finally:
        await close(c, [loop, oversold_loop, compliance_loop])


async def test_the_sync_path_consumer_waits_least_and_the_producer_does_not_linger(
    tmp_path: Path,
) -> None:
    stores = tmp_path / "stores.yaml"
    stores.write_text(STORES)
    spec = service(Settings(stores_file=str(stores), redis_url="redis://127.0.0.1:1/0"))
    c = spec.build()
    loops = [x for _, x in consumer_loops(spec, c)]
    try:
        # the webhooks group answers at the first record; its wait only paces idle polling
        assert loops[0].consumer._fetch_min_bytes == 1
        waits = [x.consumer._fetch_max_wait_ms for x in loops]
        assert waits == sorted(waits) and waits[0] == FETCH_MAX_WAIT_MS
        assert loops[0].consumer._max_poll_records == 500
        assert c.producer._message_accumulator._linger_time == 0
    finally:
        await close(c, loops)


async def close(c: Container, loops: list[ConsumerLoop]) -> None:
    """What build() and the loops opened, closed (nothing was started)."""
    for loop in reversed(loops):
        await loop.consumer.stop()
    await c.producer.stop()
    await c.redis.aclose()
