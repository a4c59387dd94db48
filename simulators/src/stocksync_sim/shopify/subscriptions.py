"""The app's installation (its granted access scopes) and its webhook subscriptions, as the
Admin API shows them: ``currentAppInstallation { accessScopes }``, ``webhookSubscriptions``,
``webhookSubscription(id:)`` and ``webhookSubscriptionCreate/Update/Delete`` with Shopify's
userErrors for bad input (an address that is not a URL, a topic and address already taken, an
unknown id).

Deliveries go to the subscriptions of their topic once a store has any (see
``Simulator.webhook_urls``). One deviation from Shopify: an ``http://`` address on a loopback
host is accepted, so a local receiver can be subscribed; Shopify delivers to HTTPS only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from stocksync_sim.delivery import rfc3339, utc_now
from stocksync_sim.shopify.executor import Call, GqlObject, Resolve
from stocksync_sim.shopify.objects import connection
from stocksync_sim.shopify.state import StoreState, gid

# What a store grants when its configuration names no scopes: all StockSync may use.
DEFAULT_SCOPES = (
    "write_inventory",
    "read_inventory",
    "write_products",
    "read_products",
    "write_publications",
    "read_publications",
    "read_locations",
    "read_orders",
    "read_fulfillments",
    "write_merchant_managed_fulfillment_orders",
    "read_merchant_managed_fulfillment_orders",
)
LOOPBACK = ("127.0.0.1", "localhost", "::1")
TAKEN = "Address for this topic has already been taken"


@dataclass
class WebhookSubscription:
    number: int
    topic: str  # WebhookSubscriptionTopic: ORDERS_CREATE
    uri: str
    api_version: str
    format: str = "JSON"
    created_at: str = field(default_factory=lambda: rfc3339(utc_now()))
    updated_at: str = field(default_factory=lambda: rfc3339(utc_now()))

    @property
    def id(self) -> str:
        return gid("WebhookSubscription", self.number)

    @property
    def rest_topic(self) -> str:
        """``orders/create``: the topic as deliveries name it (X-Shopify-Topic)."""
        family, _, event = self.topic.lower().rpartition("_")
        return f"{family}/{event}"


def scopes_of(store: StoreState) -> tuple[str, ...]:
    granted = store.granted_scopes or store.config.access_scopes
    return granted if granted is not None else DEFAULT_SCOPES


def _subscription_object(sub: WebhookSubscription) -> GqlObject:
    return GqlObject(
        "WebhookSubscription",
        {"id": sub.id, "legacyResourceId": str(sub.number), "topic": sub.topic, "uri": sub.uri,
         "callbackUrl": sub.uri, "format": sub.format, "apiVersion": _version(sub),
         "createdAt": sub.created_at, "updatedAt": sub.updated_at, "filter": None,
         "includeFields": [], "metafieldNamespaces": [], "name": None},
        ("Node",),
    )  # fmt: skip


def _version(sub: WebhookSubscription) -> GqlObject:
    return GqlObject("ApiVersion", {"handle": sub.api_version, "displayName": sub.api_version,
                                    "supported": True}, cost=0)  # fmt: skip


def installation(store: StoreState) -> GqlObject:
    scopes = [GqlObject("AccessScope", {"handle": h, "description": h}, cost=0)
              for h in scopes_of(store)]  # fmt: skip
    return GqlObject(
        "AppInstallation",
        {"id": gid("AppInstallation", store.shop_number), "accessScopes": scopes},
        ("Node",),
    )


def subscriptions_query(store: StoreState, call: Call) -> GqlObject:
    topics = call.args.get("topics")
    uri = call.args.get("uri")
    found = [
        (sub.number, sub)
        for sub in store.webhook_subscriptions.values()
        if (not topics or sub.topic in topics) and (uri is None or sub.uri == uri)
    ]
    return connection("WebhookSubscription", found, _subscription_object, call.args)


def subscription_query(store: StoreState, call: Call) -> GqlObject | None:
    sub = store.webhook_subscriptions.get(str(call.args.get("id")))
    return _subscription_object(sub) if sub else None


def _error(fields: list[str], message: str) -> dict[str, Any]:
    return {"field": fields, "message": message}


def _address_error(uri: object) -> dict[str, Any] | None:
    parts = urlsplit(uri) if isinstance(uri, str) else None
    if parts is None or not parts.netloc:
        return _error(["webhookSubscription", "uri"], "Address is invalid")
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
        return _error(["webhookSubscription", "uri"], "Address protocol is not supported")
    return None


def _taken(store: StoreState, topic: str, uri: str, other_than: str | None = None) -> bool:
    return any(s.topic == topic and s.uri == uri and s.id != other_than
               for s in store.webhook_subscriptions.values())  # fmt: skip


def _payload(name: str, sub: WebhookSubscription | None, errors: list[Any]) -> GqlObject:
    body = {"webhookSubscription": _subscription_object(sub) if sub else None,
            "userErrors": [GqlObject("UserError", e, cost=0) for e in errors]}  # fmt: skip
    return GqlObject(name, body, cost=0)


def create(store: StoreState, call: Call) -> GqlObject:
    topic = str(call.args.get("topic"))
    given = call.args.get("webhookSubscription") or {}
    uri = given.get("uri") or given.get("callbackUrl")
    error = _address_error(uri)
    if error is None and _taken(store, topic, str(uri)):
        error = _error(["webhookSubscription", "uri"], TAKEN)
    if error is not None:
        return _payload("WebhookSubscriptionCreatePayload", None, [error])
    sub = WebhookSubscription(store.next_id(), topic, str(uri), store.config.api_version,
                              str(given.get("format") or "JSON"))  # fmt: skip
    store.webhook_subscriptions[sub.id] = sub
    return _payload("WebhookSubscriptionCreatePayload", sub, [])


def update(store: StoreState, call: Call) -> GqlObject:
    sub = store.webhook_subscriptions.get(str(call.args.get("id")))
    if sub is None:
        error = _error(["id"], "Webhook subscription does not exist")
        return _payload("WebhookSubscriptionUpdatePayload", None, [error])
    given = call.args.get("webhookSubscription") or {}
    uri = given.get("uri") or given.get("callbackUrl") or sub.uri
    problem = _address_error(uri)
    if problem is None and _taken(store, sub.topic, str(uri), sub.id):
        problem = _error(["webhookSubscription", "uri"], TAKEN)
    if problem is not None:
        return _payload("WebhookSubscriptionUpdatePayload", None, [problem])
    sub.uri = str(uri)
    sub.format = str(given.get("format") or sub.format)
    sub.updated_at = rfc3339(utc_now())
    return _payload("WebhookSubscriptionUpdatePayload", sub, [])


def delete(store: StoreState, call: Call) -> GqlObject:
    sub = store.webhook_subscriptions.pop(str(call.args.get("id")), None)
    errors = [] if sub else [_error(["id"], "Webhook subscription does not exist")]
    return GqlObject(
        "WebhookSubscriptionDeletePayload",
        {"deletedWebhookSubscriptionId": sub.id if sub else None,
         "userErrors": [GqlObject("UserError", e, cost=0) for e in errors]},
        cost=0,
    )  # fmt: skip


def query_fields(store: StoreState) -> dict[str, Any]:
    return {
        "currentAppInstallation": installation(store),
        "webhookSubscriptions": Resolve(lambda call: subscriptions_query(store, call)),
        "webhookSubscription": Resolve(lambda call: subscription_query(store, call)),
    }


def mutation_fields(store: StoreState) -> dict[str, Any]:
    return {
        "webhookSubscriptionCreate": Resolve(lambda call: create(store, call)),
        "webhookSubscriptionUpdate": Resolve(lambda call: update(store, call)),
        "webhookSubscriptionDelete": Resolve(lambda call: delete(store, call)),
    }


def urls_for(store: StoreState, topic: str) -> list[str]:
    """Where a delivery of ``topic`` (``orders/create``) goes: each JSON subscription to it."""
    return [s.uri for s in store.webhook_subscriptions.values()
            if s.rest_topic == topic and s.format == "JSON"]  # fmt: skip
