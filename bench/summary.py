"""The summary table of docs/benchmarks.md: every target of the architecture contract, the
latest full (non-smoke) figure measured for it, and whether it is met."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench.flash_doc import target_met
from bench.report import RESULTS, table

Row = tuple[str, str, str, str]  # figure, target, measured, verdict
# the scenarios that check for lost or double-applied events and commands
LOSS = ("flash_sale", "knee", "dlq_recovery", "rebuild")


def latest(scenario: str, results: Path = RESULTS) -> dict[str, Any] | None:
    """The newest full run of ``scenario`` (smoke runs are never summarised)."""
    for path in sorted(results.glob(f"{scenario}-2*.json"), reverse=True):
        data: dict[str, Any] = orjson.loads(path.read_bytes())
        if not (data.get("run") or {}).get("smoke") and not data.get("smoke"):
            return data
    return None


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def commands(knee: dict[str, Any]) -> Row:
    k = knee["knee_per_s"]
    reached = any(s["unbounded"] for s in knee.get("steps", [{"unbounded": True}]))
    text = (
        f"{k:,.0f}/s (knee)"
        if reached
        else (f"> {k:,.0f}/s applied: knee not reached, the load generator was the limit")
    )
    return ("inventory commands applied", ">= 12,000/s sustained", text,
            verdict(k >= 12_000))  # fmt: skip


def ack(wa: dict[str, Any]) -> Row:
    phase = max(wa["phases"], key=lambda p: p["rate"])
    m = phase["measured"]
    p99, got = m["latency_ms"]["p99"], m["achieved_per_s"]
    ok = phase["rate"] >= 2000 and got >= 1900 and p99 < 50
    return ("webhook ack latency", "p99 < 50 ms at 2,000/s",
            f"p99 {p99:,.1f} ms at {phase['rate']:,.0f}/s offered ({got:,.0f}/s achieved)",
            verdict(ok))  # fmt: skip


def sync(fs: dict[str, Any]) -> Row:
    lat, rate = fs["stocksync"]["sync_latency_ms"]["all"], fs["options"]["rate"]
    ok = rate >= 1000 and lat["p50"] < 30 and lat["p99"] < 60
    return ("sync latency, webhook to mutation", "p50 < 30 ms, p99 < 60 ms at 1,000 orders/s",
            f"p50 {lat['p50']:,.1f} ms, p99 {lat['p99']:,.1f} ms at {rate:g} orders/s",
            verdict(ok))  # fmt: skip


FLASH = "flash sale across 3 stores, default settings, uneven demand"
FLASH_TARGET = "0 units beyond stock and sell-through >= 95%"


def flash(fs: dict[str, Any]) -> Row:
    def figures(side: dict[str, Any]) -> str:
        sell = (side.get("sell_through") or {}).get("sell_through")
        through = f"sell-through {sell:.1%}" if sell is not None else "sell-through not measured"
        return f"{side['oversell']['units_beyond_stock']} units beyond stock, {through}"

    ours, naive = fs["stocksync"], fs["naive"]
    ratio = (ours.get("demand") or {}).get("ratio")
    asked = f" ({ratio}x the hot stock asked)" if ratio is not None else ""
    return (FLASH, FLASH_TARGET, f"{figures(ours)}{asked} (naive sync: {figures(naive)})",
            verdict(target_met(ours)))  # fmt: skip


def lost(data: dict[str, dict[str, Any] | None]) -> Row:
    checks = {k: v.get("failures", []) for k, v in data.items() if v is not None and k in LOSS}
    bad = {k: f for k, f in checks.items() if f}
    seen = ", ".join(sorted(checks)) or "no run"
    return ("lost or double-applied events under faults", "0",
            "; ".join(f"{k}: {f}" for k, f in bad.items())
            or f"0 ({seen}); every injected fault: [reliability.md](reliability.md)",
            verdict(bool(checks) and not bad))  # fmt: skip


def dlq(dr: dict[str, Any]) -> Row:
    s = dr["recovery_s"]
    return ("DLQ recovery after a dependency heals", "< 10 s, automatic",
            f"{s:,.1f} s after a {dr['options']['outage_s']:g} s outage",
            verdict(s < 10 and not dr["failures"]))  # fmt: skip


def full_sync(fs: dict[str, Any]) -> Row:
    throttled = sum(v["throttled"] for v in fs["full_sync"].values())
    throttled += sum(v["throttled"] for v in fs["at_the_limit"].values())
    bound = [v for v in fs["at_the_limit"].values() if v["bucket_at_end"] < 50]
    share = min((v["share_of_restore_rate"] for v in bound), default=0.0)
    return ("THROTTLED in a 10,000-SKU full sync", "0, at >= 90% of the restore rate",
            f"{throttled} THROTTLED; budget-bound lanes at {share:.0%} of restore",
            verdict(throttled == 0 and share >= 0.9))  # fmt: skip


def rebuild(rb: dict[str, Any]) -> Row:
    s, n = rb["report"]["seconds"], rb["report"]["skus"]
    return ("rebuild of Redis truth from Kafka", "< 10 s for 100,000 SKUs",
            f"{s:.2f} s for {n:,} SKUs", verdict(s < 10 and n >= 100_000))  # fmt: skip


ROWS: list[tuple[str, str, str, Callable[[dict[str, Any]], Row]]] = [
    ("knee", "inventory commands applied", ">= 12,000/s sustained", commands),
    ("webhook_ack", "webhook ack latency", "p99 < 50 ms at 2,000/s", ack),
    ("flash_sale", "sync latency, webhook to mutation",
     "p50 < 30 ms, p99 < 60 ms at 1,000 orders/s", sync),
    ("flash_sale", FLASH, FLASH_TARGET, flash),
    ("dlq_recovery", "DLQ recovery after a dependency heals", "< 10 s, automatic", dlq),
    ("full_sync", "THROTTLED in a 10,000-SKU full sync", "0, at >= 90% of the restore rate",
     full_sync),
    ("rebuild", "rebuild of Redis truth from Kafka", "< 10 s for 100,000 SKUs", rebuild),
]  # fmt: skip


def render(results: Path = RESULTS) -> str:
    runs = {name: latest(name, results) for name in {r[0] for r in ROWS} | set(LOSS)}
    rows: list[list[str]] = []
    for scenario, figure, contract, row in ROWS:
        data = runs[scenario]
        missing = [figure, contract, "not measured yet", "**not met**"]
        rows.append(list(row(data)) if data else missing)
        if figure == FLASH:
            rows.append(list(lost(runs)))
    gaps = [r[0] for r in rows if "not met" in r[3]]
    return "\n".join([
        "Every target of the architecture contract with the latest full run of its scenario "
        "(`bench/results/`). The machine, its load average at the start and the exact "
        "command of each run are in its section.",
        "",
        table(["target", "contract", "measured", "verdict"], rows),
        "",
        "Gaps: " + ("; ".join(gaps) + "." if gaps else "none."),
        "",
        "Speed figures depend on the machine (2 cores here, every process of the system, the "
        "simulators and the load generator on it); correctness figures (oversell, lost "
        "events, THROTTLED) do not. Where the time goes at the knee and what would move it: "
        "[profiling.md](profiling.md).",
    ])  # fmt: skip
