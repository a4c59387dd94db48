"""The notifier's reading of its records (ADR 0042).

An ``inventory.changed`` record (nearly all it reads) is parsed with orjson and only the
fields the notifier uses are checked, by hand, into a :class:`ChangeSeen`: a fifth of the
notifier's CPU went to pydantic validating whole events, most of whose fields (levels per
location, shares, kits, seen, routes...) it never reads. Any other event is decoded in full.

A change whose used fields are not in the shape StockSync's producers write (a missing
field, a wrong type, a time not in UTC ``Z`` form...) is handed to the full pydantic decode,
so what is refused is refused as before, with pydantic's error naming the field (the
consumer dead-letters it), and what pydantic's lax parsing accepts is still accepted.
Fields the notifier does not read are not checked: a change malformed only there is
handled (the consumers that read them still refuse it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast, get_args

import orjson

from notifier.domain.changes import ChangeSeen, SeenChange, SeenOrder
from stocksync_common.consumer import Decoded
from stocksync_common.events import CommandName, Envelope, Event, InventoryChanged
from stocksync_common.events import decode as full_decode

COMMANDS: frozenset[str] = frozenset(get_args(CommandName))
CHANGED = "inventory.changed"


class _Unusual(Exception):  # noqa: N818 - control flow: the full decode decides
    """A used field not in the usual shape."""


def decode(raw: bytes | None) -> Event | Envelope | Decoded:
    """Parse one record value; raises (``ValueError`` or pydantic's ``ValidationError``,
    naming the field) on anything malformed, for the consumer to dead-letter."""
    if raw is None:
        raise ValueError("record has no value (tombstone)")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return full_decode(raw)  # refused, in pydantic's words
    if type(doc) is not dict or doc.get("type") != CHANGED:
        return full_decode(raw)
    try:
        return _change(doc)
    except _Unusual:
        return seen(full_decode(raw))


def seen(event: Event | Envelope) -> ChangeSeen:
    """The light reading of a fully decoded change (one the light parse left to pydantic)."""
    if not isinstance(event, InventoryChanged):  # pragma: no cover - its type said so
        raise ValueError(f"expected {CHANGED}, got {event.type}")
    p = event.payload
    order = p.order
    return ChangeSeen(
        correlation_id=event.correlation_id,
        shop=event.shop,
        occurred_at=event.occurred_at,
        payload=SeenChange(
            sku=p.sku,
            location=p.location,
            command=p.command,
            version=p.version,
            sku_available_before=p.sku_available_before,
            sku_available_after=p.sku_available_after,
            backordered=p.backordered,
            order=SeenOrder(order.shop, order.order_id, order.line_id) if order else None,
        ),
    )


def _change(doc: dict[str, Any]) -> ChangeSeen:
    p = doc.get("payload")
    if type(p) is not dict:
        raise _Unusual
    order = p.get("order")
    return ChangeSeen(
        correlation_id=_str(doc.get("correlation_id")),
        shop=_opt_str(doc.get("shop")),
        occurred_at=_utc(doc.get("occurred_at")),
        payload=SeenChange(
            sku=_str(p.get("sku")),
            location=_str(p.get("location")),
            command=_command(p.get("command")),
            version=_int(p.get("version")),
            sku_available_before=_int(p.get("sku_available_before")),
            sku_available_after=_int(p.get("sku_available_after")),
            backordered=_bool(p.get("backordered", False)),
            order=None if order is None else _order(order),
        ),
    )


def _order(order: object) -> SeenOrder:
    if type(order) is not dict:
        raise _Unusual
    return SeenOrder(
        _str(order.get("shop")), _str(order.get("order_id")), _opt_str(order.get("line_id"))
    )


def _str(value: object) -> str:
    if type(value) is not str:
        raise _Unusual
    return value


def _opt_str(value: object) -> str | None:
    return None if value is None else _str(value)


def _int(value: object) -> int:
    if type(value) is not int:
        raise _Unusual
    return value


def _bool(value: object) -> bool:
    if type(value) is not bool:
        raise _Unusual
    return value


def _command(value: object) -> CommandName:
    if type(value) is not str or value not in COMMANDS:
        raise _Unusual
    return cast(CommandName, value)


def _utc(value: object) -> datetime:
    """A time as pydantic writes one in UTC (``...T...Z``); any other form: pydantic reads it."""
    if type(value) is not str or len(value) < 20 or value[10] != "T" or value[-1] != "Z":
        raise _Unusual
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _Unusual from None
