"""The notifier's own decoder (ADR 0042): ``inventory.changed`` read narrowly into a
``ChangeSeen`` that says what the full pydantic decode says of every field the notifier
uses; anything malformed there refused as before (pydantic's error, naming the field);
every other event decoded in full."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from notifier import decoding
from notifier.bootstrap import service
from notifier.domain.changes import ChangeSeen, SeenChange, SeenOrder
from notifier.settings import Settings
from stocksync_common.events import (
    InventoryChanged,
    KitComponent,
    KitPart,
    Levels,
    OrderLineRef,
    OrderLineUnmapped,
    OrderOversold,
    OversoldLine,
    StockChange,
    UnmappedLine,
    decode,
    encode,
)

AT = datetime(2026, 12, 7, 13, 29, 7, 367126, tzinfo=UTC)
ORDER = OrderLineRef(shop="north.myshopify.com", order_id="o-1", line_id="1")


def change(**kw: Any) -> StockChange:
    base: dict[str, Any] = {
        "sku": "SKU-1",
        "location": "wh-1",
        "command": "reserve",
        "idempotency_key": "north:o-1:1",
        "version": 11,
        "before": Levels(on_hand=50, reserved=3, available=47),
        "after": Levels(on_hand=50, reserved=4, available=46),
        "sku_available_before": 47,
        "sku_available_after": 46,
        "order": ORDER,
    }
    return StockChange(**{**base, **kw})


def event(payload: StockChange, **kw: Any) -> InventoryChanged:
    base: dict[str, Any] = {"source": "inventory-adjuster", "shop": "north.myshopify.com"}
    return InventoryChanged(**{**base, "occurred_at": AT, **kw, "payload": payload})


# The shapes the adjuster writes: a sale, a routed one, a kit's component under allocation,
# a kit, a refused line held again, a backorder, a count and a configure without an order,
# a line without a line id, an event without a store.
SHAPES = {
    "reserve": event(change(seen={"north.myshopify.com": 4})),
    "routed": event(
        change(routed={"wh-1": 2, "wh-2": 1}, tried=["wh-1", "wh-2"]), causation_id="c-1"
    ),
    "component": event(
        change(
            shares={"north.myshopify.com": 20, "south.myshopify.com": 20},
            kits=["KIT-1"],
            kit_parts={"KIT-1": KitPart(units=2, shares={"north.myshopify.com": 3})},
        )
    ),
    "kit": event(
        change(
            sku="KIT-1",
            kit_components={"SKU-1": KitComponent(units=2, shares={"north.myshopify.com": 5})},
        )
    ),
    "rereserved": event(change(rereserved=True, command="reserve")),
    "backordered": event(change(backordered=True, sku_available_after=-2)),
    "count": event(change(command="set_on_hand", order=None, sku_available_before=0), shop=None),
    "configure": event(change(command="configure", order=None)),
    "no line id": event(change(order=OrderLineRef(shop="south.myshopify.com", order_id="o-9"))),
}


def fields_of(seen: ChangeSeen) -> dict[str, Any]:
    return {
        "correlation_id": seen.correlation_id,
        "shop": seen.shop,
        "occurred_at": seen.occurred_at,
        "type": seen.type,
        **{f: getattr(seen.payload, f) for f in SeenChange._fields},
    }


def full_fields(e: InventoryChanged) -> dict[str, Any]:
    p = e.payload
    order = p.order
    return {
        "correlation_id": e.correlation_id,
        "shop": e.shop,
        "occurred_at": e.occurred_at,
        "type": e.type,
        **{f: getattr(p, f) for f in SeenChange._fields},
        "order": SeenOrder(order.shop, order.order_id, order.line_id) if order else None,
    }


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_the_light_reading_says_what_pydantic_says_of_every_field_used(name: str) -> None:
    raw = encode(SHAPES[name])
    full = decode(raw)
    assert isinstance(full, InventoryChanged)
    light = decoding.decode(raw)
    assert isinstance(light, ChangeSeen)  # the light path, not pydantic's
    assert fields_of(light) == full_fields(full)
    assert light.occurred_at.timestamp() == full.occurred_at.timestamp()


def test_the_light_change_has_every_field_the_rules_and_alerts_read() -> None:
    """The protocol the domain is typed against names exactly the light change's fields."""
    from notifier.domain.changes import ChangeFacts

    wanted = {n for n in vars(ChangeFacts) if not n.startswith("_")}
    assert wanted == set(SeenChange._fields)
    assert wanted <= set(StockChange.model_fields)


