"""A kit's shares derived from its components' parts, and the hints they give each other
(docs/decisions/0040-kit-allocation.md): pure rules, no Redis."""

from __future__ import annotations

from inventory_adjuster.adapters.kits import ComponentShares, kit_hints, kit_shares
from inventory_adjuster.kit_events import reshared_changes
from stocksync_common.events import Levels, SkuLevels

KIT = "KIT"
PARTS = [("A", 2), ("B", 1)]


def shares_of(**parts: dict[str, int]) -> ComponentShares:
    return ComponentShares(
        available={"A": 8, "B": 5},
        shares={"A": {"s1": 2, "s2": 0}, "B": {"s1": 1, "s2": 1}},
        parts={c: {KIT: p} for c, p in parts.items()},
        wants={"A": {KIT: {"s1": 2, "s2": 1}}, "B": {KIT: {"s1": 1, "s2": 3}}},
    )


def test_a_kit_shows_the_least_part_of_its_components_never_above_its_availability() -> None:
    of = shares_of(A={"s1": 2, "s2": 1}, B={"s1": 1, "s2": 3})
    assert kit_shares(KIT, PARTS, of, available=4) == {"s1": 1, "s2": 1}
    assert kit_shares(KIT, PARTS, of, available=0) == {"s1": 0, "s2": 0}
    # a part not kept yet (the kit just defined) counts none: the kit errs low
    assert kit_shares(KIT, PARTS, shares_of(A={"s1": 2}), available=4) == {"s1": 0, "s2": 0}


def test_no_component_allocated_no_kit_shares() -> None:
    of = ComponentShares({"A": 80, "B": 50}, {"A": None, "B": None}, {}, {})
    assert kit_shares(KIT, PARTS, of, available=25) is None
    assert kit_hints(KIT, PARTS, of) == {}


def test_each_component_is_told_the_least_its_other_components_want_to_give() -> None:
    of = shares_of(A={"s1": 2, "s2": 1}, B={"s1": 1, "s2": 3})
    assert kit_hints(KIT, PARTS, of) == {"A": {"s1": 1, "s2": 3}, "B": {"s1": 2, "s2": 1}}
    # a component that has not split its budget for the kit yet bounds nothing
    del of.wants["B"][KIT]
    assert kit_hints(KIT, PARTS, of) == {"A": None, "B": {"s1": 2, "s2": 1}}
    # an unallocated component gives all it has: 5 units of B make 5 kits
    of.shares["B"] = None
    assert kit_hints(KIT, PARTS, of) == {"A": {"s1": 5, "s2": 5}}


def test_a_reshared_component_is_a_change_per_location_with_its_new_shares() -> None:
    levels = SkuLevels(
        sku="A",
        version=9,
        available=6,
        locations={"wh-1": Levels(on_hand=6, available=6)},
        shares={"s1": 4, "s2": 2},
        seen={"wh-1": {"s1": 3}},
    )
    (change,) = reshared_changes(levels)
    assert (change.version, change.shares, change.seen) == (9, {"s1": 4, "s2": 2}, {"s1": 3})
    assert change.before == change.after and change.sku_available_after == 6
