"""``stocksync-stores connect`` (the installed console script) against the Shopify simulator
served on a port, on the real Kafka and Redis: from a store with no webhook subscriptions and
no location mapping to a synced store. The subscriptions registered are exactly the topics
webhook-receiver routes (less the three compliance topics, set in the app's configuration),
all to the public URL; the mapping is written into the stores file; the first-sync job
discovers the catalog and brings every count to truth; and the simulator then delivers an
order to the subscribed address."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
import yaml
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from integration.notifier.harness import free_port
from integration.shopify_sync.conftest import ADMIN, LOC, SyncFactory, _topics, levels
from integration.shopify_sync.test_catalog_jobs import finished

from shopify_sync import stores_cli
from shopify_sync.adapters.lease import Lease
from shopify_sync.stores_cli import parser
from stocksync_common.events import encode
from stocksync_sim.shopify.app import create_app as create_sim
from stocksync_sim.shopify.config import parse_stores
from stocksync_sim.shopify.runtime import SimSettings
from stocksync_sim.sink.app import create_app as create_sink
from support.poll import await_for
from webhook_receiver.domain.routing import ROUTES

pytestmark = pytest.mark.integration
CLI = str(Path(sys.executable).with_name("stocksync-stores"))
LOCATION = "gid://shopify/Location/77"


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """``app`` on a free local port (its lifespan run here); its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    async with app.router.lifespan_context(app):
        task = asyncio.create_task(server.serve())

        async def started() -> bool:
            return server.started

        await await_for("the server", started, 10)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await task


