"""The order lifecycle as diffs: exact commands and idempotency keys for each webhook."""

from __future__ import annotations

import re

from unit.order_consumer.payloads import (
    SHOP,
    T0,
    at,
    commands,
    edit,
    fulfillment,
    item,
    key,
    order,
    refund,
    run,
)

CREATE = "orders/create"
UPDATED = "orders/updated"
CANCELLED = "orders/cancelled"
FULFILLED = "fulfillments/create"
REFUND = "refunds/create"


def created(order_id: int = 1, *items: dict[str, object], updated: int = 0):  # type: ignore[no-untyped-def]
    return run(None, CREATE, order(order_id, *(items or (item(11, "SKU-A", 3),)), updated=updated))


def rev_of(outcome_key: str) -> tuple[int, str]:
    match = re.fullmatch(r".*:rev:(\d+)-([0-9a-f]{10})", outcome_key)
    assert match, outcome_key
    return int(match[1]), match[2]


def test_create_reserves_each_mapped_line_keyed_by_its_source():
    out = run(None, CREATE, order(1001, item(11, "SKU-A", 2), item(12, "SKU-B", 1)))
    assert commands(out) == [
        ("reserve", "SKU-A", 2, "wh-1", key(1001, 11, "reserve")),
        ("reserve", "SKU-B", 1, "wh-1", key(1001, 12, "reserve")),
    ]
    assert key(1001, 11, "reserve") == f"shopify:{SHOP}:order:1001:line:11:reserve"
    assert [n.type for n in out.notices] == ["order.received"]
    assert out.notices[0].payload["lines"][0] == {
        "line_id": "11",
        "sku": "SKU-A",
        "quantity": 2,
        "location": "wh-1",
    }
    assert out.changed and not out.replay
    assert out.commands[0].order is not None and out.commands[0].order.line_id == "11"


def test_duplicate_create_replays_the_same_commands_and_changes_nothing():
    body = order(1, item(11, "SKU-A", 2))
    first = run(None, CREATE, body)
    again = run(first.state, CREATE, body)
    assert again.replay and not again.changed
    assert commands(again) == commands(first)
    assert [n.id for n in again.notices] == [n.id for n in first.notices]
    assert again.state == first.state


def test_partial_fulfilment_commits_what_shipped():
    out = run(created().state, FULFILLED, fulfillment(501, 1, (11, 2)))
    assert commands(out) == [("commit", "SKU-A", 2, "wh-1", key(1, 11, "commit:fulfillment:501"))]
    (shipped,) = out.notices
    assert shipped.type == "order.fulfilled"
    assert shipped.payload["fulfillment_id"] == "501"
    assert shipped.payload["lines"] == [
        {"line_id": "11", "sku": "SKU-A", "quantity": 2, "location": "wh-1", "restock_type": None}
    ]
    line = out.state.lines["11"]
    assert (line.reserved, line.shipped, line.open) == (1, 2, 1)


def test_cancel_after_partial_fulfilment_releases_only_the_rest():
    state = run(created().state, FULFILLED, fulfillment(501, 1, (11, 2))).state
    body = order(
        1,
        item(11, "SKU-A", 3),
        updated=5,
        cancelled=5,
        fulfillments=(fulfillment(501, 1, (11, 2)),),
    )
    out = run(state, CANCELLED, body)
    assert commands(out) == [("release", "SKU-A", 1, "wh-1", key(1, 11, "release:cancel"))]
    (cancelled,) = out.notices
    assert cancelled.type == "order.cancelled"
    assert cancelled.payload["reason"] == "customer"
    assert [(r["line_id"], r["quantity"]) for r in cancelled.payload["released"]] == [("11", 1)]
    # The orders/updated Shopify sends with the cancellation changes nothing more.
    after = run(out.state, UPDATED, {**body, "updated_at": at(6)})
    assert commands(after) == [] and after.notices == []


def test_fulfilment_from_a_wms_location_records_the_shipment_but_moves_no_stock():
    # wms-connector committed these units from the warehouse's shipment event already.
    out = run(
        created().state, FULFILLED, fulfillment(501, 1, (11, 2)), wms_locations=frozenset({"wh-1"})
    )
    assert commands(out) == []
    (shipped,) = out.notices
    assert shipped.type == "order.fulfilled"
    line = out.state.lines["11"]
    assert (line.reserved, line.shipped, line.open) == (1, 2, 1)
    # The rest of the order still releases normally on cancel.
    body = order(
        1,
        item(11, "SKU-A", 3),
        updated=5,
        cancelled=5,
        fulfillments=(fulfillment(501, 1, (11, 2)),),
    )
    cancelled = run(out.state, CANCELLED, body, wms_locations=frozenset({"wh-1"}))
    assert commands(cancelled) == [("release", "SKU-A", 1, "wh-1", key(1, 11, "release:cancel"))]


