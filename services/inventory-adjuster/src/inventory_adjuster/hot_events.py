"""The two records every applied command publishes, encoded by hand with orjson.

Their values come from our own Lua script (and the command, validated when it was
consumed), so building the pydantic events only to validate them again was wasted work on
the hot path; ``model_construct`` was slower still (docs/decisions/0014-adjuster-hot-path.md).
The bytes are what ``encode()`` of :class:`InventoryChanged` and
:class:`InventoryLevelsUpdated` gives, field for field (a unit test decodes and compares
them); a field added to those models must be added here too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from stocksync_common.events import InventoryCommand, SkuLevels, new_id, stable_id

_OPT = orjson.OPT_UTC_Z
CHANGED = "inventory.changed"
LEVELS = "inventory.levels"


def envelope(
    correlation_id: str, causation_id: str, source: str, shop: str | None
) -> dict[str, Any]:
    """The envelope's fields but ``id`` and ``type``, shared by a command's records."""
    return {
        "schema_version": 1,
        "occurred_at": datetime.now(UTC),
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "source": source,
        "shop": shop,
    }


def change_payloads(cmd: InventoryCommand, r: dict[str, Any]) -> list[dict[str, Any]]:
    """The :class:`StockChange` payloads of one applied command: one, or for a routed
    command one per location it moved (docs/decisions/0018-order-routing.md)."""
    allocations = r.get("allocations")
    if not allocations:
        return [change_payload(cmd, r)]
    return [change_payload(cmd, r, a) for a in allocations]


def change_payload(
    cmd: InventoryCommand, r: dict[str, Any], at: dict[str, Any] | None = None
) -> dict[str, Any]:
    """:class:`StockChange` from the script's result ``r`` for ``cmd`` (at the location of
    ``at``, one of a routed command's allocations, when given)."""
    order = cmd.order
    here = r if at is None else at
    return {
        "sku": cmd.sku,
        "location": cmd.location if at is None else at["location"],
        "command": cmd.command,
        "idempotency_key": cmd.idempotency_key,
        "version": int(r["version"]),
        "before": _levels(here["before"]),
        "after": _levels(here["after"]),
        "sku_available_before": int(r["sku_available_before"]),
        "sku_available_after": int(r["sku_available_after"]),
        "order": None
        if order is None
        else {"shop": order.shop, "order_id": order.order_id, "line_id": order.line_id},
        "backordered": bool(r.get("backordered")),
        "shares": r.get("shares") or None,
        "kits": [],
        "kit_parts": r.get("kit_parts") or None,  # a kit's component's (ADR 0040)
        "kit_components": None,  # a kit's own change only (kit_events)
        "seen": here.get("seen"),
        "routed": r.get("routed") if at is not None else None,
        "tried": (r.get("tried") or None) if at is not None else None,
        "rereserved": False,  # a served waiting line is published apart (handlers._rereserved)
    }


def _levels(doc: dict[str, Any]) -> dict[str, int]:
    return {
        "on_hand": int(doc.get("on_hand", 0)),
        "reserved": int(doc.get("reserved", 0)),
        "safety_stock": int(doc.get("safety_stock", 0)),
        "available": int(doc.get("available", 0)),
    }


def changed(
    head: dict[str, Any], payload: dict[str, Any], *, first: bool = True
) -> tuple[str, bytes]:
    """An ``inventory.changed`` record: its id (stable, from the command's key, and the
    location for a routed command's changes after its first) and value."""
    key = payload["idempotency_key"]
    event_id = (
        stable_id(key, "changed") if first else stable_id(key, "changed", payload["location"])
    )
    doc = {"id": event_id, "type": CHANGED, **head, "payload": payload}
    return event_id, orjson.dumps(doc, option=_OPT)


def levels(head: dict[str, Any], payload: SkuLevels) -> tuple[str, bytes]:
    """An ``inventory.levels`` record (a fresh id, as the model's default)."""
    event_id = new_id()
    body = orjson.Fragment(payload.__pydantic_serializer__.to_json(payload))
    doc = {"id": event_id, "type": LEVELS, **head, "payload": body}
    return event_id, orjson.dumps(doc, option=_OPT)
