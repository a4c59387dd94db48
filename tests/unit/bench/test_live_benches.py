"""The live benches with tiny loads: the whole system as processes on a Kafka broker of its
own (so no other test's services share its topics or consumer groups) and the real Redis.
The knee also runs on a Redis Cluster (the system's Redis there: the cluster's one database,
emptied first); the flash sale and the outage recovery are benches of one Redis.

They fail only on correctness (oversell, a lost or failed webhook, a sale that never reached
every store, a command not applied), never on speed.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import dlq_recovery, flash_sale, knee, load
from bench.live import SYSTEM, Infra, Stack, running_stack
from bench.webhook_ack import dedicated_broker
from support.infra import PORT_SHIFT, one_redis_bench

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def infra(redis_url: str) -> Iterator[Infra]:
    work = ROOT / ".work" / "test"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work, prefix="bench-smoke-") as state:
        with dedicated_broker(Path(state)) as bootstrap:
            yield Infra(bootstrap, redis_url, port_offset=20000 + PORT_SHIFT)


@pytest.fixture(scope="module")
def system(infra: Infra) -> Iterator[Stack]:
    with running_stack(infra, f"smoke-{PORT_SHIFT}", redis_db=6, names=SYSTEM) as stack:
        yield stack


@one_redis_bench
async def test_flash_sale_never_oversells_and_loses_nothing(infra: Infra, system: Stack) -> None:
    """Default settings (nothing configured per SKU), uneven demand above the hot stock."""
    opts = flash_sale.SMOKE
    cat = load.catalog(f"SM{uuid.uuid4().hex[:6]}", opts.skus, opts.hot, opts.hot_stock,
                       opts.cold_stock)  # fmt: skip
    data = {"options": {}, "stocksync": await flash_sale.stocksync_measure(system, opts, cat)}
    data["naive"] = await flash_sale.naive_run(opts, infra, cat)
    assert flash_sale.failures(data) == []
    ours, naive = data["stocksync"], data["naive"]
    assert ours["oversell"]["units_beyond_stock"] == 0
    assert ours["webhooks"]["delivered"] == ours["driven"]["sold"] > 0
    assert ours["sync_latency_ms"]["all"]["n"] > 0 and ours["sync_latency_ms"]["missing"] == {}
    # the same orders reached the naive monolith, whatever it made of them
    assert naive["driven"]["offered"] == ours["driven"]["offered"]
    # the figures of the report: demand above stock, sell-through, refusals, share moves
    assert ours["demand"] == naive["demand"] and ours["demand"]["ratio"] > 1
    sold = ours["sell_through"]["hot_units_sold_within_stock"]
    assert sold == ours["oversell"]["hot_units_sold"] > 0
    assert 0 < ours["sell_through"]["sell_through"] <= 1
    assert ours["refusals"]["refused"] == ours["driven"]["refused"]
    assert ours["refusals"]["while_stock_elsewhere"] <= ours["refusals"]["refused"]
    assert ours["share_moves"] >= 0 and naive["share_moves"] is None


async def test_knee_applies_every_command(infra: Infra, system: Stack) -> None:
    data = await knee.measure(system, infra.bootstrap, knee.SMOKE)
    assert data["failures"] == []
    assert data["produced"] > 0 and data["applied"] == data["produced"]
    assert [s["rate"] for s in data["steps"]][0] == knee.SMOKE.rates[0]


@one_redis_bench
async def test_backlog_reaches_every_store_after_an_outage(infra: Infra, system: Stack) -> None:
    data = await dlq_recovery.measure(system, dlq_recovery.SMOKE)
    assert data["failures"] == []
    assert data["behind_at_heal"] > 0, "the outage should have held writes back"
    assert sum(data["errors_injected"].values()) > 0