def test_fulfilment_arriving_twice_commits_once():
    state = created().state
    first = run(state, FULFILLED, fulfillment(501, 1, (11, 2)))
    again = run(first.state, "fulfillments/update", fulfillment(501, 1, (11, 2)))
    assert again.replay and commands(again) == commands(first)
    assert again.state.lines["11"].shipped == 2


def test_pending_fulfilment_moves_nothing_until_it_ships():
    state = created().state
    pending = run(state, FULFILLED, fulfillment(501, 1, (11, 1), status="pending"))
    assert commands(pending) == [] and not pending.changed
    shipped = run(pending.state, "fulfillments/update", fulfillment(501, 1, (11, 1)))
    assert commands(shipped) == [
        ("commit", "SKU-A", 1, "wh-1", key(1, 11, "commit:fulfillment:501"))
    ]


def test_fulfilment_from_another_location_releases_the_hold_and_takes_stock_there():
    out = run(created().state, FULFILLED, fulfillment(501, 1, (11, 2), location_id=2))
    assert commands(out) == [
        ("release", "SKU-A", 2, "wh-1", key(1, 11, "release:fulfillment:501:relocated")),
        ("adjust", "SKU-A", -2, "wh-2", key(1, 11, "adjust:fulfillment:501")),
    ]


def test_shipping_more_than_held_takes_the_excess_from_on_hand_not_other_reservations():
    state = created(1, item(11, "SKU-A", 1)).state
    out = run(state, FULFILLED, fulfillment(501, 1, (11, 3)))
    assert commands(out) == [
        ("commit", "SKU-A", 1, "wh-1", key(1, 11, "commit:fulfillment:501")),
        ("adjust", "SKU-A", -2, "wh-1", key(1, 11, "adjust:fulfillment:501")),
    ]


def test_refund_cancel_releases_unshipped_units_once():
    out = run(created().state, REFUND, refund(901, 1, (9011, 11, 1, "cancel", None)))
    assert commands(out) == [("release", "SKU-A", 1, "wh-1", key(1, 11, "release:refund:901"))]
    (refunded,) = out.notices
    assert refunded.type == "order.refunded"
    assert refunded.payload["lines"] == [
        {"line_id": "11", "sku": "SKU-A", "quantity": 1, "location": None, "restock_type": "cancel"}
    ]
    # The orders/updated that follows: current_quantity 2 and the same refund inside.
    snapshot = order(
        1,
        item(11, "SKU-A", 3, current=2),
        updated=31,
        refunds=(refund(901, 1, (9011, 11, 1, "cancel", None)),),
    )
    after = run(out.state, UPDATED, snapshot)
    assert commands(after) == [] and after.notices == []


def test_refund_return_puts_shipped_units_back_at_the_restock_location():
    state = created(1, item(11, "SKU-A", 2)).state
    state = run(state, FULFILLED, fulfillment(501, 1, (11, 2))).state
    out = run(state, REFUND, refund(901, 1, (9011, 11, 1, "return", 2)))
    assert commands(out) == [("adjust", "SKU-A", 1, "wh-2", key(1, 11, "adjust:refund:901:9011"))]
    line = out.state.lines["11"]
    assert (line.returned, line.reserved, line.refunded_shipped) == (1, 0, 1)


def test_no_restock_of_a_shipped_unit_moves_no_stock():
    state = created(1, item(11, "SKU-A", 1)).state
    state = run(state, FULFILLED, fulfillment(501, 1, (11, 1))).state
    out = run(state, REFUND, refund(901, 1, (9011, 11, 1, "no_restock", None)))
    assert commands(out) == []
    assert [n.type for n in out.notices] == ["order.refunded"]


def test_no_restock_of_an_unshipped_unit_still_releases_the_hold():
    state = created(1, item(11, "SKU-A", 3)).state
    state = run(state, FULFILLED, fulfillment(501, 1, (11, 1))).state
    out = run(state, REFUND, refund(901, 1, (9011, 11, 1, "no_restock", None)))
    assert commands(out) == [("release", "SKU-A", 1, "wh-1", key(1, 11, "release:refund:901"))]
    assert out.state.lines["11"].reserved == 1


