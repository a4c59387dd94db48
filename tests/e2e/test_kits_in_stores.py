"""Bundles in the stores, end to end (issue #23, item 4): a kit listed in every store shows
its availability (the minimum over its components of floor(available / units)) as soon as
it is defined, and follows its components: a component sold in one store makes the kit fall
in every store, and a kit sold in one store takes its components down everywhere.

The whole system runs as processes (tests/e2e/conftest.py) on the real Kafka and Redis, with
the Shopify simulator's storefront placing the orders (signed ``orders/create`` webhooks to
webhook-receiver, as Shopify sends them)."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from e2e.test_happy_path import ADMIN, EU, GIDS, PARENT, US, seed, store_is, truth_is

from stack import Stack
from stocksync_common.events import InventoryCommand, InventoryCommandRequested, SkuConfig, encode
from stocksync_common.topics import INVENTORY_COMMANDS
from support.poll import wait_for

pytestmark = [pytest.mark.e2e]


async def define_kit(bootstrap: str, kit: str, components: dict[str, int]) -> None:
    """The merchant's kit definition: a ``configure`` command on the commands topic, keyed
    by the kit's SKU (how every per-SKU setting travels)."""
    command = InventoryCommand(
        command="configure", idempotency_key=f"e2e:configure:{kit}", sku=kit, location="wh-1",
        quantity=0, config=SkuConfig(kit_components=components),
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        event = InventoryCommandRequested(source="e2e", payload=command)
        await producer.send_and_wait(INVENTORY_COMMANDS, encode(event), key=kit.encode())
    finally:
        await producer.stop()


def sell(http: httpx.Client, stack: Stack, shop: str, sku: str, qty: int) -> None:
    """A storefront checkout in ``shop``: its own count drops, ``orders/create`` is sent."""
    r = http.post(
        f"{stack.url('shopify-sim')}/_sim/stores/{shop}/orders",
        json={"line_items": [{"sku": sku, "quantity": qty}], "location_id": GIDS[shop]},
        params={"wait": "true"},
    )
    assert r.status_code == 201, r.text


def every_store_shows(http: httpx.Client, stack: Stack, sku: str, n: int, what: str) -> None:
    for shop in GIDS:
        wait_for(f"{shop} shows {sku}={n} ({what})", partial(store_is, http, stack, shop, sku, n))


async def test_a_component_sold_in_one_store_lowers_the_kit_in_every_store(
    stack: Stack, http: httpx.Client, kafka_bootstrap: str
) -> None:
    run = uuid.uuid4().hex[:6]
    mug, lid, kit = f"E2E-KMUG-{run}", f"E2E-KLID-{run}", f"E2E-KIT-{run}"
    # Ample stock and small sales (no channel allocation): every store shows truth in full.
    seed(http, stack, {mug: 100, lid: 50})
    seed(http, stack, {kit: 0})  # listed in every store, no stock of its own
    await define_kit(kafka_bootstrap, kit, {mug: 2, lid: 1})
    every_store_shows(http, stack, kit, 50, "defined: min(100 // 2, 50 // 1)")

    sell(http, stack, EU, mug, 4)  # a component sold in one store
    wait_for("mug reserved", partial(truth_is, http, stack, mug, 96))
    every_store_shows(http, stack, mug, 96, "the component follows")
    every_store_shows(http, stack, kit, 48, "the kit falls: min(96 // 2, 50)")

    sell(http, stack, US, lid, 5)  # the other component becomes the scarce one
    wait_for("lid reserved", partial(truth_is, http, stack, lid, 45))
    every_store_shows(http, stack, kit, 45, "the kit falls: min(96 // 2, 45 // 1)")

    sell(http, stack, PARENT, kit, 3)  # the kit itself sold: its components move
    wait_for("kit components reserved", partial(truth_is, http, stack, lid, 42))
    every_store_shows(http, stack, lid, 42, "components follow the kit")
    every_store_shows(http, stack, mug, 90, "components follow the kit")
    every_store_shows(http, stack, kit, 42, "the kit after its own sale: min(45, 42)")

    # Reconciliation compares the stores with truth: the kit's truth is its availability.
    r = http.post(f"{stack.url('shopify-sync')}/reconcile", json={"skus": [kit]}, headers=ADMIN)
    assert r.status_code == 202, r.text
    job = f"{stack.url('shopify-sync')}/jobs/{r.json()['job_id']}"
    done = wait_for("reconciliation done", partial(finished, http, job))
    assert done["status"] == "done" and done["result"]["mismatched"] == 0, done
    every_store_shows(http, stack, kit, 42, "after a reconciliation")


def finished(http: httpx.Client, job: str) -> dict[str, Any] | None:
    doc: dict[str, Any] = http.get(job, headers=ADMIN).json()
    return doc if doc.get("status") in ("done", "failed") else None
