"""One order, one trace: the spans of every hop, exported by each process, share a trace id.

The stack runs with ``STOCKSYNC_OTEL_EXPORTER=jsonl:<dir>`` (each process appends its spans
to its own JSON-lines file). A signed order webhook then goes through webhook-receiver,
order-consumer, inventory-adjuster and shopify-sync, whose Shopify mutation span must sit at
the end of one parent chain back to the webhook's span. Every log line written while handling
an order carries its correlation id (an order that logs: one line oversold, one unmapped).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from stack import DEMO_ENV, Stack
from support.allocation import shows_stock
from support.poll import wait_for

pytestmark = pytest.mark.e2e

EU, US = "child-eu.myshopify.com", "child-us.myshopify.com"
PARENT = "parent-store.myshopify.com"
GIDS = {
    PARENT: "gid://shopify/Location/1001",
    EU: "gid://shopify/Location/2001",
    US: "gid://shopify/Location/3001",
}
EU_SECRET = b"demo-child-eu-secret"
ADMIN = {"Authorization": f"Bearer {DEMO_ENV['STOCKSYNC_ADMIN_TOKEN']}"}
HOPS = ("webhook-receiver", "order-consumer", "inventory-adjuster", "shopify-sync")
SERVICES = (*HOPS, "wms-connector", "notifier")
PROCESSES = ("shopify-sim", "wms-sim", "sink", *SERVICES)
Span = dict[str, Any]


@pytest.fixture
def traced(stack: Stack, spans_dir: Path) -> tuple[Stack, Path]:
    """The shared e2e stack, whose processes export their spans to ``spans_dir``."""
    return stack, spans_dir


def spans(spans_dir: Path) -> list[Span]:
    out: list[Span] = []
    for path in sorted(spans_dir.glob("*.jsonl")):
        out.extend(json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return out


def store_level(http: httpx.Client, stack: Stack, shop: str, sku: str) -> int | None:
    inv = http.get(f"{stack.url('shopify-sim')}/_sim/stores/{shop}/inventory").json()
    level = (inv.get(sku) or {}).get(GIDS[shop])
    return None if level is None else int(level)


def shows(http: httpx.Client, stack: Stack, shop: str, sku: str, n: int) -> bool:
    return store_level(http, stack, shop, sku) == n


def seed(http: httpx.Client, stack: Stack, sku: str, n: int) -> None:
    for shop, gid in GIDS.items():
        body = [{"sku": sku, "quantities": {gid: 0}}]
        http.post(
            f"{stack.url('shopify-sim')}/_sim/stores/{shop}/products", json=body
        ).raise_for_status()
    r = http.post(
        f"{stack.url('inventory-adjuster')}/inventory/import",
        content=f"sku,location,on_hand\n{sku},wh-1,{n}\n",
        headers={**ADMIN, "Content-Type": "text/csv"},
    )
    assert r.status_code == 202, r.text
    wait_for(
        f"stores show {sku}={n}",
        lambda: shows_stock((store_level(http, stack, shop, sku) for shop in GIDS), n),
        60,
    )


def post_order(http: httpx.Client, stack: Stack, lines: list[tuple[str | None, int]]) -> int:
    """Post a signed orders/create; line ``i`` has id ``order id + i + 1``."""
    oid = int(uuid.uuid4().int % 10**15)
    order = {
        "id": oid,
        "admin_graphql_api_id": f"gid://shopify/Order/{oid}",
        "name": "#2001",
        "line_items": [
            {"id": oid + i + 1, "sku": sku, "quantity": qty, "title": sku or "custom"}
            for i, (sku, qty) in enumerate(lines)
        ],
    }
    body = json.dumps(order).encode()
    signature = base64.b64encode(hmac.new(EU_SECRET, body, hashlib.sha256).digest()).decode()
    r = http.post(
        f"{stack.url('webhook-receiver')}/webhooks/shopify",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Shop-Domain": EU,
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
            "X-Shopify-API-Version": "2026-10",
        },
    )
    assert r.status_code == 200, r.text
    return oid


def order_trace(all_spans: list[Span], sku: str) -> list[Span]:
    """The spans of the trace in which inventory-adjuster reserved ``sku`` (the one order;
    the stack is shared with the other e2e tests, so the SKU picks it out)."""
    reserve = [
        s
        for s in all_spans
        if s["service"] == "inventory-adjuster"
        and s["name"] == "inventory-adjuster reserve"
        and s["attributes"].get("messaging.kafka.message.key") == sku
    ]
    assert len(reserve) == 1, f"expected one reserve span, got {reserve}"
    trace_id = reserve[0]["trace_id"]
    return [s for s in all_spans if s["trace_id"] == trace_id]


def chain_to_root(trace: list[Span], leaf: Span) -> list[Span]:
    by_id = {s["span_id"]: s for s in trace}
    chain = [leaf]
    while chain[-1]["parent_id"] is not None:
        parent = by_id.get(chain[-1]["parent_id"])
        assert parent is not None, f"{chain[-1]['name']} has a parent outside the trace"
        chain.append(parent)
    return chain


def trace_complete(spans_dir: Path, sku: str) -> list[Span] | None:
    """The order's trace once its mutation span's whole chain to the root is exported."""
    try:
        trace = order_trace(spans(spans_dir), sku)
    except AssertionError:
        return None
    by_id = {s["span_id"]: s for s in trace}
    for leaf in (s for s in trace if s["name"] == "shopify-sync inventorySetQuantities"):
        # every span of the chain exported: a parent ends (and is written) after its child,
        # so the mutation's span can be in the file before the webhook request's own span
        span: Span | None = leaf
        while span is not None and span["parent_id"] is not None:
            span = by_id.get(span["parent_id"])
        if span is not None:
            return trace
    return None


def test_one_order_is_one_trace_from_webhook_to_shopify_mutation(
    traced: tuple[Stack, Path],
) -> None:
    stack, spans_dir = traced
    sku = f"TRACE-{uuid.uuid4().hex[:8]}"
    with httpx.Client(timeout=10) as http:
        seed(http, stack, sku, 20)
        post_order(http, stack, [(sku, 2)])
        for shop in (PARENT, US):
            wait_for(f"{shop} shows {sku}=18", partial(shows, http, stack, shop, sku, 18), 60)
    trace = wait_for(
        "the order's trace, mutation to webhook", partial(trace_complete, spans_dir, sku)
    )
    assert trace is not None
    services = {s["service"] for s in trace}
    assert set(HOPS) <= services, services

    mutations = [s for s in trace if s["name"] == "shopify-sync inventorySetQuantities"]
    chain = chain_to_root(trace, mutations[0])
    hops_in_order = [s["service"] for s in reversed(chain)]
    assert hops_in_order[0] == "webhook-receiver", hops_in_order
    seen = list(dict.fromkeys(hops_in_order))
    assert seen == list(HOPS), f"parent chain goes {hops_in_order}"
    assert chain[0]["kind"] == "CLIENT"
    assert chain[-1]["parent_id"] is None and chain[-1]["service"] == "webhook-receiver"
    assert "publish webhooks.shopify.v1" in [s["name"] for s in chain]

    correlation_ids = {
        s["attributes"]["stocksync.correlation_id"]
        for s in trace
        if "stocksync.correlation_id" in s["attributes"]
    }
    assert len(correlation_ids) == 1, correlation_ids


def test_sync_latency_is_measured_per_store(traced: tuple[Stack, Path]) -> None:
    """The pushes of the order above were observed in ``stocksync_sync_latency_seconds``."""
    stack, _ = traced
    with httpx.Client(timeout=10) as http:
        text = http.get(f"{stack.url('shopify-sync')}/metrics").text
    counts = {
        shop: float(m.group(1))
        for shop in (PARENT, US)
        if (
            m := re.search(
                rf'^stocksync_sync_latency_seconds_count{{shop="{shop}"}} (\S+)$', text, re.M
            )
        )
    }
    assert set(counts) == {PARENT, US} and min(counts.values()) >= 1, counts


def test_dlq_depth_is_sampled_for_each_groups_own_dlq(traced: tuple[Stack, Path]) -> None:
    """Every consuming service reports the depth of its groups' DLQ topics (other e2e tests
    may have dead-lettered records already, so any count will do)."""
    stack, _ = traced
    expected = {
        "inventory-adjuster": (
            "inventory.commands.v1.dlq.inventory-adjuster",
            "inventory-adjuster",
        ),
        "shopify-sync": ("inventory.changed.v1.dlq.shopify-sync", "shopify-sync"),
        "order-consumer": ("webhooks.shopify.v1.dlq.order-consumer", "order-consumer"),
    }
    with httpx.Client(timeout=10) as http:
        for name, (topic, group) in expected.items():
            line = f'stocksync_dlq_depth_records{{group="{group}",topic="{topic}"}} '
            wait_for(f"{name} samples {topic}", partial(exposes, http, stack.url(name), line))


def exposes(http: httpx.Client, url: str, line: str) -> bool:
    """Is there a sample starting with ``line`` and followed by a number?"""
    pattern = "^" + re.escape(line) + r"[0-9.e+]+$"
    return re.search(pattern, http.get(f"{url}/metrics").text, re.M) is not None


def test_every_log_line_of_an_order_carries_its_correlation_id(
    traced: tuple[Stack, Path],
) -> None:
    """An order that oversells one line and has an unmapped one: the hops log about it."""
    stack, _ = traced
    sku = f"TRACE-{uuid.uuid4().hex[:8]}"
    with httpx.Client(timeout=10) as http:
        seed(http, stack, sku, 1)
        oid = post_order(http, stack, [(sku, 5), (None, 1)])
    markers = (sku, str(oid + 2))
    lines = wait_for(
        "warnings about the order from order-consumer and inventory-adjuster",
        partial(flow_lines, stack, markers),
    )
    ids = {line.get("correlation_id") for line in lines}
    assert None not in ids, [line for line in lines if line.get("correlation_id") is None]
    assert len(ids) == 1, f"one order, one correlation id: {ids}"


def flow_lines(stack: Stack, markers: tuple[str, ...]) -> list[dict[str, Any]] | None:
    """JSON log lines of the four hops mentioning any marker, once both expected hops logged."""
    lines: list[dict[str, Any]] = []
    for name in HOPS:
        for raw in (stack.log_dir / f"{name}.log").read_text(errors="replace").splitlines():
            if raw.startswith("{") and any(m in raw for m in markers):
                lines.append(json.loads(raw))
    logged = {line["service"] for line in lines}
    return lines if {"order-consumer", "inventory-adjuster"} <= logged else None
