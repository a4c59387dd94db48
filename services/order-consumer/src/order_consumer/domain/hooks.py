"""Webhook topic and body to a typed hook; ``None`` for topics order-consumer ignores."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from order_consumer.domain.payloads import (
    BadOrder,
    Fulfillment,
    Id,
    LineItem,
    OrderEditPayload,
    OrderSnapshot,
    Payload,
    Refund,
    parse,
)

SNAPSHOT_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
        "orders/paid",
    }
)
CREATE_FACT = "create"


@dataclass(frozen=True)
class SnapshotHook:
    topic: str
    order: OrderSnapshot

    @property
    def order_id(self) -> str:
        return self.order.id

    @property
    def fact(self) -> str:
        return CREATE_FACT if self.topic == "orders/create" else snapshot_revision(self.order)


def fulfillment_fact(f: Fulfillment) -> str:
    """A shipment's fact, or its cancellation's (``fulfillments/update`` with status
    ``cancelled``: a fact of its own, so it is not taken for a redelivery of the shipment)."""
    return f"fulfillment:{f.id}:cancelled" if f.cancelled else f"fulfillment:{f.id}"


@dataclass(frozen=True)
class FulfillmentHook:
    order_id: str
    fulfillment: Fulfillment

    @property
    def fact(self) -> str:
        return fulfillment_fact(self.fulfillment)


@dataclass(frozen=True)
class RefundHook:
    order_id: str
    refund: Refund

    @property
    def fact(self) -> str:
        return f"refund:{self.refund.id}"


@dataclass(frozen=True)
class EditHook:
    order_id: str
    edit: OrderEditPayload

    @property
    def fact(self) -> str:
        return f"edit:{self.edit.id}"


@dataclass(frozen=True)
class DeleteHook:
    order_id: str
    fact: str = "delete"


Hook = SnapshotHook | FulfillmentHook | RefundHook | EditHook | DeleteHook


def parse_webhook(topic: str, body: dict[str, Any]) -> Hook | None:
    """The typed hook for an order-lifecycle topic; raises :class:`BadOrder` on bad bodies."""
    if topic in SNAPSHOT_TOPICS:
        return SnapshotHook(topic, parse(OrderSnapshot, body, topic))
    if topic in ("fulfillments/create", "fulfillments/update"):
        f = parse(Fulfillment, body, topic)
        return FulfillmentHook(_required(f.order_id, topic), f)
    if topic == "refunds/create":
        r = parse(Refund, body, topic)
        return RefundHook(_required(r.order_id, topic), r)
    if topic == "orders/edited":
        edit = parse(_Edited, body, topic).order_edit
        return EditHook(edit.order_id, edit)
    if topic == "orders/delete":
        return DeleteHook(parse(_Deleted, body, topic).id)
    return None


class _Edited(Payload):
    order_edit: OrderEditPayload


class _Deleted(Payload):
    id: Id


def _required(order_id: str | None, topic: str) -> str:
    if order_id is None:
        raise BadOrder(f"{topic}: order_id is missing")
    return order_id


def line_items(hook: Hook) -> Iterator[LineItem]:
    """Every line item a hook carries (for the SKU mapping lookup)."""
    if isinstance(hook, SnapshotHook):
        yield from hook.order.line_items
        for f in hook.order.fulfillments:
            yield from f.line_items
        refunds = hook.order.refunds
    elif isinstance(hook, FulfillmentHook):
        yield from hook.fulfillment.line_items
        refunds = []
    else:
        refunds = [hook.refund] if isinstance(hook, RefundHook) else []
    for refund in refunds:
        yield from (rl.line_item for rl in refund.refund_line_items if rl.line_item)


def variants_to_map(hook: Hook) -> set[str]:
    """Variant ids of the lines that carry no SKU."""
    return {i.variant_id for i in line_items(hook) if i.sku is None and i.variant_id}


def snapshot_revision(order: OrderSnapshot) -> str:
    """``rev:<updated_at ms>-<digest>``: the same snapshot always gives the same revision,
    and two snapshots in the same second (Shopify's timestamps have seconds) still differ."""
    content = {
        "updated_at": order.updated_at,
        "cancelled_at": order.cancelled_at,
        "lines": [
            (i.id, i.sku, i.variant_id, i.quantity, i.current_quantity) for i in order.line_items
        ],
        "fulfillments": [
            (f.id, f.status, [(i.id, i.quantity) for i in f.line_items]) for f in order.fulfillments
        ],
        "refunds": [r.id for r in order.refunds],
    }
    digest = hashlib.sha256(orjson.dumps(content)).hexdigest()[:10]
    ms = int(order.updated_at.timestamp() * 1000) if order.updated_at else 0
    return f"rev:{ms}-{digest}"
