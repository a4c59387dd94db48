"""Background workers: one per channel draining its outbox, and the digest sender.

A channel worker retries with exponential backoff and stops trying while its circuit
breaker is open; its alerts wait in Redis meanwhile, so a dead channel never blocks the
consumer nor the other channels, and everything queued goes out once it recovers. After
``max_attempts`` (or a permanent refusal) an alert goes to the DLQ with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge

from notifier.adapters.alerts_log import AlertLog
from notifier.adapters.channels import Channel, DeliveryError
from notifier.adapters.dead_letters import DeadLetters
from notifier.adapters.digests import Digests
from notifier.adapters.outbox import Item, Outbox
from notifier.domain.alerts import Alert, Routed
from notifier.domain.delivery import backoff_s
from stocksync_common.breaker import CircuitBreaker, State
from stocksync_common.events import stable_id

log = logging.getLogger(__name__)
DELIVERIES = Counter(
    "stocksync_alert_deliveries_total", "Alert delivery attempts.", ["channel", "outcome"]
)
BREAKER_OPEN = Gauge(
    "stocksync_alert_channel_open", "1 while a channel's breaker is open.", ["channel"]
)


@dataclass
class DeliveryPolicy:
    max_attempts: int = 12
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    lease_s: float = 60.0
    poll_s: float = 1.0


@dataclass
class ChannelWorker:
    channel: Channel
    outbox: Outbox
    alerts: AlertLog
    dead_letters: DeadLetters
    breaker: CircuitBreaker
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: bool = False

    async def run(self) -> None:
        while not self._stopping:
            now = time.time()
            if not self.breaker.allow():
                await self._pause(self.breaker.wait_s())
                continue
            item = None
            try:
                item = await self.outbox.claim(now, self.policy.lease_s)
            finally:
                if item is None:  # nothing sent: a half-open circuit still awaits its trial
                    self.breaker.release()
            if item is None:
                await self._pause(await self._idle_s(now))
                continue
            await self.deliver(item)

    def stop(self) -> None:
        self._stopping = True
        self.wake.set()

    async def deliver(self, item: Item) -> None:
        name = self.channel.name
        try:
            await self.channel.send(item.alert)
        except DeliveryError as exc:
            await self._failed(item, str(exc), permanent=exc.permanent)
            return
        except Exception as exc:  # noqa: BLE001 - any other failure is retried like a transient one
            await self._failed(item, f"{type(exc).__name__}: {exc}", permanent=False)
            return
        self.breaker.success()
        BREAKER_OPEN.labels(name).set(0)
        await self.outbox.done(item.alert.id)
        await self.alerts.set_status(item.alert.id, name, "delivered")
        DELIVERIES.labels(name, "delivered").inc()

    async def _failed(self, item: Item, error: str, *, permanent: bool) -> None:
        name, now = self.channel.name, time.time()
        item = item.model_copy(update={"attempts": item.attempts + 1, "last_error": error})
        if permanent:  # the channel answered; says nothing of its health either way
            self.breaker.release()
        else:
            self.breaker.failure()
            BREAKER_OPEN.labels(name).set(0 if self.breaker.state == State.CLOSED else 1)
        log.warning(
            "alert delivery failed",
            extra={
                "channel": name,
                "alert": item.alert.id,
                "attempts": item.attempts,
                "error": error,
            },
        )
        if permanent or item.attempts >= self.policy.max_attempts:
            try:
                await self.dead_letters.publish(name, item, error)
            except Exception:  # noqa: BLE001 - keep it queued; the DLQ is retried later
                log.exception("alert DLQ publish failed", extra={"channel": name})
                await self.outbox.retry(item, now + self.policy.backoff_max_s)
                return
            await self.outbox.done(item.alert.id)
            await self.alerts.set_status(item.alert.id, name, "dead-lettered")
            DELIVERIES.labels(name, "dead-lettered").inc()
            return
        delay = backoff_s(item.attempts, self.policy.backoff_base_s, self.policy.backoff_max_s)
        await self.outbox.retry(item, now + delay)
        await self.alerts.set_status(item.alert.id, name, f"retrying ({item.attempts})")
        DELIVERIES.labels(name, "failed").inc()

    async def _idle_s(self, now: float) -> float:
        due = await self.outbox.next_due()
        if due is None:
            return self.policy.poll_s
        return max(0.0, min(self.policy.poll_s, due - now))

    async def _pause(self, seconds: float) -> None:
        """Wait for new work queued here, or ``seconds`` (other replicas' work, retries)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), seconds)
        self.wake.clear()


def digest_alert(sku: str, held: list[Routed]) -> Alert:
    last = held[-1].alert
    return Alert(
        id=stable_id("notifier", "digest", sku, *sorted(r.alert.id for r in held)),
        kind="digest",
        sku=sku,
        available=last.available,
        store=last.store,
        items=[r.alert for r in held],
        correlation_id=last.correlation_id,
    )


@dataclass
class DigestWorker:
    digests: Digests
    alerts: AlertLog
    poll_s: float = 5.0
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        while not self._stopping.is_set():
            await self.flush(time.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.poll_s)

    def stop(self) -> None:
        self._stopping.set()

    async def flush(self, now: float) -> int:
        """Send the digests that are due; returns how many went out."""
        sent = 0
        for sku in await self.digests.due(now):
            held = await self.digests.take(sku)
            if held:
                channels = sorted({c for r in held for c in r.channels})
                await self.alerts.dispatch(digest_alert(sku, held), channels)
                sent += 1
            await self.digests.clear(sku, [r.alert.id for r in held], now + self.poll_s)
        return sent
