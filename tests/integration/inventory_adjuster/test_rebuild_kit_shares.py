"""A kit under channel allocation is still on sale after a rebuild (issue #23; ADR 0040).

A component's kit parts (``kitshares``/``kitwants``) and the hints its kits give it are in no
levels record: a rebuild restored the component's direct shares without them, so the kit's
share (the least of its allocated components' parts) read 0 in every store until the
component's own next change. A component sold only through its kit never changes on its own:
the kit stayed at 0 everywhere, its units on sale nowhere. The rebuild now splits each
kit's allocated components again once the kits are defined.

Real broker, real Redis (database 5, or the cluster the URL names).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from inventory_adjuster.adapters.kits import KitStore
from stocksync_common.events import OrderLineRef, SkuConfig
from support.rebuild_topics import LOC, RebuildEnv, Topics, command, rebuild_env

pytestmark = pytest.mark.integration

SHOPS = ["s1.myshopify.com", "s2.myshopify.com", "s3.myshopify.com"]


@pytest.fixture
async def env(
    kafka_bootstrap: str,
    redis_url: str,
    redis5: Redis,
    topics3: Topics,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> AsyncIterator[RebuildEnv]:
    stores = tmp_path / "stores.yaml"
    stores.write_text(
        "stores:\n"
        + "".join(f"  - shop: {s}\n    access_token: t\n    webhook_secret: x\n" for s in SHOPS)
    )
    monkeypatch.setenv("STOCKSYNC_STORES_FILE", str(stores))  # the rebuild's shops
    async with rebuild_env(RebuildEnv, kafka_bootstrap, redis_url, redis5, topics3, monkeypatch,
                           "kit-shares", shops=SHOPS) as env:  # fmt: skip
        yield env


async def kit_shares(env: RebuildEnv, kit: str) -> dict[str, int] | None:
    kits = KitStore(env.redis, env.store.group, idem_ttl_s=3600, ledger_max_len=1000)
    return (await kits.availability([kit], LOC))[kit].shares


async def test_a_kit_sold_only_as_a_kit_is_on_sale_after_a_rebuild(env: RebuildEnv) -> None:
    run = uuid.uuid4().hex[:8]
    a, b, kit = f"RS-a-{run}", f"RS-b-{run}", f"RS-kit-{run}"
    for event in [
        command(a, "set_on_hand", 9, f"{a}:count"),  # low: shared out between the stores
        command(b, "set_on_hand", 50, f"{b}:count"),  # plenty: not allocated
        command(kit, "configure", 0, f"{kit}:def", config=SkuConfig(kit_components={a: 2, b: 1})),
        command(
            kit,
            "reserve",
            1,
            f"{kit}:order-1",
            order=OrderLineRef(shop=SHOPS[0], order_id="1", line_id="1"),
        ),  # fmt: skip
    ]:
        await env.handle(event)
    before = await kit_shares(env, kit)
    assert before is not None and sum(before.values()) >= 1, before  # the kit is on sale

    await env.redis.flushdb()  # the loss
    assert await env.cli() == 0
    after = await kit_shares(env, kit)
    assert after is not None, "the kit is no longer shared out"
    assert sum(after.values()) >= 1, f"the kit is on sale in no store after the rebuild: {after}"
    assert sum(after.values()) * 2 <= 7  # A: 7 units left, 2 a kit: never more kits than A makes
