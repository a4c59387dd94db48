"""The notifier's reading of its records (ADR 0042).

An ``inventory.changed`` record (nearly all it reads) is parsed with orjson and only the
fields the notifier uses are checked, by hand, into a :class:`ChangeSeen`: a fifth of the
notifier's CPU went to pydantic validating whole events, most of whose fields (levels per
location, shares, kits, seen, routes...) it never reads. Any other event is decoded in full.

A change whose used fields are not in the shape StockSync's producers write (a missing
field, a wrong type, a time not in UTC ``Z`` form...) is handed to the full pydantic decode,
so what is refused is refused as before, with pydantic's error naming the field (the
consumer dead-letters it), and what pydantic's lax parsing accepts is still accepted (the
full event is handed on: the handler reads either). So is a record without
``"type":"inventory.changed"`` in its first 200 bytes, where ``encode()`` writes it.
Fields the notifier does not read are not checked: a change malformed only there is
handled (the consumers that read them still refuse it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast, get_args

from notifier.domain.changes import ChangeSeen, SeenChange, SeenOrder
from stocksync_common.consumer import Decoded
from stocksync_common.events import CommandName, Envelope, Event, changed_document
from stocksync_common.events import decode as full_decode

COMMANDS: frozenset[str] = frozenset(get_args(CommandName))


class _Unusual(Exception):  # noqa: N818 - control flow: the full decode decides
    """A used field not in the usual shape."""


def decode(raw: bytes | None) -> Event | Envelope | Decoded:
    """Parse one record value; raises (``ValueError`` or pydantic's ``ValidationError``,
    naming the field) on anything malformed, for the consumer to dead-letter."""
    doc = changed_document(raw)
    if doc is None:  # a tombstone, another event, not JSON: in full (refused as before)
        return full_decode(raw)
    try:
        return _change(doc)
    except _Unusual:
        return full_decode(raw)  # the handler reads a full change as well


def _change(doc: dict[str, Any]) -> ChangeSeen:
    """The light reading, checks inline (a function call per field cost as much again)."""
    p = doc.get("payload")
    if type(p) is not dict:
        raise _Unusual
    sku, location, command = p.get("sku"), p.get("location"), p.get("command")
    version, before, after = (
        p.get("version"),
        p.get("sku_available_before"),
        p.get("sku_available_after"),
    )
    backordered, order = p.get("backordered", False), p.get("order")
    cid, shop, at = doc.get("correlation_id"), doc.get("shop"), doc.get("occurred_at")
    if not (
        type(sku) is str
        and type(location) is str
        and type(command) is str
        and command in COMMANDS
        and type(version) is int
        and type(before) is int
        and type(after) is int
        and type(backordered) is bool
        and type(cid) is str
        and (shop is None or type(shop) is str)
        # a time as pydantic writes one in UTC; any other form: pydantic reads it
        and type(at) is str
        and len(at) >= 20
        and at[10] == "T"
        and at[-1] == "Z"
    ):
        raise _Unusual
    try:
        occurred_at = datetime.fromisoformat(at)
    except ValueError:
        raise _Unusual from None
    seen_order = None if order is None else _order(order)
    change = SeenChange(
        sku, location, cast(CommandName, command), version, before, after, backordered, seen_order
    )
    return ChangeSeen(cid, shop, occurred_at, change)


def _order(order: object) -> SeenOrder:
    if type(order) is not dict:
        raise _Unusual
    shop, order_id, line_id = order.get("shop"), order.get("order_id"), order.get("line_id")
    if not (
        type(shop) is str and type(order_id) is str and (line_id is None or type(line_id) is str)
    ):
        raise _Unusual
    return SeenOrder(shop, order_id, line_id)
