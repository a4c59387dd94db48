"""Shopify order webhooks to inventory commands and order lifecycle events.

A batch of webhooks is handled as a batch: parse them all, read every order's state and the
SKU mappings of the lines without a SKU in one Redis round trip, apply the webhooks in
partition order (pure, :mod:`order_consumer.domain`; webhooks of one order in the batch
chain through the state in memory), save each changed order once by compare-and-set in one
pipelined call (on a conflict, only those orders are read again and recomputed), then send
every command and event and await the acknowledgements once, before the loop commits.
Saving first is safe because the state records what each fact produced: a redelivery, after
a crash or a failed publish, publishes the same commands and events again, with the same
keys and ids.

A second consumer group reads ``inventory.changed.v1`` for ``order.oversold``: a reservation
of ours that inventory-adjuster refused is recorded in the order's state through the same
compare-and-set save (:func:`order_consumer.domain.apply_refusal`), so later diffs never
release or commit units that were never held; when stock comes back, the adjuster reserves
such a line from the SKU's waiting list and says so (a ``rereserved`` change): the units are
held again (:func:`order_consumer.domain.apply_rereservation`, ADR 0022).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata, TopicPartition
from prometheus_client import Counter

from order_consumer.adapters.redis_orders import OrderRef, Snapshot, Versioned
from order_consumer.domain import (
    BadOrder,
    Hook,
    Notice,
    OrderState,
    Outcome,
    Placement,
    Refusal,
    Rereservation,
    apply,
    apply_placement,
    apply_refusal,
    apply_rereservation,
    is_own_reserve,
    parse_webhook,
    variants_to_map,
)
from stocksync_common.consumer import Incoming, PoisonMessage, handling
from stocksync_common.events import (
    EVENT_ADAPTER,
    Event,
    InventoryChanged,
    InventoryCommandRequested,
    OrderLineRef,
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
    "Order webhooks by outcome (applied, replayed: seen before, unchanged: stale or no-op, "
    "erased: the order or shop was erased by a compliance request).",
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
RERESERVED = Counter(
    "stocksync_order_rereserved_total",
    "Refused reservations of ours the adjuster reserved when stock came back, by outcome "
    "(applied, replayed: seen before, unknown: no such reservation in the order's state).",
    ["outcome"],
)
UNMAPPED_TYPE = OrderLineUnmapped.model_fields["type"].default
MaybeOutcome = TypeVar("MaybeOutcome", bound=Outcome | None)


class OrderRepository(Protocol):
    async def load(self, shop: str, order_id: str) -> Versioned: ...

    async def save(self, shop: str, order_id: str, rev: int, state: OrderState) -> bool: ...

    async def sku_map(self, shop: str, variant_ids: Iterable[str]) -> dict[str, str]: ...

    async def read(
        self, refs: Collection[OrderRef], variants: Mapping[str, Iterable[str]] | None = None
    ) -> Snapshot: ...

    async def save_many(
        self, saves: Mapping[OrderRef, tuple[int, OrderState]]
    ) -> dict[OrderRef, bool]: ...


class OrderSaveConflict(RuntimeError):
    """Other consumers kept saving the same order: transient, the consumer loop retries."""


@dataclass(frozen=True)
class Applied:
    """A webhook applied and saved: what remains is to publish its outcome."""

    event: ShopifyWebhookReceived
    order_id: str
    outcome: Outcome


@dataclass
class OrderHandler:
    stores: StoresConfig
    producer: AIOKafkaProducer
    orders: OrderRepository
    source: str = "order-consumer"
    save_attempts: int = 8
    wms_locations: frozenset[str] = frozenset()

    async def handle_batch(self, tp: TopicPartition, items: Sequence[Incoming]) -> None:
        events: list[ShopifyWebhookReceived] = []
        for item in items:
            if not isinstance(item.event, ShopifyWebhookReceived):
                raise PoisonMessage(f"unexpected event type {item.event.type} on {tp.topic}")
            events.append(item.event)
        applied = await self.apply_webhooks(events)
        futures: list[asyncio.Future[RecordMetadata]] = []
        for item, done in zip(items, applied, strict=True):
            if done is not None:
                with handling(item, f"order-consumer {done.event.payload.topic}"):
                    futures.extend(await self.publish_applied(done))
        await asyncio.gather(*futures)

    async def handle_webhook(
        self, event: ShopifyWebhookReceived
    ) -> list[asyncio.Future[RecordMetadata]]:
        """One webhook (a batch of one); the futures of what it published."""
        (done,) = await self.apply_webhooks([event])
        return [] if done is None else await self.publish_applied(done)

    async def apply_webhooks(
        self, events: Sequence[ShopifyWebhookReceived]
    ) -> list[Applied | None]:
        """Parse, apply and save ``events`` (None for a topic without inventory meaning)."""
        parsed: list[tuple[Store, Hook] | None] = [self.parse(e) for e in events]
        todo = [(i, p) for i, p in enumerate(parsed) if p is not None]
        outcomes = await self.apply_many([p for _, p in todo])
        applied: list[Applied | None] = [None] * len(events)
        for (i, (_, hook)), outcome in zip(todo, outcomes, strict=True):
            applied[i] = Applied(events[i], hook.order_id, outcome)
        return applied

    def parse(self, event: ShopifyWebhookReceived) -> tuple[Store, Hook] | None:
        webhook = event.payload
        try:
            hook = parse_webhook(webhook.topic, webhook.body)
        except BadOrder as exc:
            raise PoisonMessage(str(exc)) from exc
        if hook is None:
            return None
        store = self.stores.by_shop(webhook.shop)
        if store is None:
            raise PoisonMessage(f"shop {webhook.shop} is not configured")
        return store, hook

    async def apply_many(self, hooks: Sequence[tuple[Store, Hook]]) -> list[Outcome]:
        """Apply ``hooks`` in order and save each order they change once: one read and one
        save round trip, more only for the orders another consumer saved in between."""
        by_order: dict[OrderRef, list[int]] = {}
        variants: dict[str, set[str]] = {}
        for i, (store, hook) in enumerate(hooks):
            by_order.setdefault((store.shop, hook.order_id), []).append(i)
            variants.setdefault(store.shop, set()).update(variants_to_map(hook))
        if not by_order:
            return []
        snapshot = await self.orders.read(list(by_order), variants)
        outcomes: dict[int, Outcome] = {}
        pending, current = by_order, snapshot.orders
        for _ in range(self.save_attempts):
            saves: dict[OrderRef, tuple[int, OrderState]] = {}
            for ref, indexes in pending.items():
                if current[ref].erased:  # a tombstone: this webhook must not recreate it
                    erased = Outcome(state=OrderState(shop=ref[0], order_id=ref[1]), erased=True)
                    outcomes.update((i, erased) for i in indexes)
                    continue
                state = self._apply_chain(hooks, indexes, current[ref].state, snapshot, outcomes)
                if state is not None:
                    saves[ref] = (current[ref].rev, state)
            saved = await self.orders.save_many(saves)
            lost = [ref for ref, ok in saved.items() if not ok]
            if not lost:
                return [outcomes[i] for i in range(len(hooks))]
            SAVE_CONFLICTS.inc(len(lost))
            pending = {ref: by_order[ref] for ref in lost}
            current = (await self.orders.read(lost)).orders
        orders = ", ".join(order_id for _, order_id in pending)
        raise OrderSaveConflict(f"order {orders}: {self.save_attempts} save conflicts")

    def _apply_chain(
        self,
        hooks: Sequence[tuple[Store, Hook]],
        indexes: Sequence[int],
        state: OrderState | None,
        snapshot: Snapshot,
        outcomes: dict[int, Outcome],
    ) -> OrderState | None:
        """Apply one order's webhooks in order, each to the state the previous one left;
        the state to save, None when none of them changed it."""
        changed = False
        for i in indexes:
            store, hook = hooks[i]
            skumap = snapshot.skumaps.get(store.shop, {})
            outcome = apply(state, hook, store, skumap, self.wms_locations)
            outcomes[i] = outcome
            if outcome.changed and not outcome.replay:
                state, changed = outcome.state, True
        return state if changed else None

    async def publish_applied(self, done: Applied) -> list[asyncio.Future[RecordMetadata]]:
        webhook = done.event.payload
        ORDERS_SEEN.labels(webhook.topic).inc()
        OUTCOMES.labels(webhook.topic, outcome_name(done.outcome)).inc()
        if done.outcome.erased:
            log.info(
                "order webhook after its order was erased: not applied",
                extra={"topic": webhook.topic, "order_id": done.order_id},
            )
            return []
        if not done.outcome.replay:
            self.report_unmapped(webhook.shop, done.outcome)
        return await self.publish(done.event, done.order_id, done.outcome)

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
        """``inventory.changed.v1``: ``order.oversold`` about our reservations, and where
        routed ones were placed (ADR 0018)."""
        for item in items:
            if isinstance(item.event, OrderOversold):
                with handling(item, "order-consumer order.oversold"):
                    await self.handle_oversold(item.event)
            elif isinstance(item.event, InventoryChanged) and is_placement(item.event):
                with handling(item, "order-consumer routed reservation"):
                    await self.handle_placement(item.event)
            elif isinstance(item.event, InventoryChanged) and item.event.payload.rereserved:
                with handling(item, "order-consumer waiting reservation served"):
                    await self.handle_rereserved(item.event)

    def own_reserve(self, ref: OrderLineRef | None, key: str) -> OrderLineRef | None:
        """``ref`` when the key is one of our reservations of a configured shop's order line."""
        if ref is None or ref.line_id is None or self.stores.by_shop(ref.shop) is None:
            return None
        return ref if is_own_reserve(ref.shop, ref.order_id, ref.line_id, key) else None

    async def handle_placement(self, event: InventoryChanged) -> str | None:
        """Record where a routed reservation of ours was placed; publish ``order.routed``
        when it completes the order's routing. The outcome's name, None when not ours."""
        change = event.payload
        ref = self.own_reserve(change.order, change.idempotency_key)
        if ref is None or ref.line_id is None:
            return None
        placement = Placement(*line_of(ref), change.idempotency_key, dict(change.routed or {}))
        outcome = await self.save_with(
            ref.shop, ref.order_id, lambda state: apply_placement(state, placement)
        )
        if outcome is None:
            return "unknown"
        await self.publish_notices(event, ref.order_id, outcome)
        return "replayed" if outcome.replay else "applied"

    async def handle_oversold(self, event: OrderOversold) -> str | None:
        """Record a refused reservation in the order's state; the outcome's name, None when
        the event is not about a reservation of ours."""
        oversold = event.payload
        ref = self.own_reserve(oversold.order, oversold.idempotency_key)
        if ref is None or ref.line_id is None:
            return None
        refusal = Refusal(*line_of(ref), oversold.idempotency_key, tuple(oversold.tried or ()))
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
            if oversold.tried:
                log.warning(
                    "routed reservation refused at every location tried",
                    extra={"idempotency_key": oversold.idempotency_key, "tried": oversold.tried},
                )
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
        if outcome is not None:
            await self.publish_notices(event, ref.order_id, outcome)
        return name

    async def handle_rereserved(self, event: InventoryChanged) -> str | None:
        """A refused reservation of ours the adjuster reserved when stock came back: hold
        its units again, or release those the order no longer wants (ADR 0022). The
        outcome's name, None when not ours."""
        change = event.payload
        ref = self.own_reserve(change.order, change.idempotency_key)
        if ref is None or ref.line_id is None:
            return None
        if change.routed is not None:  # one change per location: the first says it all
            if event.id != stable_id(change.idempotency_key, "rereserved"):
                return None
            units = sum(change.routed.values())
        else:
            units = change.after.reserved - change.before.reserved
        served = Rereservation(
            *line_of(ref), change.idempotency_key, change.location, units, change.routed
        )
        outcome = await self.save_with(
            ref.shop, ref.order_id, lambda state: apply_rereservation(state, served)
        )
        if outcome is None:
            log.warning(
                "re-reserved units of a reservation the order's state does not know",
                extra={"idempotency_key": change.idempotency_key},
            )
            name = "unknown"
        else:
            name = "replayed" if outcome.replay else "applied"
            await self.publish_notices(event, ref.order_id, outcome)
        RERESERVED.labels(name).inc()
        return name

    async def publish_notices(
        self, cause: OrderOversold | InventoryChanged, order_id: str, outcome: Outcome
    ) -> None:
        """The commands and lifecycle events adjuster feedback made due (``order.routed``, a
        release of re-reserved units no longer wanted), sent and acknowledged before the
        loop commits."""
        meta: dict[str, Any] = {
            "correlation_id": cause.correlation_id,
            "causation_id": cause.id,
            "source": self.source,
            "shop": cause.payload.order.shop if cause.payload.order else cause.shop,
        }
        futures = [
            await send_event(
                self.producer,
                INVENTORY_COMMANDS,
                cmd.sku,
                InventoryCommandRequested(id=stable_id(cmd.idempotency_key), payload=cmd, **meta),
            )
            for cmd in outcome.commands
        ]
        futures += [
            await send_event(self.producer, ORDERS, order_id, self.lifecycle(meta, notice))
            for notice in outcome.notices
        ]
        await asyncio.gather(*futures)

    @staticmethod
    def lifecycle(meta: dict[str, Any], notice: Notice) -> Event:
        return EVENT_ADAPTER.validate_python(
            {**meta, "type": notice.type, "id": notice.id, "payload": notice.payload}
        )

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
            out.append(
                await send_event(self.producer, ORDERS, order_id, self.lifecycle(meta, notice))
            )
        return out

    @staticmethod
    def report_unmapped(shop: str, outcome: Outcome) -> None:
        lines = [n.payload["line_id"] for n in outcome.notices if n.type == UNMAPPED_TYPE]
        if lines:
            UNMAPPED.labels(shop).inc(len(lines))
            log.warning("order lines without SKU mapping", extra={"lines": lines})


def line_of(ref: OrderLineRef) -> tuple[str, str, str]:
    """(shop, order id, line id) of one of our order lines (``own_reserve`` checked it)."""
    return ref.shop, ref.order_id, ref.line_id or ""


def is_placement(event: InventoryChanged) -> bool:
    """A routed reservation's first change (a split sends one per location, each with the
    whole placement; the first is enough)."""
    change = event.payload
    return (
        change.command == "reserve"
        and change.routed is not None
        and event.id == stable_id(change.idempotency_key, "changed")
    )


def outcome_name(outcome: Outcome) -> str:
    if outcome.erased:
        return "erased"
    if outcome.replay:
        return "replayed"
    return "applied" if outcome.changed else "unchanged"