def test_refund_inside_a_snapshot_then_its_own_webhook_is_applied_once():
    body = refund(901, 1, (9011, 11, 1, "cancel", None))
    snapshot = order(1, item(11, "SKU-A", 3, current=2), updated=31, refunds=(body,))
    via_snapshot = run(created().state, UPDATED, snapshot)
    assert commands(via_snapshot) == [
        ("release", "SKU-A", 1, "wh-1", key(1, 11, "release:refund:901"))
    ]
    late = run(via_snapshot.state, REFUND, body)
    assert late.replay and commands(late) == commands(via_snapshot)
    again = run(late.state, UPDATED, snapshot)
    assert again.replay and commands(again) == commands(via_snapshot)


def test_order_edit_reserves_or_releases_the_difference():
    state = created(1, item(11, "SKU-A", 2)).state
    removed = run(state, "orders/edited", edit(71, 1, committed=5, removals=((11, 1),)))
    assert commands(removed) == [("release", "SKU-A", 1, "wh-1", key(1, 11, "release:edit:71"))]
    (edited,) = removed.notices
    assert edited.type == "order.edited" and edited.payload["edit_id"] == "71"
    assert edited.payload["lines"][0]["quantity"] == -1
    added = run(removed.state, "orders/edited", edit(72, 1, committed=6, additions=((11, 3),)))
    assert commands(added) == [("reserve", "SKU-A", 3, "wh-1", key(1, 11, "reserve:edit:72"))]
    # Shopify's orders/updated for the same edits agrees: nothing more to do.
    after = run(added.state, UPDATED, order(1, item(11, "SKU-A", 5, current=4), updated=6))
    assert commands(after) == []


def test_orders_updated_diff_reserves_and_releases_changed_quantities():
    state = created(1, item(11, "SKU-A", 2)).state
    grown = run(state, UPDATED, order(1, item(11, "SKU-A", 3), updated=5))
    ((command, sku, qty, loc, grown_key),) = commands(grown)
    assert (command, sku, qty, loc) == ("reserve", "SKU-A", 1, "wh-1")
    ms, _ = rev_of(grown_key)
    assert grown_key.startswith(key(1, 11, "reserve:rev:"))
    assert ms == int(T0.timestamp() * 1000) + 5 * 60_000
    assert [n.type for n in grown.notices] == ["order.edited"]
    shrunk = run(grown.state, UPDATED, order(1, item(11, "SKU-A", 3, current=1), updated=6))
    ((command, _, qty, _, shrunk_key),) = commands(shrunk)
    assert (command, qty) == ("release", 2)
    assert shrunk_key.startswith(key(1, 11, "release:rev:")) and shrunk_key != grown_key
    # The edit webhook for a change a newer snapshot already reflected changes nothing.
    late = run(shrunk.state, "orders/edited", edit(73, 1, committed=6, removals=((11, 2),)))
    assert commands(late) == []
    assert [n.type for n in late.notices] == ["order.edited"]


def test_same_snapshot_redelivered_gives_the_same_revision_key():
    state = created(1, item(11, "SKU-A", 2)).state
    body = order(1, item(11, "SKU-A", 3), updated=5)
    first = run(state, UPDATED, body)
    again = run(first.state, UPDATED, body)
    assert again.replay and commands(again) == commands(first)
    # A different snapshot in the same second is a different revision.
    other = run(first.state, UPDATED, order(1, item(11, "SKU-A", 4), updated=5))
    assert commands(other)[0][4] != commands(first)[0][4]
    assert commands(other)[0][:3] == ("reserve", "SKU-A", 1)


def test_stale_snapshot_delivered_late_changes_nothing():
    state = created(1, item(11, "SKU-A", 3)).state
    newer = run(state, UPDATED, order(1, item(11, "SKU-A", 3, current=1), updated=10))
    assert [c[:3] for c in commands(newer)] == [("release", "SKU-A", 2)]
    older = run(newer.state, UPDATED, order(1, item(11, "SKU-A", 3, current=2), updated=5))
    assert commands(older) == [] and older.notices == [] and not older.changed


def test_create_delivered_after_an_update_is_stale():
    first = run(None, UPDATED, order(1, item(11, "SKU-A", 2), updated=1))
    ((command, _, qty, _, k),) = commands(first)
    assert (command, qty) == ("reserve", 2) and ":reserve:rev:" in k
    late_create = run(first.state, CREATE, order(1, item(11, "SKU-A", 2), updated=0))
    assert commands(late_create) == [] and late_create.notices == []


def test_shipment_seen_before_the_order_takes_stock_without_a_reservation():
    shipped = run(None, FULFILLED, fulfillment(501, 1, (11, 2)))
    assert commands(shipped) == [
        ("adjust", "SKU-A", -2, "wh-1", key(1, 11, "adjust:fulfillment:501"))
    ]
    create = run(shipped.state, CREATE, order(1, item(11, "SKU-A", 2)))
    assert commands(create) == []


