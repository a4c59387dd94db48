"""bench.knee's judging and report, and the pure parts of its load generator and of the
ceiling loop (no I/O: the live parts are in test_ceiling_live.py and test_live_benches.py)."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from bench import ceiling, knee, live, load
from stocksync_common.events import InventoryCommandRequested, decode


def step(rate: int, produced_per_s: float, unbounded: bool, **extra: Any) -> dict[str, Any]:
    return {"rate": rate, "produced": int(produced_per_s * 10), "produced_per_s": produced_per_s,
            "applied_per_s": produced_per_s * 0.9, "backlog_added": 0, "unbounded": unbounded,
            "generator_short": False, "lag_start": 0, "lag_end": 5, **extra}  # fmt: skip


def test_a_step_grows_when_more_than_half_a_second_of_its_rate_is_left_over() -> None:
    produced = load.Produced(sent=10_000, seconds=10.0)
    kept_up = knee.judge(1000, produced, applied=9_000, seconds=10.0, applied_by_grace=9_500)
    assert kept_up["backlog_added"] == 500 and not kept_up["unbounded"]
    behind = knee.judge(1000, produced, applied=9_000, seconds=10.0, applied_by_grace=9_499)
    assert behind["backlog_added"] == 501 and behind["unbounded"]
    assert kept_up["applied_per_s"] == 900.0 and kept_up["produced_per_s"] == 1000.0


def test_a_step_the_generator_could_not_feed_is_marked_short() -> None:
    fed = knee.judge(1000, load.Produced(9_600, 10.0), 9_600, 10.0, 9_600)
    starved = knee.judge(1000, load.Produced(9_400, 10.0), 9_400, 10.0, 9_400)
    assert not fed["generator_short"] and starved["generator_short"]


def test_the_figure_is_the_best_rate_kept_up_with_before_a_step_fell_behind() -> None:
    steps = [step(1000, 990.0, False), step(2000, 1980.0, False), step(4000, 3000.0, True)]
    assert knee.sustained(steps) == 1980.0 and knee.reached(steps)
    assert knee.sustained([step(1000, 990.0, True)]) == 0.0
    assert not knee.reached(steps[:2])


@pytest.mark.parametrize(
    ("knee_reached", "top_reached", "bound", "verdict"),
    [(True, True, "=", "met"), (True, False, "<=", "unknown"),
     (False, True, ">=", "met"), (False, False, None, "unknown")],
)  # fmt: skip
def test_the_ratio_says_whether_it_is_a_value_or_a_bound(
    knee_reached: bool, top_reached: bool, bound: str | None, verdict: str
) -> None:
    r = knee.ratio(12_000.0, knee_reached, 16_000.0, top_reached)
    assert r["bound"] == bound
    assert r["value"] == (0.75 if bound else None)
    assert knee.ratio_verdict(r) == verdict


def test_the_ratio_verdict_at_and_around_the_target() -> None:
    assert knee.ratio_verdict({"value": 0.6, "bound": "="}) == "met"
    assert knee.ratio_verdict({"value": 0.59, "bound": "="}) == "not met"
    assert knee.ratio_verdict({"value": 0.5, "bound": "<="}) == "not met"
    assert knee.ratio_verdict({"value": 0.5, "bound": ">="}) == "unknown"
    assert knee.ratio(0.0, True, 16_000.0, True)["value"] is None  # nothing kept up


def test_the_ratio_text() -> None:
    assert knee.ratio_text({"value": 0.754, "bound": "="}) == "0.75"
    assert knee.ratio_text({"value": 0.5, "bound": "<="}) == "at most 0.50"
    assert knee.ratio_text({"value": 0.7, "bound": ">="}) == "at least 0.70"
    assert knee.ratio_text({"value": None, "bound": None}).startswith("not measured")


def test_phase_lines_tell_a_limit_from_a_lower_bound() -> None:
    fell = [step(1000, 990.0, False), step(2000, 1500.0, True, applied_per_s=1400.0)]
    line = knee.phase_line("Knee", fell)
    assert (
        "**990 commands/s** sustained" in line and "at 2,000/s offered it applied 1,400/s" in line
    )
    kept = knee.phase_line("Ceiling", [step(16000, 15900.0, False)])
    assert "**not reached**" in kept and "above **15,900 commands/s**" in kept


def test_the_progress_line_says_what_was_offered_produced_and_applied() -> None:
    s = step(2000, 1700.0, True, generator_short=True, backlog_added=1200)
    line = knee.progress("system", s)
    assert "2,000/s offered, 1,700/s produced (generator short" in line
    assert "backlog 1,200 -> grows" in line


def report_data(top: dict[str, Any] | None) -> dict[str, Any]:
    system = {"options": {"step_s": 10.0, "skus": 2000}, "failures": [], "drain_s": 1.5,
              "steps": [step(12000, 11950.0, False, shopify_sync_lag_end=3),
                        step(16000, 14000.0, True, shopify_sync_lag_end=9000)],
              "knee_per_s": 11950.0, "applied": 26000.0, "produced": 26000}  # fmt: skip
    generator = {"offered_per_s": 32000, "produced_per_s": 31000.0, "required_per_s": 24000.0,
                 "met": True, "processes": 2, "produced": 310000}  # fmt: skip
    data = knee.combine(system, generator, top)
    box = {"cores": 2, "cpu": "x", "memory_gib": 1, "python": "3.11", "load_avg_1m": 0.1}
    return data | {"machine": box, "date": "2026-12-06T10:00:00", "command": "c"}


def test_the_report_gives_knee_ceiling_ratio_and_what_the_generator_produced() -> None:
    top = {"steps": [step(12000, 11990.0, False), step(16000, 15990.0, True)],
           "ceiling_per_s": 11990.0, "produced": 28000, "applied": 28000.0,
           "units_added": 28000, "failures": [], "drain_s": 0.5}  # fmt: skip
    data = report_data(top)
    assert data["ratio"] == {"value": 0.997, "bound": "="}
    text = knee.render(data, "bench/results/knee-x.json")
    assert "produced 31,000/s when offered 32,000/s (needs 24,000/s" in text
    assert "Knee: **11,950 commands/s** sustained" in text
    assert "Ceiling: **11,990 commands/s** sustained" in text
    assert "Knee / ceiling: **1.00**; target >= 0.6: met" in text
    assert text.count("| offered/s |") == 2  # one table per phase
    assert knee.brief(data)["ceiling_per_s"] == 11990.0


def test_without_the_ceiling_the_report_has_the_system_only() -> None:
    data = report_data(None)
    text = knee.render(data, "r.json")
    assert "Ceiling" not in text and text.count("| offered/s |") == 1
    assert "ratio" not in data and knee.brief(data)["ceiling_per_s"] is None


def test_on_a_redis_cluster_the_knee_runs_without_the_ceiling_and_says_why() -> None:
    """The bare loop's script writes a per-group offsets hash beside the SKU's keys (two hash
    slots): on a Redis Cluster the ceiling is measured on one Redis node only."""
    opts, redis = knee.on_redis(knee.Options(), "redis+cluster://127.0.0.1:21381/0")
    assert not opts.ceiling and redis["cluster"]
    assert "one Redis node only" in redis["note"]
    same, one = knee.on_redis(knee.Options(), "redis://127.0.0.1:6379")
    assert same == knee.Options() and one == {"cluster": False, "note": None}
    data = report_data(None) | {"redis": redis | {"masters": 3, "replicas": 3}}
    text = knee.render(data, "r.json")
    assert "- Redis: a Redis Cluster of 3 masters and 3 replicas;" in text
    assert "one Redis node only" in text and "| offered/s |" in text
    assert "- Redis: one node" in knee.render(report_data(None) | {"redis": one}, "r.json")


def test_the_system_of_a_bench_runs_on_a_database_of_its_own_or_the_clusters_one() -> None:
    assert live.stack_redis_url("redis://127.0.0.1:6379", 8) == "redis://127.0.0.1:6379/8"
    on_cluster = live.stack_redis_url("redis+cluster://127.0.0.1:21381", 8)
    assert on_cluster == "redis+cluster://127.0.0.1:21381/0"  # a cluster has database 0 only
    with pytest.raises(ValueError, match="database 0"):
        live.stack_redis_url("redis://127.0.0.1:6379/0", 0)


def test_a_ceiling_that_lost_commands_fails_the_run() -> None:
    top = {"steps": [step(1000, 990.0, False)], "ceiling_per_s": 990.0, "produced": 10,
           "applied": 9.0, "units_added": 9, "failures": ["ceiling: lost"],
           "drain_s": -1.0}  # fmt: skip
    assert report_data(top)["failures"] == ["ceiling: lost"]


# --- the load generator's pure parts ---


def test_the_rate_splits_with_the_skus_and_sums_to_the_rate() -> None:
    assert load.split_rate(16_000, [1000, 1000]) == [8000, 8000]
    assert load.split_rate(10, [1, 1, 1]) == [4, 3, 3]  # remainder to the first of the ties
    assert load.split_rate(7, [3, 1]) == [5, 2]  # 5.25 and 1.75: the larger fraction wins
    assert load.split_rate(5, [0, 0]) == [0, 0]
    for rate in (1, 199, 16_001):
        assert sum(load.split_rate(rate, [667, 667, 666])) == rate


def test_pacing_sends_what_is_due_and_never_a_negative_count() -> None:
    assert load.due(1000, 0.0, 0) == 0
    assert load.due(1000, 0.0105, 0) == 10
    assert load.due(1000, 0.0105, 8) == 2
    assert load.due(1000, 0.5, 600) == 0  # ahead: nothing
    assert load.due(24_000, 10.0, 0) == 240_000


def test_every_sku_has_exactly_one_producer_process() -> None:
    skus = [f"S{i}" for i in range(11)]
    parts = load.shares(skus, 3)
    assert [len(p) for p in parts] == [4, 4, 3]
    assert sorted(s for p in parts for s in p) == sorted(skus)


def test_a_filled_template_is_a_valid_command_with_its_own_key_and_sku() -> None:
    parts = load.command_template()
    assert parts[1::2] and set(parts[1::2]) <= {b"KEY", b"SKU", b"ID"}
    event = decode(load.fill(parts, b"run-7", b"SKU-1"))
    assert isinstance(event, InventoryCommandRequested)
    assert event.id == event.correlation_id == "run-7"
    cmd = event.payload
    assert (cmd.command, cmd.sku, cmd.quantity, cmd.idempotency_key) == (
        "adjust", "SKU-1", 1, "knee:run-7",
    )  # fmt: skip


def test_the_produced_rate_is_over_the_step_until_the_last_acknowledgement() -> None:
    assert load.Produced(sent=24_000, seconds=1.2).per_s == 20_000.0
    assert load.Produced(sent=0, seconds=0.0).per_s == 0.0


# --- the ceiling's pure parts ---


def test_the_ceiling_keys_of_a_sku_share_one_slot_and_its_names_are_its_own() -> None:
    names = ceiling.Names("bench.ceiling.abc")
    keys = names.script_keys("SKU-1", "k1")
    assert all("{SKU-1}" in k for k in keys[:3]) and all(
        k.startswith("bench.ceiling.abc:") for k in keys
    )
    assert names.topics() == ["bench.ceiling.abc.commands", "bench.ceiling.abc.changed",
                              "bench.ceiling.abc.levels"]  # fmt: skip
    assert names.group == "bench.ceiling.abc"


def test_the_ceiling_sends_to_the_default_partitioners_partition() -> None:
    every = list(range(ceiling.PARTITIONS))
    for i in range(300):
        key = f"CE-{i:05d}".encode()
        assert ceiling.partition(key, ceiling.PARTITIONS) == DefaultPartitioner()(key, every, every)
