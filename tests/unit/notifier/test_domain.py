from notifier.domain import crossing
from stocksync_common.events import Levels, StockChange


def change(before, after):
    return StockChange(
        sku="A",
        location="l",
        command="reserve",
        idempotency_key="k",
        version=4,
        before=Levels(),
        after=Levels(),
        sku_available_before=before,
        sku_available_after=after,
    )


def test_crossing_to_zero_alerts_out_of_stock():
    alert = crossing(change(2, 0))
    assert alert is not None and alert.kind == "out_of_stock" and "A" in alert.text()


def test_back_in_stock():
    alert = crossing(change(0, 5))
    assert alert is not None and alert.kind == "back_in_stock"


def test_no_crossing_no_alert():
    assert crossing(change(5, 3)) is None
    assert crossing(change(0, 0)) is None
    assert crossing(change(-1, -2)) is None