def test_unmapped_line_is_an_event_not_a_command():
    out = created(1, item(11, "SKU-A", 1), item(12, None, 2, variant_id=55))
    assert commands(out) == [("reserve", "SKU-A", 1, "wh-1", key(1, 11, "reserve"))]
    unmapped = [n for n in out.notices if n.type == "order.line_unmapped"]
    assert [n.payload for n in unmapped] == [
        {
            "shop": SHOP,
            "order_id": "1",
            "line_id": "12",
            "variant_id": "55",
            "product_id": "712",
            "title": "Product 12",
            "quantity": 2,
        }
    ]
    received = next(n for n in out.notices if n.type == "order.received")
    assert received.payload["unmapped_lines"] == ["12"]
    # Shipping, refunding and cancelling the unmapped line never crash nor command.
    state = run(out.state, FULFILLED, fulfillment(501, 1, (12, 1), sku=None)).state
    state = run(state, REFUND, refund(901, 1, (9011, 12, 1, "return", None))).state
    cancel = run(state, CANCELLED, order(1, item(11, "SKU-A", 1), updated=9, cancelled=9))
    assert commands(cancel) == [("release", "SKU-A", 1, "wh-1", key(1, 11, "release:cancel"))]


def test_line_without_sku_maps_through_the_store_variant_mapping():
    body = order(1, item(12, None, 2, variant_id=55))
    out = run(None, CREATE, body, skumap={"55": "SKU-M"})
    assert commands(out) == [("reserve", "SKU-M", 2, "wh-1", key(1, 12, "reserve"))]
    assert not [n for n in out.notices if n.type == "order.line_unmapped"]


def test_mapping_that_arrives_later_reserves_on_the_next_snapshot():
    first = run(None, CREATE, order(1, item(12, None, 2, variant_id=55)))
    assert commands(first) == []
    later = run(
        first.state, UPDATED, order(1, item(12, None, 2, variant_id=55), updated=3), {"55": "SKU-M"}
    )
    ((command, sku, qty, _, k),) = commands(later)
    assert (command, sku, qty) == ("reserve", "SKU-M", 2) and ":reserve:rev:" in k
    assert not [n for n in later.notices if n.type == "order.line_unmapped"]


def test_order_created_cancelled_reserves_nothing():
    out = run(None, CREATE, order(1, item(11, "SKU-A", 2), cancelled=0))
    assert commands(out) == []
    assert [n.type for n in out.notices] == ["order.received", "order.cancelled"]


def test_deleted_order_releases_what_it_still_holds():
    state = created(1, item(11, "SKU-A", 2)).state
    out = run(state, "orders/delete", {"id": 1})
    assert commands(out) == [("release", "SKU-A", 2, "wh-1", key(1, 11, "release:delete"))]
    assert run(out.state, "orders/delete", {"id": 1}).replay


def test_two_edits_delivered_in_reverse_order_both_apply():
    state = created(1, item(11, "SKU-A", 2)).state
    second = run(state, "orders/edited", edit(72, 1, committed=6, additions=((11, 3),)))
    first = run(second.state, "orders/edited", edit(71, 1, committed=5, removals=((11, 1),)))
    assert commands(second) == [("reserve", "SKU-A", 3, "wh-1", key(1, 11, "reserve:edit:72"))]
    assert commands(first) == [("release", "SKU-A", 1, "wh-1", key(1, 11, "release:edit:71"))]
    assert first.state.lines["11"].reserved == 4


def test_cancellation_carrying_its_restock_refund_releases_everything_as_the_cancel():
    state = created(1, item(11, "SKU-A", 2), item(12, "SKU-B", 1)).state
    restock = refund(901, 1, (9011, 11, 2, "cancel", 1), (9012, 12, 1, "cancel", 1))
    body = order(
        1,
        item(11, "SKU-A", 2, current=0),
        item(12, "SKU-B", 1, current=0),
        updated=5,
        cancelled=5,
        refunds=(restock,),
    )
    out = run(state, CANCELLED, body)
    assert commands(out) == [
        ("release", "SKU-A", 2, "wh-1", key(1, 11, "release:cancel")),
        ("release", "SKU-B", 1, "wh-1", key(1, 12, "release:cancel")),
    ]
    assert [n.type for n in out.notices] == ["order.refunded", "order.cancelled"]
    late = run(out.state, REFUND, restock)
    assert late.replay and commands(late) == []
