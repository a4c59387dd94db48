"""Orders out to the WMS: ``order.received`` creates a fulfilment order (a store with
routing rules: ``order.routed``, at the locations that hold the stock; a later
``order.routed`` with ``follow_up``, units placed since, one of its own, ADR 0031),
``order.cancelled`` cancels it (and its follow-ups). Idempotent by order id twice over:
Redis remembers what the WMS has, and the WMS itself answers the existing order for a known
``external_ref``. Each call is tried with backoff behind the circuit breaker; when that is
exhausted the error goes back to the consumer loop, whose retries end in this group's DLQ
with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka.structs import TopicPartition

from stocksync_common.breaker import CircuitBreaker
from stocksync_common.consumer import Incoming, PoisonMessage, handling
from stocksync_common.events import (
    Order,
    OrderCancellation,
    OrderCancelled,
    OrderReceived,
    OrderRouted,
)
from wms_connector.adapters.wms_client import WmsClient, WmsRefused, WmsUnavailable
from wms_connector.domain.outbound import (
    OrderStatus,
    cancel_step,
    fulfilment_request,
    should_create,
)
from wms_connector.domain.refs import follow_up_ref, order_ref
from wms_connector.metrics import WMS_CALL_FAILURES
from wms_connector.status import OutboundStatus

log = logging.getLogger(__name__)
MAX_RETRY_AFTER_S = 5.0
Sleep = Callable[[float], Awaitable[None]]


class OrderState(Protocol):
    """Where the connector remembers each order's WMS status (Redis in production)."""

    async def get(self, ref: str) -> tuple[OrderStatus | None, str | None]: ...

    async def set(self, ref: str, status: OrderStatus, wms_id: str | None) -> None: ...

    async def remember_lines(self, ref: str, lines: Mapping[tuple[str, str], str]) -> None: ...

    async def add_follow_up(self, ref: str, follow_up: str) -> None: ...

    async def follow_ups(self, ref: str) -> list[str]: ...


class CircuitOpen(Exception):  # noqa: N818 - the state's name
    """The WMS circuit is open: the call was not sent."""


@dataclass
class OrderForwarder:
    wms: WmsClient
    state: OrderState
    breaker: CircuitBreaker
    status: OutboundStatus
    backoff_s: tuple[float, ...] = (0.2, 0.5, 1.0)
    sleep: Sleep = asyncio.sleep

    async def handle_batch(self, _tp: TopicPartition, items: Sequence[Incoming]) -> None:
        for item in items:
            event = item.event
            if isinstance(event, OrderReceived) and event.payload.routing:
                # A routed order's locations are known once its stock is reserved:
                # order.routed follows with them (docs/decisions/0018-order-routing.md).
                self.status.record("create", "awaiting_routing")
            elif isinstance(event, OrderReceived | OrderRouted):
                with handling(item, f"wms-connector {event.type}"):
                    await self.create(event.payload)
            elif isinstance(event, OrderCancelled):
                with handling(item, "wms-connector order.cancelled"):
                    await self.cancel(event.payload)

    async def create(self, order: Order) -> None:
        ref = order_ref(order.shop, order.order_id)
        if order.follow_up is not None:
            main, _ = await self.state.get(ref)
            if main == "cancelled":  # the order was cancelled: its later units ship nowhere
                self.status.record("create", "cancelled")
                return
            await self.state.add_follow_up(ref, order.follow_up)
            ref = follow_up_ref(order.shop, order.order_id, order.follow_up)
        status, _ = await self.state.get(ref)
        if not should_create(status):
            self.status.record("create", "duplicate")
            return
        body = fulfilment_request(order)
        if body is None:
            self.status.record("create", "nothing_to_ship")
            return
        if order.routing:  # its shipments commit against the lines' holds (ADR 0018)
            lines = {(ln.sku, ln.location): ln.line_id for ln in order.lines if ln.sku}
            await self.state.remember_lines(ref, lines)
        answer = await self._call("create", ref, lambda: self.wms.create_order(body))
        await self.state.set(ref, "created", str(answer.get("id") or ""))
        self.status.record("create", "ok")
        log.info("order sent to the WMS", extra={"ref": ref, "wms_id": answer.get("id")})

    async def cancel(self, cancellation: OrderCancellation) -> None:
        ref = order_ref(cancellation.shop, cancellation.order_id)
        for part in await self.state.follow_ups(ref):
            await self._cancel(follow_up_ref(cancellation.shop, cancellation.order_id, part))
        await self._cancel(ref)

    async def _cancel(self, ref: str) -> None:
        status, wms_id = await self.state.get(ref)
        step = cancel_step(status)
        if step == "cancel_at_wms":
            await self._call("cancel", ref, lambda: self.wms.cancel_order(wms_id or ref))
        if step != "nothing":
            await self.state.set(ref, "cancelled", wms_id)
        self.status.record("cancel", "ok" if step != "nothing" else "duplicate")

    async def _call(
        self, action: str, ref: str, call: Callable[[], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        """One WMS call, tried with backoff behind the breaker; refusals are poison."""
        last: Exception | None = None
        for delay in (*self.backoff_s, None):
            if not self.breaker.allow():
                last = CircuitOpen(f"WMS circuit open, retry in {self.breaker.wait_s():.1f}s")
            else:
                try:
                    answer = await call()
                except WmsUnavailable as exc:
                    self.breaker.failure()
                    WMS_CALL_FAILURES.labels("unavailable").inc()
                    last = exc
                    if delay is not None:  # honour Retry-After, within reason
                        delay = max(delay, min(exc.retry_after_s or 0.0, MAX_RETRY_AFTER_S))
                except WmsRefused as exc:
                    self.breaker.success()  # the WMS answered; the request is the problem
                    WMS_CALL_FAILURES.labels("refused").inc()
                    self.status.failed(action, ref, str(exc))
                    raise PoisonMessage(f"WMS refused {action} of {ref}: {exc}") from exc
                except BaseException:  # cancelled, or our own bug: says nothing of the WMS
                    self.breaker.release()
                    raise
                else:
                    self.breaker.success()
                    return answer
            if delay is None:
                break
            await self.sleep(delay)
        self.status.failed(action, ref, str(last))
        raise last or RuntimeError("unreachable")