def _raw(**over: Any) -> bytes:
    """A reserve's bytes with payload fields replaced (a value ``...`` removes the field)."""
    doc = orjson.loads(encode(SHAPES["reserve"]))
    for path, value in over.items():
        where, key = doc, path
        if "__" in path:
            *parents, key = path.split("__")
            for p in parents:
                where = where[p]
        if value is ...:
            del where[key]
        else:
            where[key] = value
    return orjson.dumps(doc)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"payload__version": "eleven"}, "payload.version"),
        ({"payload__sku": 7}, "payload.sku"),
        ({"payload__location": None}, "payload.location"),
        ({"payload__command": "explode"}, "payload.command"),
        ({"payload__command": ["reserve"]}, "payload.command"),
        ({"payload__sku_available_after": 1.5}, "payload.sku_available_after"),
        ({"payload__backordered": "often"}, "payload.backordered"),
        ({"payload__order": "o-1"}, "payload.order"),
        ({"payload__order__shop": 3}, "payload.order.shop"),
        ({"payload__order__line_id": 1}, "payload.order.line_id"),
        ({"correlation_id": 5}, "correlation_id"),
        ({"shop": ["north"]}, "shop"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"payload": [1, 2]}, "payload"),
        ({"payload__sku": ...}, "payload.sku"),
        ({"payload__version": ...}, "payload.version"),
        ({"payload__order__order_id": ...}, "payload.order.order_id"),
        ({"payload": ...}, "payload"),
    ],
)
def test_a_used_field_malformed_is_refused_naming_it(over: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        decoding.decode(_raw(**over))
    assert f"`inventory.changed`.{field}\n" in str(refused.value)


def test_what_pydantic_accepts_in_other_forms_is_still_accepted() -> None:
    """Lax forms the light parse does not take (a numeric string, a boolean or a whole float
    for an int, a time with an offset or as a number, a missing correlation id) go through
    pydantic, as before."""
    for over in (
        {"payload__version": "11"},
        {"payload__version": True},
        {"payload__sku_available_after": 46.0},
        {"occurred_at": "2026-12-07T14:29:07.367126+01:00"},
        {"occurred_at": 1796650147},
        {"correlation_id": ...},
        {"payload__backordered": 0},
    ):
        raw = _raw(**over)
        read = decoding.decode(raw)
        assert isinstance(read, InventoryChanged)  # pydantic's reading, handed on whole
        assert read.model_dump(exclude={"correlation_id"}) == decode(raw).model_dump(
            exclude={"correlation_id"}
        )


def test_a_field_the_notifier_does_not_read_is_not_checked() -> None:
    """The narrowing itself: malformed only where the notifier never reads, a change is
    handled (the consumers that read those fields still refuse it)."""
    raw = _raw(payload__shares="lots", payload__before=..., source=...)
    with pytest.raises(ValidationError):
        decode(raw)
    light = decoding.decode(raw)
    assert isinstance(light, ChangeSeen) and light.payload.version == 11


def test_not_json_not_an_object_and_a_tombstone_are_refused() -> None:
    with pytest.raises(ValidationError, match="Invalid JSON"):
        decoding.decode(b"{not json")
    with pytest.raises(ValidationError):
        decoding.decode(b"[1, 2]")
    with pytest.raises(ValueError, match="tombstone"):
        decoding.decode(None)
    with pytest.raises(ValidationError, match="union_tag_invalid|does not match any"):
        decoding.decode(b'{"type": "no.such.event", "source": "x"}')


def test_other_events_are_decoded_in_full() -> None:
    oversold = OrderOversold(
        source="inventory-adjuster",
        payload=OversoldLine(
            sku="SKU-1", location="wh-1", requested=2, available=0, idempotency_key="k"
        ),
    )
    unmapped = OrderLineUnmapped(
        source="order-consumer",
        payload=UnmappedLine(shop="north.myshopify.com", order_id="o", line_id="1", quantity=1),
    )
    for e in (oversold, unmapped):
        assert decoding.decode(encode(e)) == e


def test_the_notifier_consumer_reads_with_its_own_decoder() -> None:
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:9", redis_url="redis://127.0.0.1:9")
    [changes] = service(settings).consumers
    assert changes.decode is decoding.decode


def test_a_change_written_otherwise_is_still_read() -> None:
    """Spaced JSON, the type last: not taken for the light path, decoded in full (the
    handler reads a full event as well)."""
    doc = orjson.loads(encode(SHAPES["reserve"]))
    kind = doc.pop("type")
    raw = orjson.dumps({**doc, "type": kind}, option=orjson.OPT_INDENT_2)
    assert decoding.decode(raw) == decode(raw) == SHAPES["reserve"]
