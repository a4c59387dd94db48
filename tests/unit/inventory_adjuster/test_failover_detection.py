"""What counts as a SKU behind its latest levels record (a failover's loss, ADR 0029), and
the slot ranges the rebuild takes."""

from __future__ import annotations

import pytest

from inventory_adjuster.rebuild import Restored, behind, parse_slots, sku_slot


def record(version: int = 5, partition: int | None = 1, offset: int | None = 40,
           **fields: str | int) -> Restored:  # fmt: skip
    return Restored(version, partition, offset, {"version": version, **fields})


def test_a_state_at_or_ahead_of_its_record_is_not_behind() -> None:
    assert behind(record(), {"version": "5", "pos": "1:40"}) is None
    assert behind(record(), {"version": "7", "pos": "1:52"}) is None  # applied since
    # a record from another partition (a repartitioned topic): only the version speaks
    assert behind(record(), {"version": "6", "pos": "2:3"}) is None
    assert behind(record(partition=None, offset=None), {"version": "5"}) is None
    assert (
        behind(record(**{"kitoff|0": 9}), {"version": "5", "pos": "1:40", "kitoff|0": "9"}) is None
    )


def test_each_sign_of_a_lost_write_is_named() -> None:
    assert behind(record(), {}) == "no state in Redis"
    assert behind(record(), {"version": "4", "pos": "1:40"}) == "version 4 < 5"
    # a duplicate moves pos without a version: its loss shows in pos alone
    assert behind(record(), {"version": "5", "pos": "1:39"}) == "pos 1:39 < 1:40"
    # a rejected kit command stamps a component without a version bump
    why = behind(record(**{"kitoff|0": 9}), {"version": "5", "pos": "1:40", "kitoff|0": "8"})
    assert why == "kitoff|0 8 < 9"
    assert behind(record(**{"kitoff|0": 9}), {"version": "5", "pos": "1:40"}) is not None


def test_slot_ranges() -> None:
    assert parse_slots("0-2,7, 16383") == frozenset({0, 1, 2, 7, 16383})
    for bad in ("5-2", "16384", "-1", "a"):
        with pytest.raises(ValueError):
            parse_slots(bad)
    assert 0 <= sku_slot("SKU-1") < 16384
    assert sku_slot("SKU-1") == sku_slot("SKU-1") != sku_slot("SKU-2")
