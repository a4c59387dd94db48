"""The flash sale's series (idle single sales, then each rate), its per-hop split from
Kafka record timestamps, and how the doc renders them (pure functions, no I/O)."""

from __future__ import annotations

from typing import Any

from bench import flash_doc, flash_sale, hops, load
from bench.hops import Stamp

A, B, C = "a.myshopify.com", "b.myshopify.com", "c.myshopify.com"


def test_series_are_the_idle_single_sales_then_each_rate_lowest_first() -> None:
    opts = flash_sale.Options(rates=(40.0, 200.0), idle=30, idle_every_s=0.3)
    [(idle_label, idle), (l40, r40), (l200, r200)] = opts.series()
    assert (idle_label, l40, l200) == ("idle", "40/s", "200/s")
    assert idle.orders == 30 and idle.hot == 0 and idle.hot_share == 0.0 and idle.skus == 30
    assert r40.orders == 40 * opts.duration and r200.rate == 200
    assert [label for label, _ in flash_sale.Options(idle=0).series()] == ["200/s"]


def test_breakdown_follows_each_cold_sale_through_every_topic_to_each_other_store() -> None:
    book = {"sales": [{"shop": A, "sku": "S-C00001", "sold_at": 100.0},
                      {"shop": A, "sku": "S-C00002", "sold_at": 101.0}]}  # fmt: skip
    stamps = [
        Stamp("webhooks.shopify.v1", 100.010, b'{"sku":"S-C00001"}'),
        Stamp("inventory.commands.v1", 100.030, b'{"sku": "S-C00001"}'),
        Stamp("inventory.changed.v1", 100.035, b'{"sku": "S-C00001"}'),
        # an older record of the same SKU is never taken for the sale's
        Stamp("inventory.changed.v1", 99.0, b'{"sku": "S-C00001"}'),
        # the second sale never reached the adjuster: not followed
        Stamp("webhooks.shopify.v1", 101.010, b'{"sku":"S-C00002"}'),
    ]
    writes = [
        {"shop": B, "ok": True, "skus": ["S-C00001"], "at": "1970-01-01T00:01:40.050Z"},
        {"shop": C, "ok": False, "skus": ["S-C00001"], "at": "1970-01-01T00:01:40.045Z"},
        {"shop": C, "ok": True, "skus": ["S-C00001"], "at": "1970-01-01T00:01:40.060Z"},
    ]
    out = hops.breakdown(book, writes, stamps, {"S-C00001", "S-C00002"})
    h = out["hops"]
    assert out["unfollowed"] == 1
    assert (h["webhook"]["p50"], h["command"]["p50"], h["change"]["p50"]) == (10.0, 20.0, 5.0)
    assert h["write"]["n"] == 2 and h["write"]["max"] == 25.0
    assert h["total"]["n"] == 2 and h["total"]["p50"] == 50.0 and h["total"]["max"] == 60.0
    assert any("not followed end to end: 1" in line for line in hops.lines(out))
    # the slowest writes with their split: which hop an outlier spent its time in
    assert out["slowest"] == [
        {"nth": 0, "shop": C, "total": 60.0, "webhook": 10.0, "command": 20.0, "change": 5.0,
         "write": 25.0},
        {"nth": 0, "shop": B, "total": 50.0, "webhook": 10.0, "command": 20.0, "change": 5.0,
         "write": 15.0},
    ]  # fmt: skip
    assert f"slow: sale 0 to {C}: 60.0 ms = webhook 10.0 command 20.0 change 5.0 write 25.0" in (
        hops.lines(out)
    )


def side(p50: float, over: int = 0, with_hops: bool = True) -> dict[str, Any]:
    lat = {"n": 3, "p50": p50, "p99": p50 * 2, "max": p50 * 3}
    h = {"hops": {name: lat for name, _ in hops.HOPS}, "unfollowed": 0} if with_hops else None
    return {"sync_latency_ms": {"all": lat, "per_store": {B: lat}, "missing": {}},
            "oversell": {"units_beyond_stock": over, "hot_units_sold": 0},
            "webhooks": {"failed": 0}, "driven": {"errors": 0},
            "truth": {"lowest_available": 0, "hot_reserved": 0}, "hops": h}  # fmt: skip


def test_failures_are_judged_in_every_series_and_name_it() -> None:
    runs = [{"label": "idle", "stocksync": side(20)},
            {"label": "200/s", "stocksync": side(40, over=2)}]  # fmt: skip
    assert flash_sale.failures({"runs": runs}) == ["200/s: StockSync oversold 2 units"]
    assert flash_sale.failures({"stocksync": side(10)}) == []


