"""Expiring Admin API tokens (client credentials grant) on the real Kafka and Redis: the
simulator issues tokens that live 1.5 s; shopify-sync pushes wave after wave of changes,
each after the tokens in use expired (refreshed before use) or were revoked (refused with
a 401, replaced, the write sent again). Every store ends equal to truth after every wave
(nothing lost), each quantity applied was a compare-and-set, and no change waits unpushed."""

from __future__ import annotations

import pytest
from integration.shopify_sync.conftest import Sync, SyncFactory, change

from support.poll import await_for

pytestmark = pytest.mark.integration
TTL_S = 1.5
CLIENTS = [
    {"access_token": None, "client_id": f"app-{i}", "client_secret": f"shpss_it_{i}",
     "token_ttl_s": TTL_S}
    for i in range(2)
]  # fmt: skip
SKUS = [f"T{i:03d}" for i in range(40)]
WAVES = 6


async def test_writes_continue_across_token_expiries_and_none_is_lost(
    sync_stack: SyncFactory,
) -> None:
    async with sync_stack(["standard", "plus"], store_extra=CLIENTS) as s:
        for shop in s.shops:
            await s.seed(shop, dict.fromkeys(SKUS, 0))
        for wave in range(1, WAVES + 1):
            truth = {sku: (i * wave) % 17 + wave for i, sku in enumerate(SKUS)}
            await s.publish_changes([change(sku, wave, n) for sku, n in truth.items()])
            for shop in s.shops:
                await s.converged(shop, truth, timeout_s=30)
            if wave % 2:  # the next wave finds every token expired
                await await_for("tokens expired", lambda: _none_live(s), 10)
            else:  # the next wave finds its token revoked: a 401, then a new token
                for shop in s.shops:
                    assert (await s.sim.delete(f"/_sim/stores/{shop}/tokens")).status_code == 200
        stats = await s.stats()
        for shop in s.shops:
            # a token per wave, and each revoked token that met a write was refused once and
            # replaced at once (never sent again: a push round is one call per store at a time)
            assert stats[shop]["tokens_issued"] >= WAVES, stats[shop]
            assert stats[shop]["expired_tokens_refused"] == WAVES // 2 - 1, stats[shop]
        # a push round drops its pending entries after it recorded the store's answer: the
        # store can equal truth a moment before (a loaded machine showed 38 still there)
        await await_for("no change waits unpushed", lambda: _nothing_pending(s), 10)
        await s.assert_compare_and_set()


async def _nothing_pending(s: Sync) -> bool:
    for shop in s.shops:
        if await s.container.state.pending_count(shop):
            return False
    return True


async def _none_live(s: Sync) -> bool:
    for shop in s.shops:
        if (await s.sim.get(f"/_sim/stores/{shop}/tokens")).json()["live"]:
            return False
    return True
