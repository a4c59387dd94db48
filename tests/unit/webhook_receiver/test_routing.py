import json

import pytest
from unit.webhook_receiver.harness import ISSUE_TOPICS, sample_body

from stocksync_common.topics import COMPLIANCE, WEBHOOKS_PARKED, WEBHOOKS_SHOPIFY
from webhook_receiver.domain.routing import (
    ROUTES,
    record_key,
    resource_id,
    route_for,
    topic_label,
)

SHOP = "s.myshopify.com"


def test_every_topic_of_the_issue_has_a_route_and_nothing_else_does():
    assert set(ROUTES) == set(ISSUE_TOPICS)


@pytest.mark.parametrize(
    ("topic", "kafka_topic", "handler"),
    [
        ("orders/create", WEBHOOKS_SHOPIFY, "order-consumer"),
        ("orders/edited", WEBHOOKS_SHOPIFY, "order-consumer"),
        ("refunds/create", WEBHOOKS_SHOPIFY, "order-consumer"),
        ("fulfillments/create", WEBHOOKS_SHOPIFY, "order-consumer"),
        ("fulfillments/update", WEBHOOKS_SHOPIFY, "order-consumer"),
        ("inventory_levels/update", WEBHOOKS_SHOPIFY, "shopify-sync"),
        ("products/delete", WEBHOOKS_SHOPIFY, "shopify-sync"),
        ("collections/create", WEBHOOKS_SHOPIFY, "shopify-sync"),
        ("collections/update", WEBHOOKS_SHOPIFY, "shopify-sync"),
        ("collections/delete", WEBHOOKS_SHOPIFY, "shopify-sync"),
        ("app/uninstalled", WEBHOOKS_SHOPIFY, "shopify-sync"),
        ("customers/data_request", COMPLIANCE, "compliance"),
        ("customers/redact", COMPLIANCE, "compliance"),
        ("shop/redact", COMPLIANCE, "compliance"),
        ("carts/create", WEBHOOKS_PARKED, "parked"),
        ("", WEBHOOKS_PARKED, "parked"),
    ],
)
def test_routes(topic, kafka_topic, handler):
    route = route_for(topic)
    assert (route.kafka_topic, route.handler) == (kafka_topic, handler)
    assert route.compliance == (kafka_topic == COMPLIANCE)
    assert route.parked == (kafka_topic == WEBHOOKS_PARKED)


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("orders/create", lambda b: b["id"]),
        ("orders/edited", lambda b: b["order_edit"]["order_id"]),
        ("refunds/create", lambda b: b["order_id"]),
        ("fulfillments/create", lambda b: b["order_id"]),
        ("fulfillments/update", lambda b: b["order_id"]),
        ("inventory_levels/update", lambda b: b["inventory_item_id"]),
        ("products/delete", lambda b: b["id"]),
        ("collections/update", lambda b: b["id"]),
        ("collections/delete", lambda b: b["id"]),
    ],
)
def test_keys_of_real_samples_name_the_resource_that_orders_them(topic, expected):
    body = json.loads(sample_body(topic))
    assert record_key(SHOP, route_for(topic), body, "wid") == f"{SHOP}/{expected(body)}"


def test_order_family_shares_the_order_key():
    order = json.loads(sample_body("orders/create"))
    refund = {**json.loads(sample_body("refunds/create")), "order_id": order["id"]}
    keys = {
        record_key(SHOP, route_for("orders/create"), order, "a"),
        record_key(SHOP, route_for("refunds/create"), refund, "b"),
        record_key(
            SHOP, route_for("orders/edited"), {"order_edit": {"order_id": order["id"]}}, "c"
        ),
    }
    assert keys == {f"{SHOP}/{order['id']}"}


def test_shop_wide_topics_and_missing_ids():
    assert record_key(SHOP, route_for("shop/redact"), {"shop_id": 1}, "w") == SHOP
    assert record_key(SHOP, route_for("carts/create"), {"id": 5}, "w") == SHOP
    assert record_key(SHOP, route_for("orders/create"), {}, "w-1") == f"{SHOP}/w-1"
    assert resource_id({"id": True}, ("id",)) is None
    assert resource_id({"id": {"x": 1}}, ("id",)) is None
    assert resource_id({"order_edit": 3}, ("order_edit", "order_id")) is None
    assert resource_id({"id": "gid"}, ("id",)) == "gid"


def test_topic_labels_are_bounded():
    assert topic_label("orders/create") == "orders/create"
    assert topic_label("x" * 500) == "other"
    assert topic_label("Orders/Create; DROP") == "other"