def test_the_doc_shows_every_series_per_store_and_the_hops_but_none_for_the_naive_sync() -> None:
    runs = [{"label": "idle", "orders": 30, "stocksync": side(25.0), "naive": side(5.0, False)},
            {"label": "200/s", "orders": 4000, "stocksync": side(45.0),
             "naive": side(9.0, 3, False)}]  # fmt: skip
    text = "\n".join(flash_doc.series_text({"runs": runs}))
    assert (
        "| 200/s | 4,000 | all | 45.0 / 90.0 / 135.0 ms (n 3) | 9.0 / 18.0 / 27.0 ms (n 3) "
        "| 0 / 3 |" in text
    )
    assert f"| idle | 30 | {B} | 25.0 / 50.0 / 75.0 ms (n 3) |" in text
    assert (
        "| idle | -> inventory.commands.v1 (order-consumer) | 25.0 / 50.0 / 75.0 ms (n 3) | 0 |"
        in text
    )
    assert "naive monolith has no hops" in text
    assert flash_doc.series_text({}) == []  # a run from before the series: nothing added


def test_the_doc_shows_the_cpu_of_each_loaded_series_busiest_process_first() -> None:
    cpu = {"seconds": 30.0, "machine_busy": 0.94, "cpus": 2,
           "cores": {"shopify-sync": 0.25, "notifier": 0.2, "idle-one": 0.0}}  # fmt: skip
    runs = [{"label": "idle", "orders": 30, "stocksync": side(25.0) | {"cpu": cpu},
             "naive": side(5.0, False)},
            {"label": "200/s", "orders": 4000, "stocksync": side(45.0) | {"cpu": cpu},
             "naive": side(9.0, 3, False)}]  # fmt: skip
    text = "\n".join(flash_doc.series_text({"runs": runs}))
    assert "| 200/s | stocksync | 94% of 2 cores | shopify-sync 0.25, notifier 0.20 |" in text
    assert "| idle | stocksync |" not in text  # the idle series is not a load
    assert "| 200/s | naive |" not in text  # a run without the figure shows none


def test_both_sides_are_compared_over_the_updates_both_delivered() -> None:
    """The naive sync drops what a throttling store refused (no retry path): its median is
    over its fast updates only. The matched figures take the same (store, SKU) pairs."""
    ours = {(B, "S1"): 40.0, (B, "S2"): 50.0, (C, "S1"): 90.0, (C, "S2"): 100.0}
    theirs = {(B, "S1"): 10.0, (B, "S2"): 20.0, (C, "S3"): 5.0}  # C's S1, S2 never written
    m = load.matched(ours, theirs)
    assert m["n"] == 2 and m["of"] == {"stocksync": 4, "naive": 3}
    assert (m["stocksync"]["max"], m["naive"]["max"]) == (50.0, 20.0)
    assert list(m["per_store"]) == [B] and m["per_store"][B]["naive"]["n"] == 2
    runs = [{"label": "200/s", "orders": 4000, "stocksync": side(45.0),
             "naive": side(9.0, 3, False), "matched": m}]  # fmt: skip
    text = "\n".join(flash_doc.series_text({"runs": runs}))
    assert "| 200/s | all | 2 (of 4 / 3) | " in text
    assert f"| 200/s | {B} | 2 | " in text
    # a run from before the matched figures: no such table
    assert "updates both sides delivered" not in "\n".join(
        flash_doc.series_text({"runs": [runs[0] | {"matched": None}]})
    )


def test_sync_pairs_key_each_update_by_store_and_sku() -> None:
    book = {"sales": [{"shop": A, "sku": "S1", "sold_at": 100.0},
                      {"shop": B, "sku": "S2", "sold_at": 100.5}]}  # fmt: skip
    writes = [
        {"shop": B, "ok": True, "skus": ["S1"], "at": "1970-01-01T00:01:40.020Z"},
        {"shop": A, "ok": True, "skus": ["S2"], "at": "1970-01-01T00:01:40.540Z"},
    ]
    pairs, missing, samples = load.sync_pairs(book, writes, {"S1", "S2"})
    assert set(pairs) == {(B, "S1"), (A, "S2")} and abs(pairs[(A, "S2")] - 40) < 1.5
    assert missing == {} and len(samples) == 2
