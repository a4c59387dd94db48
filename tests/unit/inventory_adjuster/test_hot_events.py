"""The hand-encoded change and levels records are the pydantic events, field for field."""

from __future__ import annotations

from typing import Any

import pytest

from inventory_adjuster import hot_events
from stocksync_common.events import (
    InventoryChanged,
    InventoryCommand,
    InventoryLevelsUpdated,
    Levels,
    OrderLineRef,
    Route,
    SkuLevels,
    StockChange,
    decode,
    stable_id,
)

CMD: dict[str, Any] = {
    "command": "reserve",
    "idempotency_key": "k:1",
    "sku": "S-1",
    "location": "wh-1",
    "quantity": 1,
}
BEFORE = {"on_hand": 10, "reserved": 2, "safety_stock": 1, "available": 7}
AFTER = {"on_hand": 10, "reserved": 3, "safety_stock": 1, "available": 6}


def result(**extra: Any) -> dict[str, Any]:
    return {
        "status": "applied",
        "version": 7,
        "before": BEFORE,
        "after": AFTER,
        "sku_available_before": 7,
        "sku_available_after": 6,
        "moved": 0,
        **extra,
    }


@pytest.mark.parametrize(
    ("order", "extra"),
    [
        (OrderLineRef(shop="a.myshopify.com", order_id="9", line_id="1"), {"seen": {"a": 3}}),
        (None, {"shares": {"a.myshopify.com": 2}, "backordered": True, "seen": {}}),
        (None, {"shares": None}),
        (  # a kit's component: its kits' parts (ADR 0040)
            None,
            {
                "shares": {"a.myshopify.com": 1},
                "kit_parts": {"K": {"units": 2, "shares": {"a.myshopify.com": 1}}},
            },
        ),
    ],
)
def test_changed_record_is_the_model_encoded(
    order: OrderLineRef | None, extra: dict[str, Any]
) -> None:
    cmd = InventoryCommand.model_validate({**CMD, "order": order})
    r = result(**extra)
    head = hot_events.envelope("corr", "cause", "inventory-adjuster", "a.myshopify.com")
    event_id, value = hot_events.changed(head, hot_events.change_payload(cmd, r))
    model = InventoryChanged(
        id=stable_id("k:1", "changed"),
        correlation_id="corr",
        causation_id="cause",
        source="inventory-adjuster",
        shop="a.myshopify.com",
        payload=StockChange(
            sku="S-1",
            location="wh-1",
            command="reserve",
            idempotency_key="k:1",
            version=7,
            before=Levels(**BEFORE),
            after=Levels(**AFTER),
            sku_available_before=7,
            sku_available_after=6,
            order=order,
            backordered=bool(r.get("backordered")),
            shares=r.get("shares") or None,
            kit_parts=r.get("kit_parts"),
            seen=r.get("seen"),
        ),
    )
    decoded = decode(value)
    assert event_id == model.id
    assert decoded.model_dump(exclude={"occurred_at"}) == model.model_dump(exclude={"occurred_at"})
    assert decoded.occurred_at.tzinfo is not None


def test_a_routed_commands_records_are_the_model_encoded_one_per_location() -> None:
    """A split reserve (ADR 0018): one change per location, each with the whole placement;
    the first keeps the command's usual event id."""
    cmd = InventoryCommand.model_validate(
        {
            **CMD,
            "idempotency_key": "k:2",
            "quantity": 3,
            "order": {"shop": "a.myshopify.com", "order_id": "9", "line_id": "1"},
            "route": Route(locations=["wh-1", "wh-2"], split=True),
        }
    )
    allocations = [
        {"location": "wh-1", "quantity": 2, "before": BEFORE, "after": AFTER, "seen": {"a": 3}},
        {"location": "wh-2", "quantity": 1, "before": BEFORE, "after": AFTER, "seen": {}},
    ]
    r = result(allocations=allocations, routed={"wh-1": 2, "wh-2": 1}, tried=["wh-1", "wh-2"])
    head = hot_events.envelope("corr", "cause", "inventory-adjuster", "a.myshopify.com")
    payloads = hot_events.change_payloads(cmd, r)
    assert [p["location"] for p in payloads] == ["wh-1", "wh-2"]
    ids = []
    for n, (payload, alloc) in enumerate(zip(payloads, allocations, strict=True)):
        event_id, value = hot_events.changed(head, payload, first=n == 0)
        decoded = decode(value)
        assert isinstance(decoded, InventoryChanged)
        change = decoded.payload
        assert change.location == alloc["location"] and change.seen == alloc["seen"]
        assert change.routed == {"wh-1": 2, "wh-2": 1} and change.tried == ["wh-1", "wh-2"]
        assert decoded.id == event_id
        ids.append(event_id)
    assert ids == [stable_id("k:2", "changed"), stable_id("k:2", "changed", "wh-2")]


def test_levels_record_is_the_model_encoded() -> None:
    levels = SkuLevels(
        sku="S-1",
        version=7,
        available=6,
        locations={"wh-1": Levels(**AFTER)},
        shares={"a": 1},
        seen={"wh-1": {"a": 3}},
        partition=3,
        offset=41,
    )
    head = hot_events.envelope("corr", "cause", "inventory-adjuster", None)
    event_id, value = hot_events.levels(head, levels)
    model = InventoryLevelsUpdated(
        id=event_id,
        correlation_id="corr",
        causation_id="cause",
        source="inventory-adjuster",
        payload=levels,
    )
    decoded = decode(value)
    assert decoded.model_dump(exclude={"occurred_at"}) == model.model_dump(exclude={"occurred_at"})
