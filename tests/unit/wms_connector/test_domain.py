from datetime import UTC, datetime

from stocksync_common.events import WmsEvent
from wms_connector.domain import commands_for


def event(kind, qty):
    return WmsEvent(
        event_id="e1",
        event_type=kind,
        occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
        lines=[{"sku": "A", "quantity": qty, "location": "wh-1"}],  # type: ignore[list-item]
    )


def test_receipt_adds_stock():
    (cmd,) = commands_for(event("receipt", 5))
    assert (cmd.command, cmd.quantity, cmd.idempotency_key) == ("adjust", 5, "wms:e1:line:0:adjust")


def test_adjustment_keeps_its_sign():
    (cmd,) = commands_for(event("adjustment", -2))
    assert (cmd.command, cmd.quantity) == ("adjust", -2)


def test_cycle_count_sets_on_hand_as_of_the_count():
    (cmd,) = commands_for(event("cycle_count", 40))
    assert cmd.command == "set_on_hand" and cmd.quantity == 40
    assert cmd.as_of == datetime(2026, 11, 1, tzinfo=UTC)


def test_shipment_commits():
    (cmd,) = commands_for(event("shipment", 3))
    assert (cmd.command, cmd.quantity) == ("commit", 3)
