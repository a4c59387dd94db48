from notifier.domain.alerts import Alert
from notifier.domain.templates import email_subject, render
from stocksync_common.events import OrderLineRef

CONSOLE = "https://ops.example.test/console/"


def alert(**kw):
    base = {
        "id": "a1",
        "kind": "low_stock",
        "sku": "TEE/RED M",
        "available_before": 6,
        "available": 4,
        "threshold": 5,
        "location": "wh-1",
        "store": "north.myshopify.com",
        "order": OrderLineRef(shop="north.myshopify.com", order_id="1001", line_id="9"),
    }
    return Alert(**{**base, **kw})


def test_text_has_sku_store_levels_order_and_console_link():
    text = render(alert(), CONSOLE).text
    assert "TEE/RED M is low: 4 available (threshold 5)" in text
    assert "Store: north.myshopify.com" in text
    assert "Available: 6 -> 4" in text
    assert "Order: north.myshopify.com #1001 line 9" in text
    assert "https://ops.example.test/console/inventory/TEE%2FRED%20M" in text


def test_every_kind_renders():
    for kind in ("out_of_stock", "back_in_stock", "oversell", "reorder", "velocity"):
        title = render(alert(kind=kind, reorder_quantity=10, rate_per_minute=30), CONSOLE).title
        assert "TEE/RED M" in title


def test_digest_lists_what_it_summarises():
    held = [alert(id="x"), alert(id="y", kind="out_of_stock", available=0)]
    r = render(alert(kind="digest", items=held), CONSOLE)
    assert "2 more alerts" in r.title and len([ln for ln in r.lines if ln.startswith("- ")]) == 2


def test_email_subject_drops_the_emoji():
    assert email_subject(alert(kind="out_of_stock"), CONSOLE).startswith(
        "[StockSync] TEE/RED M is out of stock"
    )
