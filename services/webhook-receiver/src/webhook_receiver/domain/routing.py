"""Where each Shopify webhook topic goes, and who handles it there.

The topics are the shared list in ``stocksync_common.shopify_webhooks`` (shopify-sync
subscribes each store to the same list). Known topics go to ``webhooks.shopify.v1``
(order-consumer reads the order family, shopify-sync the catalog and inventory family), the
mandatory compliance topics to ``compliance.v1``; any other topic is accepted, counted and
parked on ``webhooks.parked.v1`` so nothing Shopify sends is lost. The record key is
``{shop}/{resource id}``, where the resource is the one whose records must stay in order: the
order for every order-family topic (a refund or fulfillment is keyed by its order, not its
own id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from stocksync_common.shopify_webhooks import SHOPIFY_TOPICS
from stocksync_common.topics import COMPLIANCE, WEBHOOKS_PARKED, WEBHOOKS_SHOPIFY


@dataclass(frozen=True)
class Route:
    kafka_topic: str
    handler: str  # the service (or role) that acts on it
    key_path: tuple[str, ...] = ("id",)  # where the resource id is in the body; () = the shop

    @property
    def compliance(self) -> bool:
        return self.kafka_topic == COMPLIANCE

    @property
    def parked(self) -> bool:
        return self.kafka_topic == WEBHOOKS_PARKED


ORDERS = Route(WEBHOOKS_SHOPIFY, "order-consumer")
PARKED = Route(WEBHOOKS_PARKED, "parked", ())
# Who acts on each family of the shared topic list (stocksync_common.shopify_webhooks).
HANDLERS = {
    "orders": "order-consumer",
    "catalog": "shopify-sync",
    "app": "shopify-sync",
    "compliance": "compliance",
}

ROUTES: dict[str, Route] = {
    t.name: Route(t.kafka_topic, HANDLERS[t.family], t.key_path) for t in SHOPIFY_TOPICS
}


_TOPIC_LABEL = re.compile(r"^[a-z_]{1,40}/[a-z_]{1,40}$")


def route_for(topic: str) -> Route:
    return ROUTES.get(topic, PARKED)


def topic_label(topic: str) -> str:
    """A metric label for a topic name: anything not shaped like a Shopify topic is ``other``."""
    return topic if _TOPIC_LABEL.match(topic) else "other"


def resource_id(body: dict[str, Any], path: tuple[str, ...]) -> str | None:
    node: Any = body
    for name in path:
        if not isinstance(node, dict):
            return None
        node = node.get(name)
    if isinstance(node, bool) or not isinstance(node, int | str) or node == "":
        return None
    return str(node)


def record_key(shop: str, route: Route, body: dict[str, Any], webhook_id: str) -> str:
    """``{shop}/{resource id}``; the shop alone for shop-wide topics; the delivery id when
    the body lacks the resource id (still a stable key for retries of that delivery)."""
    if not route.key_path:
        return shop
    rid = resource_id(body, route.key_path)
    return f"{shop}/{rid if rid is not None else webhook_id}"
