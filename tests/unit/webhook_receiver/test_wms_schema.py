import orjson
import pytest

from webhook_receiver.domain.wms import InvalidWmsEvent, parse_wms_event


def event(event_type: str, *lines: tuple[str, int, str], **extra: object) -> bytes:
    doc = {
        "event_id": "ev-1",
        "event_type": event_type,
        "occurred_at": "2026-11-22T10:00:00Z",
        "lines": [{"sku": s, "quantity": q, "location": loc} for s, q, loc in lines],
        **extra,
    }
    return orjson.dumps(doc)


@pytest.mark.parametrize(
    "body",
    [
        event("receipt", ("A", 5, "wh-1")),
        event("adjustment", ("A", -2, "wh-1"), ("B", 3, "wh-1")),
        event("cycle_count", ("A", 0, "wh-1"), ("A", 4, "wh-2")),
        event("shipment", ("A", 1, "wh-1"), order_id="1001"),
    ],
)
def test_valid_events(body):
    parsed = parse_wms_event(body)
    assert parsed.event_id == "ev-1"
    assert parsed.lines


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (event("receipt", ("A", 0, "wh-1")), "receipt.lines.0.quantity"),
        (event("receipt", ("A", -3, "wh-1")), "receipt.lines.0.quantity"),
        (event("adjustment", ("A", 0, "wh-1")), "adjustment.lines.0"),
        (event("cycle_count", ("A", -1, "wh-1")), "cycle_count.lines.0.quantity"),
        (event("cycle_count", ("A", 1, "wh-1"), ("A", 2, "wh-1")), "cycle_count"),
        (event("shipment", ("A", 1, "wh-1")), "shipment.order_id"),
        (event("teleport", ("A", 1, "wh-1")), "body"),
        (event("receipt"), "receipt.lines"),
        (event("receipt", ("", 1, "wh-1")), "receipt.lines.0.sku"),
        (b"[1, 2]", "body"),
        (b"\xff\xfe", "body"),
    ],
)
def test_each_type_has_its_own_rules(body, where):
    with pytest.raises(InvalidWmsEvent) as err:
        parse_wms_event(body)
    assert any(e.startswith(where) for e in err.value.errors), err.value.errors
