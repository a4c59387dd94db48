import pytest

from order_consumer.domain import BadOrder, line_commands, parse_order
from stocksync_common.stores import Store

STORE = Store(
    shop="a.myshopify.com",
    access_token="t",  # type: ignore[arg-type]
    webhook_secret="s",  # type: ignore[arg-type]
    locations={"wh-1": "gid://shopify/Location/1"},
)


def body(*lines):
    return {"id": 820982911946154508, "name": "#1001", "line_items": list(lines)}


def test_one_reserve_per_line_keyed_by_source():
    order = parse_order(
        STORE, body({"id": 1, "sku": "A", "quantity": 2}, {"id": 2, "sku": "B", "quantity": 1})
    )
    cmds = line_commands(order, "reserve")
    assert [(c.sku, c.quantity, c.location) for c in cmds] == [("A", 2, "wh-1"), ("B", 1, "wh-1")]
    assert (
        cmds[0].idempotency_key == "shopify:a.myshopify.com:order:820982911946154508:line:1:reserve"
    )
    assert cmds[0].order is not None and cmds[0].order.line_id == "1"


def test_lines_without_sku_are_reported_not_commanded():
    order = parse_order(
        STORE, body({"id": 1, "sku": "", "quantity": 2}, {"id": 2, "sku": "B", "quantity": 1})
    )
    assert order.unmapped_lines == ["1"]
    assert [c.sku for c in line_commands(order, "reserve")] == ["B"]


@pytest.mark.parametrize(
    "bad",
    [
        {"line_items": []},
        {"id": 1},
        {"id": 1, "line_items": [{"sku": "A", "quantity": 1}]},
        {"id": 1, "line_items": [{"id": 1, "sku": "A", "quantity": "2"}]},
        {"id": 1, "line_items": [{"id": 1, "sku": "A", "quantity": -1}]},
    ],
)
def test_malformed_orders_are_refused(bad):
    with pytest.raises(BadOrder):
        parse_order(STORE, bad)
