"""What each page shows, built from the services' answers (pure functions, no I/O)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from ops_console.formatting import href, number, when
from ops_console.templating import macro, render
from stocksync_common.inventory_view import InventoryView

LEDGER_ROWS = 100
MAX_LISTED = 500
MAX_RULES = 200


def brief(value: object, limit: int = 300) -> str:
    """A compact text form of any JSON value, cut at ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def listing(items: object, limit: int = MAX_LISTED) -> str:
    """A problem's items in words: "none", SKUs one after the other (the first ``limit``),
    duplicates as each SKU with its variants' ids; any other shape as compact JSON."""
    if not items:
        return "none"
    if isinstance(items, dict):
        items = [f"{sku} (variants {', '.join(_ids(v))})" for sku, v in items.items()]
    if isinstance(items, list) and all(isinstance(i, str) for i in items):
        more = f" … and {len(items) - limit} more" if len(items) > limit else ""
        return ", ".join(items[:limit]) + more
    return brief(items, 2000)


def _ids(gids: object) -> list[str]:
    """``gid://shopify/ProductVariant/11`` as ``11``: the number Shopify's admin shows."""
    values = gids if isinstance(gids, list) else [gids]
    return [str(g).rsplit("/", 1)[-1] for g in values]


def matching(items: object, sku: str) -> object:
    """The SKUs of a problem containing ``sku`` (a list, or a mapping keyed by SKU); other
    shapes of items are kept whole."""
    if isinstance(items, dict):
        return {k: v for k, v in items.items() if sku in str(k)}
    if isinstance(items, list) and all(isinstance(i, str) for i in items):
        return [i for i in items if sku in i]
    return items


def stores_view(doc: Mapping[str, Any]) -> Markup:
    rows = []
    for s in doc.get("stores", []):
        bucket = s.get("bucket") or {}
        last = s.get("last_round") or {}
        last_text = ", ".join(f"{k} {v}" for k, v in last.items() if v) or "-"
        if s.get("last_round_at"):
            last_text = f"{last_text} ({when(s.get('last_round_at'))})"
        rows.append(
            [
                s.get("shop"), s.get("role"), macro("state")(s.get("circuit")),
                f"{number(bucket.get('available'))} / {number(bucket.get('maximum'))}",
                number(bucket.get("restore_rate")), s.get("pending"),
                number(s.get("quantities_pushed")), number(s.get("pushes")),
                number(s.get("throttled")),
                when(s.get("last_push_at")) or "not tracked", last_text, s.get("failures"),
            ]
        )  # fmt: skip
    headers = ["store", "role", "circuit", "bucket (available / max)", "restore rate/s",
               "pending changes", "quantities pushed", "push calls", "throttled",
               "last push", "last round", "failures in a row"]  # fmt: skip
    return render(
        "stores_status.html", group=doc.get("consumer_group"),
        lag=number(doc.get("consumer_lag")), headers=headers, rows=rows,
    )  # fmt: skip


def stock_view(inv: InventoryView) -> Markup:
    """A SKU's truth: the summary, levels per location and the allocation."""
    return render(
        "stock.html",
        summary=[inv.sku, inv.version, inv.available, inv.policy, number(inv.allocation_threshold)],
        locations=[
            [loc, q.on_hand, q.reserved, q.safety_stock, q.available]
            for loc, q in inv.locations.items()
        ],
        shares=sorted((inv.shares or {}).items()),
    )


def stores_stock_view(inv: InventoryView, doc: Mapping[str, Any]) -> Markup:
    """Each store's count of the SKU (shopify-sync ``GET /status/stock/{sku}``: what it
    showed when last written or read) beside what truth allows it; drift highlighted."""
    rows: list[list[object]] = []
    marks: list[str] = []
    for s in doc.get("stores") or []:
        for location, seen in sorted((s.get("locations") or {}).items()):
            allowed, shows = inv.allowed(str(s.get("shop")), location), seen.get("shows")
            drift = isinstance(shows, int) and allowed is not None and shows != allowed
            if not s.get("mapped"):
                shown, difference = "not listed", "-"
            elif not isinstance(shows, int):
                shown, difference = "not seen yet", "-"
            else:
                shown = str(shows)
                difference = "-" if allowed is None else _signed(shows - allowed)
            pending = seen.get("pending") or {}
            rows.append(
                [s.get("shop"), s.get("role"), location, number(allowed), shown, difference,
                 f"{pending['quantity']} (truth version {pending.get('version')})"
                 if "quantity" in pending else "-"]
            )  # fmt: skip
            marks.append("drift" if drift else "")
    headers = ["store", "role", "location", "truth allows", "store shows (last seen)",
               "difference", "waiting to be pushed"]  # fmt: skip
    return render("stores_stock.html", headers=headers, rows=rows, marks=marks)


