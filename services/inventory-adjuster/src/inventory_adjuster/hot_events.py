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


def change_payload(cmd: InventoryCommand, r: dict[str, Any]) -> dict[str, Any]:
    """:class:`StockChange` from the script's result ``r`` for ``cmd``."""
    order = cmd.order
    return {
        "sku": cmd.sku,
        "location": cmd.location,
        "command": cmd.command,
        "idempotency_key": cmd.idempotency_key,
        "version": int(r["version"]),
        "before": _levels(r["before"]),
        "after": _levels(r["after"]),
        "sku_available_before": int(r["sku_available_before"]),
        "sku_available_after": int(r["sku_available_after"]),
        "order": None
        if order is None
        else {"shop": order.shop, "order_id": order.order_id, "line_id": order.line_id},
        "backordered": bool(r.get("backordered")),
        "shares": r.get("shares") or None,
        "kits": [],
        "seen": r.get("seen"),
    }


def _levels(doc: dict[str, Any]) -> dict[str, int]:
    return {
        "on_hand": int(doc.get("on_hand", 0)),
        "reserved": int(doc.get("reserved", 0)),
        "safety_stock": int(doc.get("safety_stock", 0)),
        "available": int(doc.get("available", 0)),
    }


def changed(head: dict[str, Any], payload: dict[str, Any]) -> tuple[str, bytes]:
    """An ``inventory.changed`` record: its id (stable, from the command's key) and value."""
    event_id = stable_id(payload["idempotency_key"], "changed")
    doc = {"id": event_id, "type": CHANGED, **head, "payload": payload}
    return event_id, orjson.dumps(doc, option=_OPT)


def levels(head: dict[str, Any], payload: SkuLevels) -> tuple[str, bytes]:
    """An ``inventory.levels`` record (a fresh id, as the model's default)."""
    event_id = new_id()
    body = orjson.Fragment(payload.__pydantic_serializer__.to_json(payload))
    doc = {"id": event_id, "type": LEVELS, **head, "payload": body}
    return event_id, orjson.dumps(doc, option=_OPT)
