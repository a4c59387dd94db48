"""Where a routed release or commit of a kit line moves its kits on a Redis Cluster
(``hold_place``: kit_hold.lua's take order, as kit.lua chooses on one Redis; issue #23)."""

from inventory_adjuster.adapters.kits import KitPlace, hold_place
from stocksync_common.events import InventoryCommand, OrderLineRef, Route

ROUTE = ["wh-1", "wh-2", "wh-3"]


def cmd(name: str, qty: int, location: str = "wh-1") -> InventoryCommand:
    return InventoryCommand(
        command=name,  # type: ignore[arg-type]
        idempotency_key="k",
        sku="KIT",
        location=location,
        quantity=qty,
        order=OrderLineRef(shop="s", order_id="o", line_id="1"),
        route=Route(locations=ROUTE),
    )


def test_a_line_held_at_one_location_moves_there_whatever_its_command_names() -> None:
    assert hold_place({"wh-2": 2}, ROUTE, cmd("release", 2)) == KitPlace("wh-2", -2)
    assert hold_place({"wh-2": 2}, ROUTE, cmd("commit", 1)) == KitPlace("wh-2", -1)


def test_a_commit_takes_its_shipping_location_first_a_release_the_routes_end() -> None:
    hold = {"wh-1": 1, "wh-3": 1}
    assert hold_place(hold, ROUTE, cmd("commit", 1, "wh-1")) == KitPlace("wh-1", -1)
    assert hold_place(hold, ROUTE, cmd("release", 1, "wh-1")) == KitPlace("wh-3", -1)


def test_the_first_location_holding_the_whole_quantity_is_preferred() -> None:
    hold = {"wh-1": 3, "wh-3": 1}
    assert hold_place(hold, ROUTE, cmd("release", 2)) == KitPlace("wh-1", -2)


def test_kits_held_at_two_locations_are_taken_at_both() -> None:
    # none holds it all: across them in order (a line split by whole kits; before, the first
    # only, KitPlace("wh-3", -1): the kit at wh-1 stayed reserved)
    both = [("wh-3", 1, -1), ("wh-1", 1, -1)]
    assert hold_place({"wh-1": 1, "wh-3": 1}, ROUTE, cmd("release", 2)) == KitPlace(
        "wh-3", -2, None, False, both
    )
    # beyond what the line holds: at the first location (its components clamped at 0)
    more = [("wh-3", 2, -1), ("wh-1", 1, -1)]
    assert hold_place({"wh-1": 1, "wh-3": 1}, ROUTE, cmd("release", 3)).parts == more


def test_a_line_holding_nothing_moves_at_its_commands_location() -> None:
    assert hold_place({}, ROUTE, cmd("release", 1, "wh-2")) == KitPlace("wh-2", 0)
    # a location off the route it holds at (the store's route changed): a release finds it
    assert hold_place({"wh-9": 1}, ROUTE, cmd("release", 1)) == KitPlace("wh-9", -1)