def _signed(n: int) -> str:
    return f"+{n}" if n > 0 else str(n)


def ledger_view(sku: str, ledger: Mapping[str, Any], before: str = "") -> Markup:
    """One page of the ledger API's answer, newest first, each entry with the time it was
    applied; links to the older page (the answer's ``next``) and back to the newest."""
    newest = list(reversed(ledger.get("entries") or []))[:LEDGER_ROWS]
    cols: list[str] = []
    for entry in newest:
        cols += [k for k in entry if k not in cols]
    rows = [[applied_at(e.get("id")), *(e.get(c, "") for c in cols)] for e in newest]
    pages = [("Newest entries", href("/stock", sku=sku))] if before else []
    if ledger.get("next"):
        pages.append(("Older entries", href("/stock", sku=sku, before=ledger["next"])))
    return render(
        "ledger.html",
        title="newest first" if not before else f"before entry {before}, newest first",
        per_page=LEDGER_ROWS, headers=["time (UTC)", *(cols or ["id"])], rows=rows, pages=pages,
    )  # fmt: skip


def applied_at(entry_id: object) -> str:
    """When the adjuster applied a ledger entry: its id is the Redis stream id
    ``<milliseconds since the epoch>-<sequence>`` given by the Redis clock at the write."""
    millis = str(entry_id or "").split("-", 1)[0]
    return when(int(millis)) if millis.isdigit() else "-"


def mapping_view(doc: Mapping[str, Any], sku: str = "") -> Markup:
    """Problems per store; with ``sku``, only the SKUs containing it (a store's list of
    missing SKUs can run to thousands)."""
    stores = []
    for shop, info in doc.items():
        problems = (info or {}).get("problems") or {}
        if sku:
            problems = {kind: matching(items, sku) for kind, items in problems.items()}
        rows = [[kind, len(items) if hasattr(items, "__len__") else items, listing(items)]
                for kind, items in sorted(problems.items())]  # fmt: skip
        stores.append({"shop": shop, "rows": rows, **_mapped(info or {})})
    return render("mapping.html", sku=sku, stores=stores)


def _mapped(info: Mapping[str, Any]) -> dict[str, str]:
    """The SKUs mapped now (lookups and webhooks add to the mapping between full reads),
    then what the last full read of the catalog found."""
    discovery = info.get("discovery") or {}
    last = (
        f"{when(discovery.get('at'))}, found {number(discovery.get('skus'))} SKUs by "
        f"{discovery.get('method', '-')} read"
        if discovery
        else "none yet"
    )
    return {"mapped": number(info.get("mapped")), "last": last}


def alerts_view(alerts: Sequence[Mapping[str, Any]]) -> Markup:
    """The newest alerts and their delivery per channel."""
    rows = []
    for doc in alerts:
        a = doc.get("alert") or {}
        delivery = ", ".join(f"{k}: {v}" for k, v in (doc.get("delivery") or {}).items())
        rows.append(
            [a.get("occurred_at"), a.get("kind"), a.get("sku"), a.get("store"),
             a.get("location"), a.get("available_before"), a.get("available"), delivery or "-"]
        )  # fmt: skip
    return render("alerts.html", rows=rows)


