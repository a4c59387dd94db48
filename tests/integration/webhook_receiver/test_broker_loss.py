"""Broker loss at the edge, on a dedicated broker (the shared test broker is untouched).

With the broker stopped every delivery is answered 503 and none is recorded as seen; once
it is back, Shopify-style retries of the same deliveries end in 200, and the topic holds
exactly one record per delivery, whether the producer landed the held record late (the
retry is then a duplicate) or gave it up (the retry publishes it).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from integration.webhook_receiver.edge import (
    count_until,
    reader,
    retry_until_acknowledged,
    running_receiver,
    write_stores,
)
from prometheus_client import REGISTRY
from unit.webhook_receiver.harness import order_body, shopify_headers

from stocksync_common.events import stable_id
from stocksync_common.topics import WEBHOOKS_SHOPIFY, create_topics
from webhook_receiver.adapters.ledger import seen_key
from webhook_receiver.settings import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
KAFKA_SH = ROOT / "scripts" / "infra" / "kafka.sh"
SECRET = "broker-loss-secret"


def in_doubt() -> float:
    """Held records settled so far (published late, or failed)."""
    name = "stocksync_webhook_publish_in_doubt_total"
    return sum(
        REGISTRY.get_sample_value(name, {"resolution": r}) or 0.0 for r in ("published", "failed")
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    def __init__(self, state: Path) -> None:
        self.port, self.controller = free_port(), free_port()
        self.env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller),
            "STOCKSYNC_STATE_DIR": str(state),
            "KAFKA_HEAP_OPTS": "-Xms128m -Xmx512m",
        }
        self.bootstrap = f"127.0.0.1:{self.port}"

    def run(self, action: str) -> None:
        subprocess.run(["bash", str(KAFKA_SH), action], env=self.env, check=True, timeout=120)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    b = Broker(tmp_path_factory.mktemp("broker-loss"))
    b.run("start")
    try:
        yield b
    finally:
        b.run("stop")


async def test_broker_loss_503_nothing_seen_then_retries_apply_once(broker, redis, tmp_path):
    await create_topics(broker.bootstrap, partitions=3, replication=1)
    shop = write_stores(tmp_path / "stores.yaml", SECRET)
    settings = Settings(
        kafka_bootstrap_servers=broker.bootstrap,
        redis_url=os.environ.get("STOCKSYNC_TEST_REDIS", "redis://127.0.0.1:16379/0"),
        stores_file=str(tmp_path / "stores.yaml"),
        publish_timeout_s=1.0,
        claim_ttl_s=6.0,
    )
    before = [(order_body(), str(uuid.uuid4())) for _ in range(3)]
    during = [(order_body(), str(uuid.uuid4())) for _ in range(10)]

    async with running_receiver(settings) as client:

        async def deliver(body: bytes, wid: str) -> int:
            headers = shopify_headers(
                body, "orders/create", webhook_id=wid, shop=shop, secret=SECRET.encode()
            )
            r = await client.post("/webhooks/shopify", content=body, headers=headers)
            return r.status_code

        # The first publish to a fresh broker may outlive the timeout (leader election).
        assert sum((await retry_until_acknowledged(client, shop, SECRET, before)).values()) == 3

        in_doubt_before = in_doubt()
        await asyncio.to_thread(broker.run, "stop")
        codes = await asyncio.gather(*(deliver(b, w) for b, w in during))
        assert codes == [503] * len(during)
        assert await deliver(*during[0]) == 503  # an early retry: still not acknowledged
        for _, wid in during:
            value = await redis.get(seen_key(shop, wid))
            assert value is None or value.startswith(b"pending:"), value  # never "done"

        await asyncio.to_thread(broker.run, "start")
        final = await retry_until_acknowledged(client, shop, SECRET, during)
        assert sum(final.values()) == len(during), final
        # Every publish that outlived its 503 settled: landed late, or given up and released.
        assert in_doubt() - in_doubt_before == len(during)

    wanted = {stable_id("shopify", shop, w) for _, w in before + during}
    async with reader(broker.bootstrap, WEBHOOKS_SHOPIFY, from_start=True) as consumer:
        counts = await count_until(consumer, wanted, "event-id", timeout_s=30, settle_s=1.0)
    assert {e: counts[e] for e in wanted} == dict.fromkeys(wanted, 1)
    for _, wid in during:
        assert (await redis.get(seen_key(shop, wid))).startswith(b"done:")
