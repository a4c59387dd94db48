"""order-consumer's second group reads every ``inventory.changed`` for the few it acts on
(refusals, routed placements, waiting lines served): the rest are told apart from two
fields, without validating the whole event (#19)."""

from __future__ import annotations

import orjson
import pytest
from aiokafka.structs import TopicPartition
from unit.order_consumer.fakes import FakeProducer, MemoryOrders, handler

from order_consumer.change_filter import Skipped, decode_changes
from stocksync_common.consumer import Incoming
from stocksync_common.events import (
    Event,
    InventoryChanged,
    Levels,
    OrderLineRef,
    OrderOversold,
    OversoldLine,
    StockChange,
    decode,
    encode,
)
from stocksync_common.topics import INVENTORY_CHANGED
from support.records import Record

LV = Levels(on_hand=5, reserved=1, available=4)
REF = OrderLineRef(shop="shop-a.myshopify.com", order_id="1", line_id="11")


def change(**extra: object) -> InventoryChanged:
    fields: dict[str, object] = {
        "sku": "SKU-A", "location": "wh-1", "command": "reserve",
        "idempotency_key": "order:shop-a.myshopify.com:1:11:reserve", "version": 3,
        "before": LV, "after": LV, "sku_available_before": 4, "sku_available_after": 4,
        "order": REF,
    }  # fmt: skip
    fields.update(extra)
    return InventoryChanged(
        source="inventory-adjuster", correlation_id="corr-1", payload=StockChange(**fields)
    )


class Counting:
    """The full decoder, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, raw: bytes | None) -> Event:
        self.calls += 1
        return decode(raw)


@pytest.mark.parametrize(
    "event",
    [change(command="adjust", order=None), change(), change(routed=None, rereserved=False)],
    ids=["adjust", "reserve-not-routed", "explicit-nulls"],
)
def test_a_change_the_handler_skips_is_not_validated(event: InventoryChanged) -> None:
    full = Counting()
    assert decode_changes(encode(event), full) == Skipped("inventory.changed", "corr-1")
    assert full.calls == 0


def test_an_orjson_written_change_is_told_apart_too() -> None:
    """The adjuster writes its hot changes with orjson (ADR 0014 item 4), not encode()."""
    raw = orjson.dumps(orjson.loads(encode(change())))
    assert decode_changes(raw, Counting()) == Skipped("inventory.changed", "corr-1")


@pytest.mark.parametrize(
    "event",
    [
        change(routed={"wh-1": 1}, tried=["wh-1"]),
        change(rereserved=True),
        OrderOversold(
            source="inventory-adjuster",
            payload=OversoldLine(
                sku="SKU-A",
                location="wh-1",
                requested=2,
                available=1,
                idempotency_key="order:shop-a.myshopify.com:1:11:reserve",
                order=REF,
            ),  # fmt: skip
        ),
    ],
    ids=["routed", "rereserved", "oversold"],
)
def test_what_the_handler_acts_on_is_decoded_in_full(event: Event) -> None:
    full = Counting()
    assert decode_changes(encode(event), full) == event
    assert full.calls == 1


def altered(path: tuple[str, ...], value: object) -> bytes:
    """A good change's encoding with one field set to ``value``."""
    doc = orjson.loads(encode(change()))
    *parents, last = path
    node = doc
    for name in parents:
        node = node[name]
    node[last] = value
    return orjson.dumps(doc)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "tombstone"),
        (b'{"id":"x","type":"inventory.changed", not json', "JSON"),
        (altered(("payload",), []), "payload"),
        (altered(("correlation_id",), 1), "correlation_id"),
        (altered(("payload", "rereserved"), "maybe"), "rereserved"),
        (altered(("payload", "routed"), {"wh-1": "one"}), "routed"),
    ],
    ids=["tombstone", "not-json", "payload-list", "correlation-int", "rereserved-str", "routed"],
)
def test_a_malformed_change_not_plainly_skipped_is_refused_by_the_full_decode(
    raw: bytes | None, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):  # pydantic's ValidationError is one
        decode_changes(raw, decode)


async def test_the_handler_ignores_a_skipped_change() -> None:
    producer, orders = FakeProducer(), MemoryOrders()
    raw = encode(change())
    item = Incoming(Record(INVENTORY_CHANGED, offset=0, value=raw), decode_changes(raw))
    await handler(orders, producer).handle_inventory_batch(
        TopicPartition(INVENTORY_CHANGED, 0), [item]
    )
    assert (producer.sent, orders.docs) == ([], {})
