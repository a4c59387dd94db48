"""Handlers: a stock change, an oversell, an unmapped order line or a refused line reserved
when stock came back becomes alerts, digests and reorder requests.

Per SKU: load the crossing state, decide (pure), commit the state with its pending effects
(compare-and-set on the version), carry the effects out, then mark them done. A restart
between commit and done replays the pending effects, which are idempotent by alert id.

A consumed batch does this once per SKU, not per change: the rules' revision read once, the
batch's states loaded in one pipelined round trip, each SKU's changes decided in partition
order (``domain.sku_batch``), the states committed in one pipelined round trip (a script per
SKU, each its own compare-and-set) and marked done in another; one span per batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka.structs import TopicPartition
from prometheus_client import Counter

from notifier.adapters.alerts_log import AlertLog
from notifier.adapters.digests import Digests
from notifier.adapters.quiet import QuietPeriods
from notifier.adapters.reorders import ReorderPublisher
from notifier.adapters.rules_store import RulesStore
from notifier.adapters.state import Commit, SkuStates, VelocityWindow
from notifier.domain.alerts import Alert, ChannelName, Routed
from notifier.domain.changes import ChangeEvent, ChangeSeen
from notifier.domain.crossings import Decision, SkuState
from notifier.domain.rules import Effective, RuleSet
from notifier.domain.sku_batch import Observed, decide_sku
from notifier.domain.templates import UNMAPPED_PREFIX
from stocksync_common.consumer import Incoming, Parts, handling
from stocksync_common.events import (
    InventoryChanged,
    OrderLineRef,
    OrderLineUnmapped,
    OrderOversold,
    OrderRereserved,
    OversoldLine,
    RereservedLine,
    UnmappedLine,
    stable_id,
)

log = logging.getLogger(__name__)
ALERTS = Counter(
    "stocksync_alerts_total", "Alerts raised, by kind and outcome.", ["kind", "outcome"]
)


@dataclass
class AlertHandler:
    rules: RulesStore
    states: SkuStates
    velocity: VelocityWindow
    alerts: AlertLog
    digests: Digests
    reorders: ReorderPublisher
    channels: tuple[ChannelName, ...]
    quiet: QuietPeriods

    async def handle_batch(self, tp: TopicPartition, items: Sequence[Incoming]) -> None:
        await self.handle_many([(tp, items)])

    async def handle_many(self, parts: Parts) -> None:
        """The changes of one fetch, every partition's (a SKU lives in one partition, so
        each SKU's changes stay in order)."""
        items = [item for _, batch in parts for item in batch]
        if not items:
            return
        changes = [i.event for i in items if isinstance(i.event, ChangeSeen | InventoryChanged)]
        oversold = [i.event for i in items if isinstance(i.event, OrderOversold)]
        unmapped = [i.event for i in items if isinstance(i.event, OrderLineUnmapped)]
        rereserved = [i.event for i in items if isinstance(i.event, OrderRereserved)]
        if not changes and not oversold and not unmapped and not rereserved:
            return  # orders.v1 carries many lifecycle events; these alert
        # One span per batch, continuing the trace of its newest record.
        with handling(items[-1], "notifier batch") as span:
            span.set_attribute("messaging.batch.message_count", len(items))
            rules = await self.rules.current()
            if changes:
                await self.stock_changed(changes, rules)
            for event in oversold:
                await self.order_oversold(event, rules)
            for unmapped_event in unmapped:
                await self.line_unmapped(unmapped_event, rules)
            for served in rereserved:
                await self.line_rereserved(served, rules)

    async def stock_changed(self, events: Sequence[ChangeEvent], rules: RuleSet) -> None:
        """Decide and carry out a batch of changes (each SKU's oldest first)."""
        by_sku: dict[str, list[ChangeEvent]] = {}
        for event in events:
            by_sku.setdefault(event.payload.sku, []).append(event)
        rule = {sku: rules.resolve(sku) for sku in by_sku}
        states = await self.states.load_many(by_sku)
        observed = await self._observe(by_sku, rule)
        outcomes = {sku: decide_sku(states[sku], observed[sku], rule[sku]) for sku in by_sku}
        moved = [sku for sku, o in outcomes.items() if o.decided]
        commits = [Commit(s, outcomes[s].previous, states[s], outcomes[s].quiet) for s in moved]
        committed = await self.states.commit_many(commits) if commits else []
        for sku, ok in zip(moved, committed, strict=True):
            if not ok:
                log.warning("state moved on concurrently", extra={"sku": sku})
                del outcomes[sku]
        finished: list[tuple[str, int]] = []
        for sku, outcome in outcomes.items():
            state = states[sku]
            if (outcome.decided and outcome.quiet) or state.version <= state.done:
                continue  # committed as done, or nothing left to do
            await self._carry_out(state, outcome.effects, rule[sku])
            finished.append((sku, state.version))
        if finished:
            await self.states.mark_done_many(finished)

    async def _observe(
        self, by_sku: dict[str, list[ChangeEvent]], rule: dict[str, Effective]
    ) -> dict[str, list[Observed]]:
        """Each change as the domain sees it; the sales rate only where a velocity rule
        applies (all such changes recorded in one round trip)."""
        sales = [
            (sku, e.payload.version, int(e.occurred_at.timestamp()), _sold(e))
            for sku, evs in by_sku.items()
            if rule[sku].velocity_per_minute is not None
            for e in evs
        ]
        rates = iter(await self.velocity.record_many(sales) if sales else [])
        return {
            sku: [
                Observed(
                    change=e.payload,
                    store=e.shop,
                    correlation_id=e.correlation_id,
                    now=e.occurred_at.timestamp(),
                    rate=next(rates) if rule[sku].velocity_per_minute is not None else None,
                    sold=_sold(e),
                )
                for e in evs
            ]
            for sku, evs in by_sku.items()
        }

    async def _carry_out(self, state: SkuState, decision: Decision, rule: Effective) -> None:
        for reorder in decision.reorders:
            await self.reorders.publish(reorder)
        for alert in decision.send:
            await self._send(alert, rule)
        for alert in decision.digest:
            due = state.last_sent.get(alert.kind, time.time()) + rule.quiet_period_s
            channels = rule.channels_for(alert.kind, self.channels)
            await self.digests.hold(Routed(alert=alert, channels=tuple(channels)), due)
            ALERTS.labels(alert.kind, "digest").inc()

    async def _send(self, alert: Alert, rule: Effective) -> None:
        channels = rule.channels_for(alert.kind, self.channels)
        await self.alerts.dispatch(alert, channels)
        ALERTS.labels(alert.kind, "sent").inc()
        log.info("alert raised", extra={"kind": alert.kind, "sku": alert.sku, "channels": channels})

    async def order_oversold(self, event: OrderOversold, rules: RuleSet) -> None:
        """An order could not be reserved: alert (idempotent by the event's id), the SKU's
        first in its quiet period at once, the others in its digest."""
        line = event.payload
        rule = rules.resolve(line.sku)
        if rule.oversell:
            alert = oversell_alert(event.id, line, event.shop, event.correlation_id)
            await self._order_alert(alert, rule)

    async def line_unmapped(self, event: OrderLineUnmapped, rules: RuleSet) -> None:
        """An order line without a SKU mapping: alert per store, the same way."""
        alert = unmapped_alert(event.id, event.payload, event.correlation_id)
        rule = rules.resolve(alert.sku)
        if rule.unmapped_line:
            await self._order_alert(alert, rule)

    async def line_rereserved(self, event: OrderRereserved, rules: RuleSet) -> None:
        """A refused line held again when stock came back: the good news after the oversell
        alert, the same way (none when the order no longer wanted the units; ADR 0031)."""
        line = event.payload
        rule = rules.resolve(line.sku)
        if rule.rereserved and line.quantity > 0:
            await self._order_alert(rereserved_alert(event.id, line, event.correlation_id), rule)

    async def _order_alert(self, alert: Alert, rule: Effective) -> None:
        """An order event's alert, within the subject's quiet period (ADR 0022, e)."""
        due = await self.quiet.claim(alert.sku, alert.kind, alert.id, rule.quiet_period_s)
        if due is None:
            await self._send(alert, rule)
            return
        channels = rule.channels_for(alert.kind, self.channels)
        await self.digests.hold(Routed(alert=alert, channels=tuple(channels)), due)
        ALERTS.labels(alert.kind, "digest").inc()


