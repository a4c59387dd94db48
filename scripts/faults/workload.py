"""A seeded workload of signed Shopify order webhooks (creates and cancels, with duplicates,
reorders and hours-late retries) plus WMS receipts, and the model of its final truth."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

SECRETS = {
    "parent-store.myshopify.com": b"demo-parent-secret",
    "child-eu.myshopify.com": b"demo-child-eu-secret",
    "child-us.myshopify.com": b"demo-child-us-secret",
}
GIDS = {
    "parent-store.myshopify.com": "gid://shopify/Location/1001",
    "child-eu.myshopify.com": "gid://shopify/Location/2001",
    "child-us.myshopify.com": "gid://shopify/Location/3001",
}
INITIAL = 500
# An hour ago, to the minute: every stamp below (up to 6 hours late, 5 minutes after) stays
# inside the receiver's accepted window (STOCKSYNC_MAX_DELIVERY_AGE_S, 48 h) and clock skew.
BASE_TIME = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)


@dataclass
class Order:
    id: int
    shop: str
    lines: list[tuple[int, str, int]]  # (line id, sku, quantity)
    cancelled: bool = False

    def body(self, *, cancel: bool) -> bytes:
        updated = BASE_TIME + timedelta(minutes=5 if cancel else 0)
        doc: dict[str, Any] = {
            "id": self.id,
            "admin_graphql_api_id": f"gid://shopify/Order/{self.id}",
            "name": f"#{self.id % 100000}",
            "updated_at": updated.isoformat(),
            "line_items": [
                {"id": lid, "sku": sku, "quantity": qty, "title": sku, "price": "10.00"}
                for lid, sku, qty in self.lines
            ],
        }
        if cancel:
            doc["cancelled_at"] = updated.isoformat()
            doc["cancel_reason"] = "customer"
        return orjson.dumps(doc)


@dataclass
class Delivery:
    kind: str  # "shopify" or "wms"
    label: str  # create / cancel / duplicate / late-retry / resend / receipt
    order: Order | None = None
    topic: str = ""
    webhook_id: str = ""
    triggered_at: str = ""
    body: bytes = b""
    receipt: tuple[str, int] | None = None

    def headers(self) -> dict[str, str]:
        if self.order is None:
            raise ValueError("a WMS delivery has no Shopify headers")
        shop = self.order.shop
        digest = hmac.new(SECRETS[shop], self.body, hashlib.sha256).digest()
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": self.topic,
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            "X-Shopify-Shop-Domain": shop,
            "X-Shopify-Webhook-Id": self.webhook_id,
            "X-Shopify-Event-Id": self.webhook_id,
            "X-Shopify-Triggered-At": self.triggered_at,
            "X-Shopify-API-Version": "2026-10",
        }


@dataclass
class Workload:
    seed: int
    skus: list[str]
    orders: list[Order] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)

    def expected(self, accepted: list[Delivery]) -> dict[str, int]:
        """Final available per SKU from the accepted deliveries: every order with an accepted
        webhook holds its units unless a cancel of it was accepted; receipts add on hand."""
        truth = dict.fromkeys(self.skus, INITIAL)
        seen: dict[int, Order] = {}
        cancelled: set[int] = set()
        for d in accepted:
            if d.receipt is not None:
                truth[d.receipt[0]] += d.receipt[1]
            elif d.order is not None:
                seen[d.order.id] = d.order
                if d.topic == "orders/cancelled":
                    cancelled.add(d.order.id)
        for oid, order in seen.items():
            if oid not in cancelled:
                for _, sku, qty in order.lines:
                    truth[sku] -= qty
        return truth

    def held(self, accepted: list[Delivery]) -> dict[int, int]:
        """Units each order with an accepted webhook should end up holding."""
        out: dict[int, int] = {}
        for d in accepted:
            if d.order is not None:
                out.setdefault(d.order.id, sum(q for _, _, q in d.order.lines))
                if d.topic == "orders/cancelled":
                    out[d.order.id] = -1
        return {oid: max(n, 0) for oid, n in out.items()}


def _shopify(order: Order, label: str, *, cancel: bool, late_h: int = 0) -> Delivery:
    at = BASE_TIME + timedelta(minutes=5 if cancel else 0) - timedelta(hours=late_h)
    return Delivery(
        kind="shopify",
        label=label,
        order=order,
        topic="orders/cancelled" if cancel else "orders/create",
        webhook_id=str(uuid.uuid4()),
        triggered_at=at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        body=order.body(cancel=cancel),
    )


def generate(seed: int, n_orders: int, n_skus: int = 3, n_receipts: int = 2) -> Workload:
    """Orders of 1-2 lines on random stores; a third cancelled; ~20 % of webhooks delivered
    twice (same id), some re-sent hours late with a new id, some cancels before creates."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not security
    tag = uuid.UUID(int=rng.getrandbits(128)).hex[:8].upper()
    wl = Workload(seed, [f"FLT-{tag}-{i}" for i in range(n_skus)])
    shops = sorted(SECRETS)
    base_id = 7_000_000_000_000 + rng.randrange(10**11) * 100
    for i in range(n_orders):
        oid = base_id + i * 10
        skus = rng.sample(wl.skus, k=min(len(wl.skus), rng.choice((1, 2))))
        lines = [(oid + j + 1, sku, rng.randint(1, 3)) for j, sku in enumerate(skus)]
        wl.orders.append(Order(oid, rng.choice(shops), lines, cancelled=rng.random() < 0.33))
    for order in wl.orders:
        create = _shopify(order, "create", cancel=False)
        batch = [create]
        if order.cancelled:
            cancel = _shopify(order, "cancel", cancel=True)
            batch = [cancel, create] if rng.random() < 0.3 else [create, cancel]  # reorder
        for d in list(batch):
            if rng.random() < 0.2:  # Shopify retries with the same webhook id
                batch.append(Delivery(**{**d.__dict__, "label": "duplicate"}))
            if rng.random() < 0.15:  # an hours-late resend of the same event, new webhook id
                late = _shopify(order, "late-retry", cancel=d.topic == "orders/cancelled")
                late.triggered_at = (BASE_TIME - timedelta(hours=6)).strftime(
                    "%Y-%m-%dT%H:%M:%S.000Z"
                )
                batch.append(late)
        wl.deliveries.extend(batch)
    for _ in range(n_receipts):
        receipt = (rng.choice(wl.skus), rng.randint(5, 20))
        at = rng.randrange(len(wl.deliveries) + 1)
        wl.deliveries.insert(at, Delivery(kind="wms", label="receipt", receipt=receipt))
    return wl
