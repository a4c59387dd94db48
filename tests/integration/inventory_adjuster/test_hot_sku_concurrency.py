"""Several inventory-adjuster processes, forced rebalances, one hot SKU with limited stock:
exactly the stock is reserved, and every refused line is reported."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from stack import DEMO_ENV, Ports, Stack
from stocksync_common.events import (
    InventoryCommand,
    InventoryCommandRequested,
    OrderLineRef,
    OrderOversold,
    decode,
)
from stocksync_common.kafka import make_producer, send_event, stop_consumer
from stocksync_common.topics import INVENTORY_CHANGED
from support.infra import KAFKA, PORT_SHIFT
from support.poll import await_for

pytestmark = pytest.mark.integration

STOCK, ORDERS, DUPLICATES = 100, 300, 60
ADMIN = {"Authorization": f"Bearer {DEMO_ENV['STOCKSYNC_ADMIN_TOKEN']}"}


def command(sku: str, n: int, kind: str = "reserve", qty: int = 1) -> InventoryCommandRequested:
    return InventoryCommandRequested(
        source="test",
        payload=InventoryCommand(
            command=kind,  # type: ignore[arg-type]
            idempotency_key=f"{sku}:order:{n}:{kind}",
            sku=sku,
            location="wh-1",
            quantity=qty,
            order=OrderLineRef(shop="a.myshopify.com", order_id=str(n), line_id="1"),
        ),
    )


async def test_hot_sku_reserves_exactly_the_stock(
    kafka_bootstrap: str, redis_url: str, topics: list[str], state_dir: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    sku, topic, group = f"HOT-{run}", f"it.commands.{run}", f"it-adjuster-{run}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1), NewTopic(f"{topic}.dlq.{group}", 1, 1)])
    await admin.close()

    ports = Ports().shifted(20000 + PORT_SHIFT)
    stack = Stack(
        ports,
        state_dir / f"hot-{run}",
        extra_env={
            "STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS": KAFKA,
            "STOCKSYNC_REDIS_URL": redis_url,
            "STOCKSYNC_CONSUMER_GROUP": group,
            "STOCKSYNC_COMMANDS_TOPIC": topic,
        },
    )
    stack.log_dir.mkdir(parents=True, exist_ok=True)
    stack.write_stores_file()
    cmd = stack.commands()["inventory-adjuster"]

    def start(i: int) -> str:
        name = f"adjuster-{i}"
        stack.start_one(name, cmd, port=28082 + i)
        return name

    oversold = AIOKafkaConsumer(
        INVENTORY_CHANGED, bootstrap_servers=kafka_bootstrap, auto_offset_reset="latest"
    )
    await oversold.start()
    await oversold.seek_to_end()
    producer = make_producer(kafka_bootstrap, "hot-test")
    await producer.start()
    names = [start(i) for i in range(3)]
    try:
        await asyncio.to_thread(stack.wait_healthy, 60, "/readyz", tuple(names))
        await (await send_event(producer, topic, sku, command(sku, 0, "set_on_hand", STOCK)))
        futures = []
        for n in range(1, ORDERS + 1):
            futures.append(await send_event(producer, topic, sku, command(sku, n)))
            if n % 60 == 0:  # replays of recent deliveries
                for d in range(n - DUPLICATES // 5, n):
                    futures.append(await send_event(producer, topic, sku, command(sku, d)))
            if n == 100:  # force a rebalance: one member dies hard mid-stream
                stack.stop_one(names[0], sig=signal.SIGKILL)
            if n == 200:  # and a new one joins
                names.append(start(3))
        await asyncio.gather(*futures)

        async with httpx.AsyncClient(timeout=5) as http:
            survivor = stack.url(names[1])

            async def ledger_complete() -> list[dict[str, str]] | None:
                r = await http.get(
                    f"{survivor}/inventory/{sku}/ledger", headers=ADMIN, params={"limit": 1000}
                )
                entries: list[dict[str, str]] = r.json()["entries"] if r.status_code == 200 else []
                return entries if len(entries) == ORDERS + 1 else None

            ledger = await await_for("every command applied once", ledger_complete, 90)
            levels = (await http.get(f"{survivor}/inventory/{sku}")).json()
        assert levels["locations"]["wh-1"]["reserved"] == STOCK
        assert levels["available"] == 0
        statuses = [e["status"] for e in ledger[1:]]
        assert statuses.count("applied") == STOCK
        assert statuses.count("rejected") == ORDERS - STOCK
        assert len({e["key"] for e in ledger}) == ORDERS + 1  # nothing applied twice

        reported: set[str] = set()

        async def all_reported() -> bool:
            batch = await oversold.getmany(timeout_ms=500)
            for records in batch.values():
                for rec in records:
                    event = decode(rec.value)
                    if isinstance(event, OrderOversold) and event.payload.sku == sku:
                        reported.add(event.payload.idempotency_key)
            return len(reported) == ORDERS - STOCK

        await await_for("every refused line reported", all_reported, 60)
    finally:
        stack.stop()
        await producer.stop()
        await stop_consumer(oversold)
