"""The changes consumer's decoder (ADR 0041): an ``inventory.changed`` record parsed with
orjson into the few facts the changes handler reads (``domain.change_facts``), each checked by
hand; every other record on the topic (its replayed dead letters, anything else) through the
full pydantic decode of :mod:`shopify_sync.own_events`.

The hand check only vouches for what it accepts exactly as the adjuster writes it (a JSON
object, a string, an int that is not a bool, a units count of at least 1). Anything else, a
missing field or a looser form pydantic accepts too (``"5"`` or ``5.0`` for an int), goes
through the full decode: a malformed record is refused with pydantic's reason naming the
field and dead-lettered exactly as before, and a lax one is parsed as before. What the
handler does not read (``command``, ``before``, ``order``, ``routed``..., the envelope's
``source`` and ``id``) is not checked any more.

The narrow objects are named tuples: immutable, and built in a fifth of the time a frozen
dataclass takes (its ``__init__`` sets each field through ``object.__setattr__``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, NamedTuple

from shopify_sync import own_events
from stocksync_common.events import Envelope, Event, changed_document, new_id

CHANGED: Final = "inventory.changed"


class NarrowLevels(NamedTuple):
    available: int


class NarrowKitPart(NamedTuple):
    units: int
    shares: Mapping[str, int]


class NarrowKitComponent(NamedTuple):
    units: int
    shares: Mapping[str, int]
    kit_parts: Mapping[str, NarrowKitPart]


class NarrowChange(NamedTuple):
    """``StockChange``'s fields the handler reads, same names, same meanings."""

    sku: str
    location: str
    version: int
    after: NarrowLevels
    sku_available_after: int
    shares: Mapping[str, int] | None
    seen: Mapping[str, int] | None
    kit_parts: Mapping[str, NarrowKitPart] | None
    kit_components: Mapping[str, NarrowKitComponent] | None


class NarrowChanged(NamedTuple):
    """An ``inventory.changed`` envelope as the changes consumer keeps it: what the loop
    reads (its correlation id) and the change."""

    correlation_id: str
    payload: NarrowChange
    type: Literal["inventory.changed"] = CHANGED


class _Unsure(Exception):  # noqa: N818 - control flow: the full decode decides
    """The hand check cannot vouch for the record: the full decode parses or refuses it."""


def decode_changes(raw: bytes | None) -> Event | Envelope | NarrowChanged:
    """Parse one record of the changes topic; raises ``pydantic.ValidationError`` (or
    ``ValueError`` for a tombstone) on anything malformed, as the full decode does."""
    doc = changed_document(raw)
    if doc is None:  # a tombstone, another event, not JSON: in full (refused as before)
        return own_events.decode(raw)
    try:
        return _changed(doc)
    except (_Unsure, KeyError):
        return own_events.decode(raw)


def _changed(doc: dict[str, Any]) -> NarrowChanged:
    """The hot path, its checks inline (a call per field cost a tenth of the decode)."""
    # absent: a new id, as the envelope's default makes one
    cid = doc["correlation_id"] if "correlation_id" in doc else new_id()
    p = doc["payload"]
    if type(cid) is not str or type(p) is not dict:
        raise _Unsure
    sku, location, version = p["sku"], p["location"], p["version"]
    after, available = p["after"], p["sku_available_after"]
    if type(sku) is not str or type(location) is not str or type(after) is not dict:
        raise _Unsure
    level = after.get("available", 0)  # ``Levels.available`` defaults to 0 in the model too
    if type(version) is not int or type(available) is not int or type(level) is not int:
        raise _Unsure  # a bool is an int too: pydantic decides
    shares, seen = p.get("shares"), p.get("seen")
    parts, components = p.get("kit_parts"), p.get("kit_components")
    change = NarrowChange(
        sku,
        location,
        version,
        NarrowLevels(level),
        available,
        None if shares is None else _counts(shares),
        None if seen is None else _counts(seen),
        None if parts is None else _kit_parts(parts),
        None if components is None else _kit_components(components),
    )
    return NarrowChanged(cid, change)


def _kit_parts(raw: object) -> dict[str, NarrowKitPart]:
    return {kit: _kit_part(part) for kit, part in _object(raw).items()}


def _kit_part(raw: object) -> NarrowKitPart:
    part = _object(raw)
    return NarrowKitPart(_units(part["units"]), _counts(part.get("shares", {})))


def _kit_components(raw: object) -> dict[str, NarrowKitComponent]:
    out = {}
    for sku, component in _object(raw).items():
        c = _object(component)
        out[sku] = NarrowKitComponent(
            _units(c["units"]), _counts(c.get("shares", {})), _kit_parts(c.get("kit_parts", {}))
        )
    return out


def _object(value: object) -> dict[str, Any]:
    if type(value) is not dict:
        raise _Unsure
    return value


def _units(value: object) -> int:
    if type(value) is not int or value < 1:  # KitPart/KitComponent: ge=1
        raise _Unsure
    return value


def _counts(value: object) -> dict[str, int]:
    counts = _object(value)
    for n in counts.values():
        if type(n) is not int:
            raise _Unsure
    return counts