def rules_view(doc: Mapping[str, Any]) -> Markup:
    """The notifier's rules in effect (``GET /rules``): the default and each SKU's own, every
    switch and threshold as it applies, and where each kind of alert goes."""
    effect = doc.get("in_effect") or {}
    by_sku = sorted((effect.get("by_sku") or {}).items())
    rows = [_rule_row("every SKU without a rule of its own", effect.get("default") or {})]
    rows += [_rule_row(sku, rule) for sku, rule in by_sku[:MAX_RULES]]
    headers = ["applies to", "out of stock", "back in stock", "low stock", "oversell",
               "unmapped line", "re-reserved", "reorder", "velocity", "quiet period",
               "channels"]  # fmt: skip
    more = max(0, len(by_sku) - MAX_RULES)
    channels = doc.get("channels") or []
    return render("rules.html", headers=headers, rows=rows, more=more, channels=channels)


def _rule_row(applies_to: str, r: Mapping[str, Any]) -> list[object]:
    def on(flag: object) -> str:
        return "on" if flag else "off"

    def above(value: object, text: str) -> str:
        return "off" if value is None else text.format(value)

    reorder = above(r.get("reorder_point"), "at or below {}, order ") + (
        str(r.get("reorder_quantity")) if r.get("reorder_point") is not None else ""
    )
    return [
        applies_to, on(r.get("out_of_stock")), on(r.get("back_in_stock")),
        above(r.get("low_stock"), "at or below {}"), on(r.get("oversell")),
        on(r.get("unmapped_line")), on(r.get("rereserved")), reorder,
        above(r.get("velocity_per_minute"), "over {} a minute"),
        f"{number(r.get('quiet_period_s'))} s", routes(r.get("channels") or {}),
    ]  # fmt: skip


def routes(channels: Mapping[str, Sequence[str]]) -> str:
    """Where each kind goes, the usual route once: ``low_stock: email; others: slack``."""
    named = {kind: ", ".join(chs) or "none" for kind, chs in channels.items()}
    if not named:
        return "-"
    values = list(named.values())
    usual = max(dict.fromkeys(values), key=values.count)  # the first of the most common
    odd = [f"{kind}: {route}" for kind, route in named.items() if route != usual]
    return "; ".join([*odd, f"{'others' if odd else 'all'}: {usual}"])


def jobs_view(jobs: Sequence[Mapping[str, Any]]) -> Markup:
    rows = []
    for j in jobs:
        result = j.get("result") or {}
        stores = result.get("stores") or {}
        per_store = "; ".join(
            f"{shop}: {r.get('mismatched')}/{r.get('compared')} drifted"
            for shop, r in stores.items()
        )
        rows.append(
            [j.get("job_id"), j.get("status"), when(j.get("created_at")),
             when(j.get("finished_at")),
             result.get("compared", "-"), result.get("mismatched", "-"),
             result.get("mismatch_rate", "-"), per_store or j.get("error") or "-"]
        )  # fmt: skip
    return render("jobs.html", rows=rows)


def parked_view(doc: Mapping[str, Any]) -> Markup:
    """webhook-receiver ``GET /admin/parked``: deliveries of Shopify topics StockSync does
    not handle, kept on ``webhooks.parked.v1`` and never acted on, counted per topic, and
    the newest ones."""
    counts: Mapping[str, int] = doc.get("counts") or {}
    recent = [
        [when(n.get("at")), n.get("shop"), n.get("shopify_topic"), n.get("webhook_id"),
         number(n.get("record_bytes"))]
        for n in doc.get("recent") or []
    ]  # fmt: skip
    return render(
        "parked.html", total=sum(counts.values()), topic=doc.get("topic"),
        counts=sorted(counts.items()), recent=recent,
    )  # fmt: skip


def connect_view(doc: Mapping[str, Any]) -> Markup:
    """shopify-sync's answer to ``POST /stores/connect``: per store its outcome, the webhook
    subscriptions changed, and the mapping to add to the stores file when it lacks one."""
    rows, snippets = [], []
    for s in doc.get("stores", []):
        subs = s.get("subscriptions") or {}
        rows.append(
            [s.get("shop"), s.get("status"), s.get("error") or "-",
             ", ".join(f"{k} = {v}" for k, v in (s.get("mapping") or {}).items()) or "-",
             *(len(subs.get(k) or []) for k in ("created", "updated", "removed", "kept"))]
        )  # fmt: skip
        if s.get("stores_file_snippet"):
            snippets.append(s["stores_file_snippet"])
    return render("connect.html", job=doc.get("job_id"), rows=rows, snippets=snippets)
