"""After a 30 s Shopify outage, with the default breaker and back-off settings, the backlog
is applied within 10 s of Shopify recovering (the DLQ-recovery target of the architecture)."""

from __future__ import annotations

import asyncio
import time

import pytest
from integration.shopify_sync.conftest import SyncFactory, change

from stocksync_common.breaker import State
from support.poll import await_for

pytestmark = pytest.mark.integration
OUTAGE_S = 30.0
RECOVERY_TARGET_S = 10.0


async def test_backlog_applied_within_10s_after_a_30s_outage(sync_stack: SyncFactory) -> None:
    async with sync_stack(["plus", "advanced"]) as s:
        down, up = s.shops
        stock = {f"R{i:03d}": 0 for i in range(40)}
        for shop in s.shops:
            await s.seed(shop, stock)
        assert (await s.sim.post("/_sim/faults", json={"shop": down, "error_rate": 1.0})).is_success
        began = time.monotonic()
        truth = {sku: i % 7 + 1 for i, sku in enumerate(stock)}
        await s.publish_changes([change(sku, 1, n) for sku, n in truth.items()])
        await s.converged(up, truth)
        client = s.container.client

        async def circuit_open() -> bool:
            await asyncio.sleep(0)
            return bool(client.circuit(down) != State.CLOSED)

        await await_for("the circuit open", circuit_open, 30)
        # the outage lasts 30 s in all; the backlog waits in the pending map meanwhile
        while time.monotonic() - began < OUTAGE_S:
            assert await s.container.state.pending_count(down) == len(stock)
            await asyncio.sleep(1.0)
        await s.sim.delete("/_sim/faults")
        recovered = time.monotonic()
        await s.converged(down, truth, timeout_s=RECOVERY_TARGET_S)
        took = time.monotonic() - recovered
        print(f"backlog of {len(stock)} applied {took:.2f}s after recovery")  # noqa: T201
        assert client.circuit(down) == State.CLOSED
