"""A line mapped to a SKU only after it shipped (ADR 0022, c): once mapped, the on-hand moves
its shipments and returns made while it had no SKU are sent, per location, once."""

from __future__ import annotations

from unit.order_consumer.payloads import commands, fulfillment, item, key, order, run

VARIANT = 555


def unmapped(qty: int = 3, current: int | None = None) -> dict[str, object]:
    return item(11, None, qty, variant_id=VARIANT, current=current)


def test_shipments_while_unmapped_come_off_on_hand_once_mapped() -> None:
    state = run(None, "orders/create", order(1, unmapped())).state
    state = run(state, "fulfillments/create", fulfillment(5, 1, (11, 1), sku=None)).state
    state = run(state, "fulfillments/create", fulfillment(6, 1, (11, 1), location_id=2,
                                                          sku=None)).state  # fmt: skip
    assert state.lines["11"].unmapped_on_hand == {"wh-1": -1, "wh-2": -1}
    mapped = run(state, "orders/updated", order(1, unmapped(), updated=5),
                 skumap={str(VARIANT): "SKU-M"})  # fmt: skip
    assert commands(mapped) == [
        ("adjust", "SKU-M", -1, "wh-1", key(1, 11, "adjust:mapped:wh-1")),
        ("adjust", "SKU-M", -1, "wh-2", key(1, 11, "adjust:mapped:wh-2")),
        ("reserve", "SKU-M", 1, "wh-1", mapped.commands[2].idempotency_key),
    ]
    assert mapped.state.lines["11"].unmapped_on_hand == {}
    later = run(mapped.state, "orders/updated", order(1, unmapped(), updated=9),
                skumap={str(VARIANT): "SKU-M"})  # fmt: skip
    assert [c for c in commands(later) if c[0] == "adjust"] == []


def test_a_line_never_mapped_sends_nothing() -> None:
    state = run(None, "orders/create", order(1, unmapped())).state
    out = run(state, "fulfillments/create", fulfillment(5, 1, (11, 3), sku=None))
    assert out.commands == [] and out.state.lines["11"].unmapped_on_hand == {"wh-1": -3}
