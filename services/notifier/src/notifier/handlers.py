"""Handlers: a stock change or an oversell becomes alerts, digests and reorder requests.

Per SKU: load the crossing state, decide (pure), commit the state with its pending effects
(compare-and-set on the version), carry the effects out, then mark them done. A restart
between commit and done replays the pending effects, which are idempotent by alert id.
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
from notifier.adapters.reorders import ReorderPublisher
from notifier.adapters.rules_store import RulesStore
from notifier.adapters.state import SkuStates, VelocityWindow
from notifier.domain.alerts import Alert, ChannelName, Routed
from notifier.domain.crossings import Decision, SkuState, decide
from notifier.domain.rules import Effective
from stocksync_common.consumer import Incoming, handling
from stocksync_common.events import InventoryChanged, OrderOversold, OversoldLine, stable_id

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

    async def handle_batch(self, _tp: TopicPartition, items: Sequence[Incoming]) -> None:
        for item in items:
            event = item.event
            if isinstance(event, InventoryChanged):
                with handling(item, "notifier stock change"):
                    await self.stock_changed(event)
            elif isinstance(event, OrderOversold):
                with handling(item, "notifier oversell"):
                    await self.order_oversold(event)

    async def stock_changed(self, event: InventoryChanged) -> None:
        change = event.payload
        rule = (await self.rules.current()).resolve(change.sku)
        state = await self.states.load(change.sku)
        if change.version <= state.done:
            return  # already handled (a replay)
        if change.version < state.version:
            return  # older than what was decided: nothing to decide, nothing to mark done
        if change.version == state.version and state.pending is not None:
            await self._carry_out(change.sku, state, state.pending, rule)  # stopped midway
            return
        previous = state.version
        rate = None
        if rule.velocity_per_minute is not None:
            sold = max(0, change.sku_available_before - change.sku_available_after)
            sold = sold if change.command == "reserve" else 0
            at_s = int(event.occurred_at.timestamp())
            rate = await self.velocity.record(change.sku, change.version, at_s, sold)
        decision = decide(
            state,
            change,
            rule,
            rate=rate,
            store=event.shop,
            correlation_id=event.correlation_id,
            now=event.occurred_at.timestamp(),
        )
        quiet = decision.empty
        if not await self.states.commit(change.sku, previous, state, done=quiet):
            log.warning("state moved on concurrently", extra={"sku": change.sku})
            return
        if not quiet:
            await self._carry_out(change.sku, state, decision, rule)

    async def _carry_out(
        self, sku: str, state: SkuState, decision: Decision, rule: Effective
    ) -> None:
        if decision.reorder is not None:
            await self.reorders.publish(decision.reorder)
        for alert in decision.send:
            await self._send(alert, rule)
        for alert in decision.digest:
            due = state.last_sent.get(alert.kind, time.time()) + rule.quiet_period_s
            channels = rule.channels_for(alert.kind, self.channels)
            await self.digests.hold(Routed(alert=alert, channels=tuple(channels)), due)
            ALERTS.labels(alert.kind, "digest").inc()
        await self.states.mark_done(sku, state.version)

    async def _send(self, alert: Alert, rule: Effective) -> None:
        channels = rule.channels_for(alert.kind, self.channels)
        await self.alerts.dispatch(alert, channels)
        ALERTS.labels(alert.kind, "sent").inc()
        log.info("alert raised", extra={"kind": alert.kind, "sku": alert.sku, "channels": channels})

    async def order_oversold(self, event: OrderOversold) -> None:
        """An order could not be reserved: alert at once (idempotent by the event's id)."""
        line = event.payload
        rule = (await self.rules.current()).resolve(line.sku)
        if rule.oversell:
            await self._send(oversell_alert(event.id, line, event.shop, event.correlation_id), rule)


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
        correlation_id=corr,
    )