async def cli(env: dict[str, str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    proc = await asyncio.create_subprocess_exec(
        CLI, *argv, env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode is not None
    rows = [orjson.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    return proc.returncode, rows, err.decode()


async def test_connect_takes_a_new_store_from_empty_to_synced(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    shop, token, secret = f"it-{run}-new.myshopify.com", f"tok-{run}", f"sec-{run}"
    sim_store = {"shop": shop, "access_token": token, "webhook_secret": secret, "plan": "plus",
                 "locations": {"wh-1": LOCATION}}  # fmt: skip
    sim = create_sim(
        SimSettings(stores=parse_stores({"stores": [sim_store]}, environ={}), validation="on")
    )
    truth = {f"CN-{run}-{i:02d}": (i * 5) % 11 + 1 for i in range(30)}
    topics = {k: f"it.{run}.{k}" for k in ("levels", "changes")}
    await _topics(kafka_bootstrap, list(topics.values()))
    async with (
        serve(sim) as sim_url,
        serve(create_sink()) as public_url,
        httpx.AsyncClient(base_url=sim_url) as http,
    ):
        stale = [{"sku": sku, "quantities": {LOCATION: 0}} for sku in truth]
        assert (await http.post(f"/_sim/stores/{shop}/products", json=stale)).status_code == 201
        await publish_truth(kafka_bootstrap, topics["levels"], truth)
        stores_file = tmp_path / "stores.yaml"
        stores_file.write_text(
            "stores:\n"
            f"  - shop: {shop}   # connected by stocksync-stores\n"
            f"    admin_base_url: {sim_url}\n    access_token: {token}\n"
            f"    webhook_secret: {secret}\n"
        )
        env = {
            "STOCKSYNC_STORES_FILE": str(stores_file),
            "STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "STOCKSYNC_REDIS_URL": redis_url,
            "STOCKSYNC_LEVELS_TOPIC": topics["levels"],
            "STOCKSYNC_CHANGES_TOPIC": topics["changes"],
            "STOCKSYNC_PUBLIC_URL": public_url,
        }
        subscribed = await http.get(f"/_sim/stores/{shop}/webhook-subscriptions")
        assert subscribed.json() == []

        code, rows, err = await cli(env, "connect", "--json")

        assert code == 0, err
        connected, *progress = rows
        assert connected["status"] == "ok", connected
        assert connected["mapping"] == {"wh-1": LOCATION}
        assert progress[-1]["status"] == "done" and progress[-1]["phase"] == "done", progress
        result = progress[-1]["reconciliation"]
        assert result["stores"][shop]["compared"] == len(truth)
        assert result["mismatched"] == len(truth)  # every count corrected by the first sync
        stores = yaml.safe_load(stores_file.read_text())["stores"]
        assert stores[0]["locations"] == {"wh-1": LOCATION}

        inventory = (await http.get(f"/_sim/stores/{shop}/inventory")).json()
        assert {sku: lv[LOCATION] for sku, lv in inventory.items()} == truth

        subs = (await http.get(f"/_sim/stores/{shop}/webhook-subscriptions")).json()
        consumed = {topic for topic, route in ROUTES.items() if not route.compliance}
        assert len(subs) == len(consumed)  # one subscription per topic
        assert {rest_topic(s["topic"]) for s in subs} == consumed
        assert {s["uri"] for s in subs} == {f"{public_url}/webhooks/shopify"}

        sale = {"line_items": [{"sku": next(iter(truth)), "quantity": 1}]}
        placed = await http.post(f"/_sim/stores/{shop}/orders", json=sale, params={"wait": "true"})
        assert placed.status_code == 201, placed.text
        async with httpx.AsyncClient(base_url=public_url) as sink:
            got = (await sink.get("/_sink/messages", params={"path": "/webhooks/shopify"})).json()
        assert [m["headers"]["x-shopify-topic"] for m in got] == ["orders/create"]
        assert got[0]["headers"]["x-shopify-shop-domain"] == shop


def rest_topic(subscription_topic: str) -> str:
    """``INVENTORY_LEVELS_UPDATE`` -> ``inventory_levels/update``."""
    family, _, event = subscription_topic.lower().rpartition("_")
    return f"{family}/{event}"


async def publish_truth(bootstrap: str, topic: str, truth: dict[str, int]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for sku, n in truth.items():
            await producer.send(topic, encode(levels(sku, 1, n)), key=sku.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def test_the_admin_route_connects_and_runs_the_first_sync(sync_stack: SyncFactory) -> None:
    public = "https://sync.example"
    async with sync_stack(["plus"], public_url=public) as s:
        shop = s.shops[0]
        truth = {f"AR-{i:02d}": i + 1 for i in range(10)}
        await s.seed(shop, dict.fromkeys(truth, 0))
        await s.publish_levels([levels(sku, 1, n) for sku, n in truth.items()])
        assert (await s.admin.post("/stores/connect", json={})).status_code == 401

        r = await s.admin.post("/stores/connect", headers=ADMIN, json={"dry_run": True})
        assert r.status_code == 200, r.text
        assert r.json()["job_id"] is None
        assert (await s.sim.get(f"/_sim/stores/{shop}/webhook-subscriptions")).json() == []

        r = await s.admin.post("/stores/connect", headers=ADMIN, json={"shops": [shop]})
        assert r.status_code == 200, r.text
        [store] = r.json()["stores"]
        assert store["status"] == "ok" and store["mapping"] == {"wh-1": LOC}
        doc = await finished(s, r.json()["job_id"])
        assert doc["status"] == "done" and doc["result"]["reconciliation"]["mismatched"] == 10
        await s.converged(shop, truth)
        subs = (await s.sim.get(f"/_sim/stores/{shop}/webhook-subscriptions")).json()
        assert {rest_topic(x["topic"]) for x in subs} == {
            topic for topic, route in ROUTES.items() if not route.compliance
        }
        assert {x["uri"] for x in subs} == {f"{public}/webhooks/shopify"}


async def test_no_first_sync_while_a_running_sync_holds_the_lane_with_the_old_mapping(
    sync_stack: SyncFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with sync_stack(["plus"]) as s:
        shop = s.shops[0]
        await s.seed(shop, {"HELD-1": 0})
        await s.publish_levels([levels("HELD-1", 1, 5)])
        lease = s.container.lanes.lanes[shop].lease
        assert isinstance(lease, Lease)

        async def held() -> bool:
            return bool(await s.container.redis.exists(lease.key))

        await await_for("the service's lane lease", held, 10)
        # the operator's copy of the stores file, without this store's mapping yet
        doc = yaml.safe_load(Path(str(s.settings.stores_file)).read_text())
        del doc["stores"][0]["locations"]
        copy = tmp_path / "operator-stores.yaml"
        copy.write_text(yaml.safe_dump(doc))
        settings = s.settings.model_copy(update={"stores_file": str(copy)})
        args = parser().parse_args(["connect", "--public-url", "https://sync.example"])

        code = await stores_cli.connect(args, settings, s.sim._transport)

        assert code == 1
        err = capsys.readouterr().err
        assert f"{shop}: a running shopify-sync holds its lane" in err
        assert yaml.safe_load(copy.read_text())["stores"][0]["locations"] == {"wh-1": LOC}
        assert await s.inventory(shop) == {"HELD-1": 0}  # nothing pushed with the old mapping
