"""webhook-receiver in process with its real clients (the FastAPI app with its lifespan,
driven through httpx), and reading back what it published."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from stocksync_common.kafka import stop_consumer
from webhook_receiver.entrypoints.app import create_app
from webhook_receiver.settings import Settings


def write_stores(path: Path, secret: str) -> str:
    """A stores file with one fresh shop; returns its domain."""
    shop = f"edge-{uuid.uuid4().hex[:10]}.myshopify.com"
    doc = {"stores": [{"shop": shop, "access_token": "shpat_x", "webhook_secret": secret}]}
    path.write_text(yaml.safe_dump(doc))
    return shop


@asynccontextmanager
async def running_receiver(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://receiver", timeout=30) as client,
    ):
        yield client


@asynccontextmanager
async def reader(
    bootstrap: str, topic: str, *, from_start: bool = False
) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer of every partition of ``topic``, from its end (or its start)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    parts = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
    assert parts, f"topic {topic} has no partitions"
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(parts)
        if from_start:
            await consumer.seek_to_beginning(*parts)
        else:
            for tp, offset in (await consumer.end_offsets(parts)).items():
                consumer.seek(tp, offset)
        yield consumer
    finally:
        await stop_consumer(consumer)


def header(record: Any, name: str) -> str:
    value: bytes = dict(record.headers or [])[name]
    return value.decode()


async def count_until(
    consumer: AIOKafkaConsumer, wanted: set[str], by: str, timeout_s: float, settle_s: float
) -> Counter[str]:
    """Count records by the ``by`` header until every wanted value was seen, then keep
    reading for ``settle_s`` more so a late duplicate would be counted too."""
    counts: Counter[str] = Counter()
    deadline = time.monotonic() + timeout_s
    settle_until: float | None = None
    while time.monotonic() < (settle_until or deadline):
        batch = await consumer.getmany(timeout_ms=200)
        for records in batch.values():
            counts.update(header(r, by) for r in records)
        if settle_until is None and wanted <= set(counts):
            settle_until = time.monotonic() + settle_s
    return counts


async def post_shopify(
    client: httpx.AsyncClient, shop: str, secret: str, body: bytes, webhook_id: str
) -> httpx.Response:
    from unit.webhook_receiver.harness import shopify_headers

    headers = shopify_headers(
        body, "orders/create", webhook_id=webhook_id, shop=shop, secret=secret.encode()
    )
    return await client.post("/webhooks/shopify", content=body, headers=headers)


async def retry_until_acknowledged(
    client: httpx.AsyncClient,
    shop: str,
    secret: str,
    deliveries: list[tuple[bytes, str]],
    timeout_s: float = 60.0,
) -> Counter[str]:
    """Shopify's behaviour: redeliver (same body, same webhook id) until the answer is 200.
    Returns how the deliveries were finally acknowledged (accepted or duplicate)."""
    pending = {wid: body for body, wid in deliveries}
    final: Counter[str] = Counter()
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        for wid, body in list(pending.items()):
            r = await post_shopify(client, shop, secret, body, wid)
            if r.status_code == 200:
                final[r.json()["status"]] += 1
                del pending[wid]
        if pending:
            await asyncio.sleep(0.5)
    assert not pending, f"{len(pending)} deliveries never acknowledged"
    return final