def _sold(event: ChangeEvent) -> int:
    """Units a change sold (a reservation's drop in availability), for the velocity rule."""
    change = event.payload
    if change.command != "reserve":
        return 0
    return max(0, change.sku_available_before - change.sku_available_after)


def oversell_alert(event_id: str, line: OversoldLine, shop: str | None, corr: str) -> Alert:
    return Alert(
        id=stable_id("notifier", "oversell", event_id),
        kind="oversell",
        sku=line.sku,
        available=line.available,
        requested=line.requested,
        location=line.location,
        store=shop or (line.order.shop if line.order else None),
        order=line.order,
        waiting=line.waiting,
        correlation_id=corr,
    )


def rereserved_alert(event_id: str, line: RereservedLine, corr: str) -> Alert:
    return Alert(
        id=stable_id("notifier", "rereserved", event_id),
        kind="rereserved",
        sku=line.sku,
        requested=line.quantity,
        location=", ".join(sorted(line.locations)) or None,
        store=line.shop,
        order=OrderLineRef(shop=line.shop, order_id=line.order_id, line_id=line.line_id),
        correlation_id=corr,
    )


def unmapped_alert(event_id: str, line: UnmappedLine, corr: str) -> Alert:
    """Its subject is the store (``unmapped:<shop>``): one store's unmapped lines share a
    quiet period and a digest, and the alert links to the console's mapping page."""
    return Alert(
        id=stable_id("notifier", "unmapped_line", event_id),
        kind="unmapped_line",
        sku=f"{UNMAPPED_PREFIX}{line.shop}",
        store=line.shop,
        order=OrderLineRef(shop=line.shop, order_id=line.order_id, line_id=line.line_id),
        requested=line.quantity,
        title=line.title or (f"variant {line.variant_id}" if line.variant_id else "untitled"),
        correlation_id=corr,
    )
