"""The flash-sale section of docs/benchmarks.md: StockSync and the naive sync side by side."""

from __future__ import annotations

from typing import Any

from bench.hops import HOPS
from bench.report import machine_line, table

SELL_THROUGH_TARGET = 0.95


def target_met(s: dict[str, Any]) -> bool:
    """The contract's flash-sale target for one side: 0 units beyond stock and sell-through
    of at least 95% (a run without a sell-through figure has not shown it)."""
    sell = (s.get("sell_through") or {}).get("sell_through")
    over = s["oversell"]["units_beyond_stock"]
    return over == 0 and sell is not None and sell >= SELL_THROUGH_TARGET


def pct(value: float) -> str:
    return f"{value:.1%}"


def refused_elsewhere(side: dict[str, Any]) -> str:
    """``n/a`` for what other stores showed when one simulator process per store served the
    sales (none of them sees the other stores)."""
    r = side["refusals"]
    shown = "n/a" if r["while_stock_elsewhere"] is None else r["while_stock_elsewhere"]
    return f"{shown} / {r['while_units_unsold']} of {r['refused']}"


def simulators(o: dict[str, Any]) -> str:
    """How the Shopify simulator ran (one process for every store before ``--sims``)."""
    if o.get("sims", 1) > 1:
        return ("The Shopify simulator, one process per store (each serving its store's "
                "sales, webhooks and Admin API, for both sides),")  # fmt: skip
    return "The Shopify simulator, one process for the three stores,"


def demand_text(d: dict[str, Any]) -> str:
    return (f"{d['hot_units_asked']:,} / {d['hot_units_in_stock']:,} = {d['ratio']}x "
            f"(each hot SKU >= {d['min_ratio_per_sku']}x)")  # fmt: skip


def ratio(ours: float, naive: float, *, lower_is_better: bool = False) -> str:
    """How many times better StockSync is (``n/a`` when a side is zero)."""
    if not ours or not naive:
        return "n/a"
    value = naive / ours if lower_is_better else ours / naive
    return f"{value:.2f}x"


def fmt(value: float, unit: str = "") -> str:
    return f"{value:,.1f}{unit}" if isinstance(value, float) else f"{value:,}{unit}"


def rows(s: dict[str, Any], n: dict[str, Any]) -> list[list[str]]:
    sl, nl = s["sync_latency_ms"]["all"], n["sync_latency_ms"]["all"]
    sa, na = s["webhooks"]["latency_ms"], n["webhooks"]["latency_ms"]
    out = [
        ["orders offered / sold / refused", "",
         f"{s['driven']['offered']} / {s['driven']['sold']} / {s['driven']['refused']}",
         f"{n['driven']['offered']} / {n['driven']['sold']} / {n['driven']['refused']}", ""],
        ["webhooks accepted/s", "", fmt(s["webhooks"]["accepted_per_s"]),
         fmt(n["webhooks"]["accepted_per_s"]),
         ratio(s["webhooks"]["accepted_per_s"], n["webhooks"]["accepted_per_s"])],
        ["inventory commands applied/s", ">= 12,000 (see knee)",
         f"{s['commands']['per_s']:,.0f} "
         f"({s['commands']['total']:,.0f} in {s['commands']['seconds']} s)",
         "n/a (no commands)", ""],
        ["webhook ack p50 / p99", "p99 < 50 ms", f"{sa['p50']} / {sa['p99']} ms",
         f"{na['p50']} / {na['p99']} ms", ratio(sa["p99"], na["p99"], lower_is_better=True)],
        ["sync latency p50 / p99 / max", "p50 < 30 ms, p99 < 60 ms",
         f"{sl['p50']} / {sl['p99']} / {sl['max']} ms",
         f"{nl['p50']} / {nl['p99']} / {nl['max']} ms",
         ratio(sl["p99"], nl["p99"], lower_is_better=True)],
        ["units sold beyond stock", "0", f"**{s['oversell']['units_beyond_stock']}**",
         f"{n['oversell']['units_beyond_stock']} ({n['oversell']['skus_oversold']} SKUs)", ""],
        ["hot units sold / in stock", "",
         f"{s['oversell']['hot_units_sold']} / {s['oversell']['hot_units_in_stock']}",
         f"{n['oversell']['hot_units_sold']} / {n['oversell']['hot_units_in_stock']}", ""],
        ["hot units asked / in stock (demand over stock)", "> 1x", demand_text(s["demand"]),
         demand_text(n["demand"]), ""],
        ["sell-through over hot SKUs (sold within stock / stock)", ">= 95%",
         f"**{pct(s['sell_through']['sell_through'])}** "
         f"({s['sell_through']['hot_units_sold_within_stock']} units)",
         f"{pct(n['sell_through']['sell_through'])} "
         f"({n['sell_through']['hot_units_sold_within_stock']} units)", ""],
        ["sales refused while stock existed elsewhere: other stores showed units / units "
         "still unsold, of all refused", "", refused_elsewhere(s), refused_elsewhere(n), ""],
        ["share moves (`stocksync_share_moves_total`)", "", f"{s['share_moves']:,.0f}",
         "n/a", ""],
        ["errors: webhooks failed / retried, load errors, writes rejected", "0",
         f"{s['webhooks']['failed']} / {s['webhooks']['retried']}, {s['driven']['errors']}, "
         f"{s['writes']['rejected']} of {s['writes']['total']}",
         f"{n['webhooks']['failed']} / {n['webhooks']['retried']}, {n['driven']['errors']}, "
         f"{n['writes']['rejected']} of {n['writes']['total']}", ""],
    ]  # fmt: skip
    return out


