"""The benches with tiny numbers against the real Redis (database 5) and Kafka: they run,
judge correctness, and keep each scenario's section of the benchmarks doc to itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import catalog_sync, full_sync, hot_sku, live, rebuild, webhook_ack
from bench.report import machine, percentile, update_section, with_db
from support.infra import one_redis_bench

pytestmark = pytest.mark.integration


@one_redis_bench
def test_hot_sku_atomic_path_never_oversells(redis_url: str) -> None:
    load = hot_sku.Load(stock=20, workers=2, attempts=40, qty=1)
    data = hot_sku.run(load, with_db(redis_url, 5))
    assert data["failures"] == []
    atomic, naive = data["atomic"], data["naive"]
    assert atomic["accepted"] == 20 and atomic["oversell_units"] == 0
    assert atomic["final"] == {"on_hand": 20, "reserved": 20, "available": 0}
    assert naive["commands"] == atomic["commands"] == 80
    assert naive["accepted"] >= 20 and naive["p99_ms"] >= naive["p50_ms"] > 0


def test_hot_sku_failures_are_correctness_only() -> None:
    load = hot_sku.Load(stock=10, workers=1, attempts=20)
    ok = {
        "errors": 0,
        "oversell_units": 0,
        "accepted": 10,
        "final": {"available": 0, "reserved": 10},
    }
    slow_naive = {"errors": 0, "oversell_units": 30, "accepted": 40}
    assert hot_sku.failures(load, slow_naive, ok) == []
    oversold = ok | {
        "oversell_units": 1,
        "accepted": 11,
        "final": {"available": -1, "reserved": 11},
    }
    assert any("oversold" in f for f in hot_sku.failures(load, slow_naive, oversold))


@one_redis_bench
async def test_rebuild_bench_verifies_every_sku(kafka_bootstrap: str, redis_url: str) -> None:
    opts = rebuild.Options(kafka_bootstrap, with_db(redis_url, 5), skus=300, tail=60, partitions=3)
    data = await rebuild.run(opts)
    assert data["failures"] == []
    assert data["report"]["skus"] == 300 and data["report"]["commands_replayed"] == 60


def test_each_bench_rewrites_only_its_own_section(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    update_section("a", "Scenario A", "first", doc)
    update_section("b", "Scenario B", "other", doc)
    update_section("a", "Scenario A", "second", doc)
    text = doc.read_text()
    assert text.startswith("# Benchmarks")
    assert "second" in text and "first" not in text and "other" in text
    assert text.index("## Scenario A") < text.index("## Scenario B")
    assert text.count("<!-- bench:a:begin -->") == 1


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0 and percentile(values, 99) == 99.0
    assert percentile([], 99) == 0.0


def test_every_bench_uses_the_one_percentile() -> None:
    """catalog_sync used to take the value at index floor(q n): one rank higher at p50."""
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 50) == 5.0 and percentile(values, 95) == 10.0
    assert percentile([1.0], 1) == 1.0 and percentile(values, 0) == 1.0
    seconds = [v / 1000 for v in reversed(values)]  # unsorted, in seconds
    assert catalog_sync.percentile_ms(seconds, 50) == 5.0
    assert catalog_sync.percentile_ms([], 50) is None
    for module in (catalog_sync, full_sync, webhook_ack, hot_sku, live):
        assert getattr(module, "percentile", percentile) is percentile, module.__name__
        assert getattr(module, "machine", machine) is machine, module.__name__
