"""``changed_document``: the JSON object of an ``inventory.changed`` record for a consumer's
narrow reading; None for what the consumer must decode in full (ADR 0041, 0042)."""

from __future__ import annotations

import json

import orjson
import pytest

from stocksync_common.events import (
    InventoryChanged,
    Levels,
    ReorderRequested,
    StockChange,
    changed_document,
    encode,
)
from stocksync_common.events import Reorder as ReorderPayload

LV = Levels(on_hand=2, reserved=0, available=2)
CHANGE = InventoryChanged(
    source="inventory-adjuster",
    payload=StockChange(
        sku="A",
        location="wh-1",
        command="adjust",
        idempotency_key="k",
        version=1,
        before=LV,
        after=LV,
        sku_available_before=2,
        sku_available_after=2,
    ),  # fmt: skip
)


def test_a_change_as_stocksync_writes_it_is_parsed_once() -> None:
    doc = changed_document(encode(CHANGE))
    assert doc == orjson.loads(encode(CHANGE))
    assert changed_document(orjson.dumps(orjson.loads(encode(CHANGE)))) == doc  # hand-encoded


@pytest.mark.parametrize(
    "raw",
    [
        None,
        encode(
            ReorderRequested(
                source="s",
                payload=ReorderPayload(
                    sku="A", reorder_point=1, quantity=1, available=0, version=1
                ),
            )
        ),  # fmt: skip
        b'{"id":"x","type":"inventory.changed", broken',
        b'["type","inventory.changed"]',
        b'{"id":"x","type":"inventory.changed.v2"}',
        json.dumps(orjson.loads(encode(CHANGE))).encode(),  # spaced: not as StockSync writes it
    ],
    ids=["tombstone", "other-event", "not-json", "not-object", "other-type", "spaced"],
)
def test_anything_else_is_left_to_the_full_decode(raw: bytes | None) -> None:
    assert changed_document(raw) is None
