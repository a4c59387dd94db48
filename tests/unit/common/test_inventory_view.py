"""The read API's answer (``GET /inventory/{sku}``) as one model: what the adjuster builds from
a SKU's levels and settings, and what its callers take back out of it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stocksync_common.events import Levels, SkuLevels
from stocksync_common.inventory_view import InventoryView

LEVELS = SkuLevels(
    sku="TEE-1",
    version=7,
    available=9,
    locations={
        "WH1": Levels(on_hand=10, reserved=2, safety_stock=1, available=7),
        "WH2": Levels(on_hand=2, available=2),
    },
    shares={"a.myshopify.com": 4},
    seen={"WH1": {"a.myshopify.com": 3}},
    partition=3,
    offset=1234,
)
SETTINGS = {"policy": "backorder", "allocation_threshold": 5, "kit_components": None}


def test_the_answer_holds_the_levels_and_settings_but_not_the_position() -> None:
    doc = InventoryView.of(LEVELS, SETTINGS).model_dump(mode="json")
    assert {"sku", "version", "available", "locations"} <= set(doc), "the contract's fields"
    assert doc["locations"]["WH1"] == {
        "on_hand": 10, "reserved": 2, "safety_stock": 1, "available": 7,
    }  # fmt: skip
    assert (doc["policy"], doc["allocation_threshold"]) == ("backorder", 5)
    assert "partition" not in doc and "offset" not in doc


def test_a_caller_gets_the_levels_back() -> None:
    body = InventoryView.of(LEVELS, SETTINGS).model_dump_json()
    levels = InventoryView.model_validate_json(body).levels()
    assert levels == LEVELS.model_copy(update={"partition": None, "offset": None})


def test_readers_ignore_fields_added_later_and_refuse_a_broken_answer() -> None:
    view = InventoryView.model_validate(
        {"sku": "S", "version": 1, "available": 0, "locations": {}, "something_new": 1}
    )
    assert view.policy == "reject" and view.levels().locations == {}
    with pytest.raises(ValidationError):
        InventoryView.model_validate({"sku": "S", "available": 0, "locations": {}})
