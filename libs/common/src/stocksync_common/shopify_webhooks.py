"""The Shopify webhook topics StockSync consumes: one description that webhook-receiver routes
by and shopify-sync subscribes from (``stocksync-stores connect``), so the two never differ.

Each topic says where the receiver publishes it, which part of the body keys its records,
which family of handlers acts on it, and which access scope Shopify requires before an app may
subscribe to it (any one of ``scopes``; Shopify's webhook reference lists them per topic). The
three mandatory compliance topics cannot be subscribed through the Admin API
(``WebhookSubscriptionTopic`` has no value for them): they are set in the app's configuration
(``compliance_topics`` in ``shopify.app.toml`` or the Partner Dashboard), see
docs/shopify-app.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from stocksync_common.topics import COMPLIANCE, WEBHOOKS_SHOPIFY

# The receiver's path for Shopify deliveries; subscriptions point at <public url> + this.
SHOPIFY_WEBHOOK_PATH = "/webhooks/shopify"

Family = Literal["orders", "catalog", "app", "compliance"]


@dataclass(frozen=True)
class WebhookTopic:
    name: str  # as Shopify sends it in X-Shopify-Topic: orders/create
    family: Family
    key_path: tuple[str, ...] = ("id",)  # the resource id in the body; () = the shop
    scopes: tuple[str, ...] = ()  # any one of these lets the app subscribe

    @property
    def kafka_topic(self) -> str:
        return COMPLIANCE if self.family == "compliance" else WEBHOOKS_SHOPIFY

    @property
    def subscription_topic(self) -> str | None:
        """The ``WebhookSubscriptionTopic`` value (``ORDERS_CREATE``); None for a topic set
        only in the app's configuration (compliance)."""
        if self.family == "compliance":
            return None
        return self.name.upper().replace("/", "_")


_ORDERS = ("read_orders", "read_marketplace_orders")
_INVENTORY = ("read_inventory",)
_PRODUCTS = ("read_products",)

SHOPIFY_TOPICS: tuple[WebhookTopic, ...] = (
    WebhookTopic("orders/create", "orders", scopes=_ORDERS),
    WebhookTopic("orders/updated", "orders", scopes=_ORDERS),
    WebhookTopic("orders/edited", "orders", ("order_edit", "order_id"), _ORDERS),
    WebhookTopic("orders/cancelled", "orders", scopes=_ORDERS),
    WebhookTopic("orders/fulfilled", "orders", scopes=_ORDERS),
    # a refund or fulfilment is keyed by its order: the order's records stay in order
    WebhookTopic(
        "fulfillments/create",
        "orders",
        ("order_id",),
        ("read_fulfillments", "read_marketplace_orders"),
    ),
    # a fulfilment's later status: ``cancelled`` undoes its shipment (ADR 0022, b)
    WebhookTopic(
        "fulfillments/update",
        "orders",
        ("order_id",),
        ("read_fulfillments", "read_marketplace_orders"),
    ),
    WebhookTopic("refunds/create", "orders", ("order_id",), _ORDERS),
    WebhookTopic("inventory_levels/update", "catalog", ("inventory_item_id",), _INVENTORY),
    WebhookTopic("inventory_items/update", "catalog", scopes=("read_inventory", "read_products")),
    WebhookTopic("products/create", "catalog", scopes=_PRODUCTS),
    WebhookTopic("products/update", "catalog", scopes=_PRODUCTS),
    WebhookTopic("products/delete", "catalog", scopes=_PRODUCTS),
    # keyed by the collection: one collection's records stay in order (ADR 0021)
    WebhookTopic("collections/create", "catalog", scopes=_PRODUCTS),
    WebhookTopic("collections/update", "catalog", scopes=_PRODUCTS),
    WebhookTopic("collections/delete", "catalog", scopes=_PRODUCTS),
    # The app's token is revoked; published for shopify-sync, which does not act on it yet
    # (its writes to the shop fail with 401 and the shop's circuit opens).
    WebhookTopic("app/uninstalled", "app", ()),
    WebhookTopic("customers/data_request", "compliance", ()),
    WebhookTopic("customers/redact", "compliance", ()),
    WebhookTopic("shop/redact", "compliance", ()),
)


def subscribable() -> dict[str, WebhookTopic]:
    """The topics an app subscribes through the Admin API, by ``WebhookSubscriptionTopic``."""
    return {t.subscription_topic: t for t in SHOPIFY_TOPICS if t.subscription_topic is not None}