def per_store(
    s: dict[str, Any], n: dict[str, Any], stores: dict[str, Any] | None = None
) -> list[list[str]]:
    out = []
    for shop, v in s["sync_latency_ms"]["per_store"].items():
        w = n["sync_latency_ms"]["per_store"].get(shop, {"p50": 0, "p99": 0, "max": 0, "n": 0})
        limit = (stores or {}).get(shop)
        name = f"{shop} ({limit['plan']}, {limit['writes_per_s']:g} writes/s)" if limit else shop
        out.append([name, f"{v['n']}", f"{v['p50']} / {v['p99']} / {v['max']} ms",
                    f"{w['p50']} / {w['p99']} / {w['max']} ms"])  # fmt: skip
    return out


def lat(v: dict[str, Any] | None) -> str:
    return f"{v['p50']} / {v['p99']} / {v['max']} ms (n {v['n']})" if v and v.get("n") else "-"


def pick(side: dict[str, Any], shop: str) -> dict[str, Any] | None:
    """A side's sync latency over every store (``all``) or at one store."""
    lat_ms: dict[str, Any] = side["sync_latency_ms"]
    found: dict[str, Any] | None = lat_ms["all"] if shop == "all" else lat_ms["per_store"].get(shop)
    return found


def series_rows(runs: list[dict[str, Any]]) -> list[list[str]]:
    """Per series (idle single sales, then each rate): sync latency per store, both sides."""
    out = []
    for r in runs:
        s, n = r["stocksync"], r["naive"]
        for shop in sorted(set(s["sync_latency_ms"]["per_store"]) | {"all"}):
            over = f"{s['oversell']['units_beyond_stock']} / {n['oversell']['units_beyond_stock']}"
            both = [lat(pick(s, shop)), lat(pick(n, shop))]
            out.append([r["label"], f"{r['orders']:,}", shop, *both, over])
    return out


def matched_rows(runs: list[dict[str, Any]]) -> list[list[str]]:
    """Per series and store: both sides over the updates both delivered (``load.matched``)."""
    out = []
    for r in runs:
        m = r.get("matched")
        if not m:
            continue
        of = f"{m['n']} (of {m['of']['stocksync']} / {m['of']['naive']})"
        out.append([r["label"], "all", of, lat(m["stocksync"]), lat(m["naive"])])
        for shop, v in m["per_store"].items():
            n = f"{v['stocksync']['n']}"
            out.append([r["label"], shop, n, lat(v["stocksync"]), lat(v["naive"])])
    return out


def hop_rows(runs: list[dict[str, Any]]) -> list[list[str]]:
    out = []
    for r in runs:
        h = r["stocksync"].get("hops") or {}
        if h.get("error"):
            out.append([r["label"], f"not read: {h['error']}", "", ""])
            continue
        for name, label in HOPS:
            v = (h.get("hops") or {}).get(name)
            out.append([r["label"], label, lat(v), f"{h.get('unfollowed', 0)}"])
    return out


def cpu_rows(runs: list[dict[str, Any]]) -> list[list[str]]:
    """Per loaded series and side: the machine's busy share and the busiest processes."""
    out = []
    for r in runs:
        for side in ("stocksync", "naive"):
            cpu = r[side].get("cpu")
            if not cpu or r["label"] == "idle":
                continue
            top = ", ".join(f"{n} {c:.2f}" for n, c in list(cpu["cores"].items())[:8] if c)
            busy = f"{cpu['machine_busy']:.0%} of {cpu['cpus']} cores"
            out.append([r["label"], side, busy, top])
    return out


def matched_text(runs: list[dict[str, Any]]) -> list[str]:
    rows = matched_rows(runs)
    if not rows:
        return []
    return [
        "",
        "The same comparison over the updates both sides delivered (the same store and cold "
        "SKU in both runs): the naive sync has no retry path, so a store that throttles it "
        "never gets the rest, and its figures above are over the updates it got through. "
        "Updates: both delivered (of StockSync's / the naive sync's).",
        "",
        table(
            ["series", "store", "updates", "StockSync p50 / p99 / max", "naive p50 / p99 / max"],
            rows,
        ),
    ]


