"""Shopify order webhooks to inventory commands and order lifecycle events.

For each webhook: parse it, look up the SKU mapping for lines without a SKU, read the
order's state, apply the webhook (pure, :mod:`order_consumer.domain`), save the new state
(compare-and-set; on a conflict read again and recompute), then publish. Saving first is
safe because the state records what each fact produced: a redelivery, after a crash or a
failed publish, publishes the same commands and events again, with the same keys and ids.

A second consumer group reads ``inventory.changed.v1`` for ``order.oversold``: a reservation
of ours that inventory-adjuster refused is recorded in the order's state through the same
compare-and-set save (:func:`order_consumer.domain.apply_refusal`), so later diffs never
release or commit units that were never held.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata, TopicPartition
from prometheus_client import Counter

from order_consumer.adapters.redis_orders import Versioned
from order_consumer.domain import (
    BadOrder,
    Hook,
    OrderState,
    Outcome,
    Refusal,
    apply,
    apply_refusal,
    is_own_reserve,
    parse_webhook,
    variants_to_map,
)
from stocksync_common.consumer import Incoming, PoisonMessage, handling
from stocksync_common.events import (
    EVENT_ADAPTER,
    InventoryCommandRequested,
    OrderLineUnmapped,
    OrderOversold,
    ShopifyWebhookReceived,
    stable_id,
)
from stocksync_common.kafka import send_event
from stocksync_common.stores import Store, StoresConfig
from stocksync_common.topics import INVENTORY_COMMANDS, ORDERS

log = logging.getLogger(__name__)

ORDERS_SEEN = Counter("stocksync_orders_total", "Order webhooks handled, by topic.", ["topic"])
OUTCOMES = Counter(
    "stocksync_order_webhooks_total",
    "Order webhooks by outcome (applied, replayed: seen before, unchanged: stale or no-op).",
    ["topic", "outcome"],
)
UNMAPPED = Counter("stocksync_unmapped_lines_total", "Order lines with no SKU mapping.", ["shop"])
SAVE_CONFLICTS = Counter(
    "stocksync_order_save_conflicts_total", "Order state saves lost to a concurrent save."
)
REFUSALS = Counter(
    "stocksync_order_refusals_total",
    "order.oversold events about our reservations, by outcome (applied, replayed: seen "
    "before, unknown: no such reservation in the order's state).",
    ["outcome"],
)
UNBACKED = Counter(
    "stocksync_order_unbacked_units_total",
    "Units released or committed before the refusal of their reservation was known.",
    ["shop"],
)
UNMAPPED_TYPE = OrderLineUnmapped.model_fields["type"].default
MaybeOutcome = TypeVar("MaybeOutcome", bound=Outcome | None)


class OrderRepository(Protocol):
    async def load(self, shop: str, order_id: str) -> Versioned: ...

    async def save(self, shop: str, order_id: str, rev: int, state: OrderState) -> bool: ...

    async def sku_map(self, shop: str, variant_ids: Iterable[str]) -> dict[str, str]: ...


class OrderSaveConflict(RuntimeError):
    """Other consumers kept saving the same order: transient, the consumer loop retries."""


@dataclass
class OrderHandler:
    stores: StoresConfig
    producer: AIOKafkaProducer
    orders: OrderRepository
    source: str = "order-consumer"
    save_attempts: int = 8
    wms_locations: frozenset[str] = frozenset()

    async def handle_batch(self, tp: TopicPartition, items: Sequence[Incoming]) -> None:
        futures: list[asyncio.Future[RecordMetadata]] = []
        for item in items:
            if not isinstance(item.event, ShopifyWebhookReceived):
                raise PoisonMessage(f"unexpected event type {item.event.type} on {tp.topic}")
            with handling(item, f"order-consumer {item.event.payload.topic}"):
                futures.extend(await self.handle_webhook(item.event))
        await asyncio.gather(*futures)

    async def handle_webhook(
        self, event: ShopifyWebhookReceived
    ) -> list[asyncio.Future[RecordMetadata]]:
        webhook = event.payload
        try:
            hook = parse_webhook(webhook.topic, webhook.body)
        except BadOrder as exc:
            raise PoisonMessage(str(exc)) from exc
        if hook is None:
            return []
        store = self.stores.by_shop(webhook.shop)
        if store is None:
            raise PoisonMessage(f"shop {webhook.shop} is not configured")
        outcome = await self.apply(store, hook)
        ORDERS_SEEN.labels(webhook.topic).inc()
        OUTCOMES.labels(webhook.topic, outcome_name(outcome)).inc()
        if not outcome.replay:
            self.report_unmapped(store.shop, outcome)
        return await self.publish(event, hook.order_id, outcome)

    async def apply(self, store: Store, hook: Hook) -> Outcome:
        """Apply and save, reading again whenever another consumer saved the order first."""
        skumap = await self.orders.sku_map(store.shop, variants_to_map(hook))
        return await self.save_with(
            store.shop,
            hook.order_id,
            lambda state: apply(state, hook, store, skumap, self.wms_locations),
        )

    async def save_with(
        self,
        shop: str,
        order_id: str,
        rule: Callable[[OrderState | None], MaybeOutcome],
    ) -> MaybeOutcome:
        """Read the order, apply ``rule`` and save by compare-and-set, again on a conflict;
        None when the rule had nothing to apply."""
        for _ in range(self.save_attempts):
            current = await self.orders.load(shop, order_id)
            outcome = rule(current.state)
            if outcome is None or outcome.replay or not outcome.changed:
                return outcome
            if await self.orders.save(shop, order_id, current.rev, outcome.state):
                return outcome
            SAVE_CONFLICTS.inc()
        raise OrderSaveConflict(f"order {order_id}: {self.save_attempts} save conflicts")

    async def handle_inventory_batch(self, _tp: TopicPartition, items: Sequence[Incoming]) -> None:
        """``inventory.changed.v1``: only ``order.oversold`` about our reservations matters."""
        for item in items:
            if isinstance(item.event, OrderOversold):
                with handling(item, "order-consumer order.oversold"):
                    await self.handle_oversold(item.event)

    async def handle_oversold(self, event: OrderOversold) -> str | None:
        """Record a refused reservation in the order's state; the outcome's name, None when
        the event is not about a reservation of ours."""
        oversold = event.payload
        ref = oversold.order
        if ref is None or ref.line_id is None or self.stores.by_shop(ref.shop) is None:
            return None
        if not is_own_reserve(ref.shop, ref.order_id, ref.line_id, oversold.idempotency_key):
            return None
        refusal = Refusal(ref.shop, ref.order_id, ref.line_id, oversold.idempotency_key)
        outcome = await self.save_with(
            ref.shop, ref.order_id, lambda state: apply_refusal(state, refusal)
        )
        if outcome is None:
            name = "unknown"
            log.warning(
                "refused reservation not found in the order's state",
                extra={"idempotency_key": oversold.idempotency_key},
            )
        elif outcome.replay:
            name = "replayed"
        else:
            name = "applied"
            if outcome.unbacked:
                UNBACKED.labels(ref.shop).inc(outcome.unbacked)
                log.warning(
                    "refusal learnt after its units were released or committed",
                    extra={
                        "idempotency_key": oversold.idempotency_key,
                        "units": outcome.unbacked,
                    },
                )
        REFUSALS.labels(name).inc()
        return name

    async def publish(
        self, event: ShopifyWebhookReceived, order_id: str, outcome: Outcome
    ) -> list[asyncio.Future[RecordMetadata]]:
        meta: dict[str, Any] = {
            "correlation_id": event.correlation_id,
            "causation_id": event.id,
            "source": self.source,
            "shop": event.payload.shop,
        }
        out = []
        for cmd in outcome.commands:
            request = InventoryCommandRequested(
                id=stable_id(cmd.idempotency_key), payload=cmd, **meta
            )
            out.append(await send_event(self.producer, INVENTORY_COMMANDS, cmd.sku, request))
        for notice in outcome.notices:
            lifecycle = EVENT_ADAPTER.validate_python(
                {**meta, "type": notice.type, "id": notice.id, "payload": notice.payload}
            )
            out.append(await send_event(self.producer, ORDERS, order_id, lifecycle))
        return out

    @staticmethod
    def report_unmapped(shop: str, outcome: Outcome) -> None:
        lines = [n.payload["line_id"] for n in outcome.notices if n.type == UNMAPPED_TYPE]
        if lines:
            UNMAPPED.labels(shop).inc(len(lines))
            log.warning("order lines without SKU mapping", extra={"lines": lines})


def outcome_name(outcome: Outcome) -> str:
    if outcome.replay:
        return "replayed"
    return "applied" if outcome.changed else "unchanged"