def series_text(data: dict[str, Any]) -> list[str]:
    runs = data.get("runs") or []
    if not runs:
        return []
    return [
        "",
        "Every series of this run, on the same seeded orders for both sides (idle: single "
        "sales of cold SKUs one every 300 ms on an otherwise idle system, before the loaded "
        "runs). Sync latency = sale to accepted `inventorySetQuantities` at each other store.",
        "",
        table(
            [
                "series",
                "orders",
                "store",
                "StockSync p50 / p99 / max",
                "naive p50 / p99 / max",
                "units beyond stock (StockSync / naive)",
            ],
            series_rows(runs),
        ),  # fmt: skip
        *matched_text(runs),
        "",
        "Where StockSync's sync latency goes, per hop, from the `CreateTime` of the record each "
        "hop produced and the simulator's time of the accepted write (cold sales followed end "
        "to end; `bench/hops.py`). The naive monolith has no hops: one synchronous request "
        "does the whole sync, so it has no breakdown.",
        "",
        table(["series", "hop", "p50 / p99 / max", "not followed"], hop_rows(runs)),
        "",
        "CPU while each loaded series ran (the sales and their settling, not the catalog "
        "import before; /proc jiffies): the "
        "machine's busy share and the busiest process groups in cores (1.00 = one core). "
        "Everything shares the same cores: the load generator, the simulators, Kafka, Redis "
        "and the services.",
        "",
        table(["series", "side", "machine busy", "busiest (cores)"], cpu_rows(runs)),
    ]


def render(data: dict[str, Any], results: str) -> str:
    o, s, n = data["options"], data["stocksync"], data["naive"]
    head = ["figure", "target", "StockSync", "naive sync", "ratio (StockSync better by)"]
    verdict = "met" if target_met(s) else "**not met**"
    demand = " / ".join(f"{w:.0%}" for w in o["demand"])
    return "\n".join([
        f"{o['skus']:,} SKUs in three stores (parent, child-eu, child-us) sharing stock: "
        f"{o['hot']} hot SKUs with {o['hot_stock']} units, the rest with {o['cold_stock']}. "
        f"{int(o['rate'] * o['duration']):,} one-unit orders at {o['rate']:g}/s through the "
        "simulator's storefront "
        f"({o['hot_share']:.0%} on hot SKUs, every hot SKU asked for the same number of units "
        "in a shuffled order, the rest each on a cold SKU of its own; "
        f"uneven demand: {demand} of the orders at parent, child-eu and child-us; "
        "a store refuses a sale when its own count is zero). The same seeded orders run twice, "
        "fresh simulator state each: StockSync (six services as processes, default "
        "settings: nothing configured per SKU) and the naive monolith "
        "(`bench/naive_monolith.py`: Redis GET/compute/SET and a synchronous Admin API call "
        f"per store inside the webhook request). {simulators(o)} skips schema validation "
        "and retries a webhook for up to 60 s.",
        "",
        table(head, rows(s, n)),
        "",
        "Target (flash sale across 3 stores, default settings, uneven demand: 0 units beyond "
        f"stock and sell-through >= 95%): {verdict} for StockSync "
        f"({s['oversell']['units_beyond_stock']} units beyond stock, sell-through "
        f"{pct(s['sell_through']['sell_through'])}); the naive sync: "
        f"{n['oversell']['units_beyond_stock']} units beyond stock, sell-through "
        f"{pct(n['sell_through']['sell_through'])}. Sell-through counts the hot units sold "
        "within stock (units beyond stock never count) over the hot stock. A refusal "
        "\"while stock existed elsewhere\" is a sale a store turned away while the other "
        "stores still showed units of that SKU (the simulator's record at that moment; n/a "
        "with one process per store, where no process sees the other stores), or "
        "while units of it were still unsold overall (from the sales book); share moves are "
        "units StockSync moved from one store's share to another's during the sale. "
        "StockSync's rejected writes are, by design, compare-and-set conflicts (a store sold "
        "between the read and the write), refreshed and retried. Sync latency is "
        "measured on the cold SKUs (sold once each): from the sale at one store to the "
        "accepted `inventorySetQuantities` for that SKU at each other store (simulator "
        "records, millisecond precision). Ack latency is the simulator's delivery attempt "
        "that got the 2xx. Commands applied/s is the adjuster's `applied` counter over the "
        "time it moved; at this offered rate it is bounded by the load, not a ceiling.",
        "",
        table(["store (plan, writes/s its API limit pays for)", "cold sales synced",
               "StockSync p50 / p99 / max", "naive p50 / p99 / max"],
              per_store(s, n, data.get("stores"))),  # fmt: skip
        *series_text(data),
        "",
        f"StockSync truth afterwards: {s['truth']['hot_reserved']} hot units reserved, lowest "
        f"available {s['truth']['lowest_available']}, {s['truth_rejections']:.0f} reservations "
        f"refused by truth; initial sync of the catalog to three stores took "
        f"{s['initial_sync_s']} s.",
        "",
        f"- Machine: {machine_line(data['machine'])}",
        f"- Date: {data['date'][:16].replace('T', ' ')} UTC",
        f"- Command: `{data['command']}`",
        f"- Raw results: `{results}`",
    ])  # fmt: skip
