"""Durability before the 200: claim the delivery, one acknowledged publish, then record it.

``accept`` makes one ledger call (dedupe check, rate count and claim) and one publish
bounded by ``publish_timeout_s``; once Kafka acknowledged, ``record`` makes the ledger call
recording the delivery. The edge answers between the two (ADR 0015): the answer does not
depend on the record (a failed record still answers 200, the publish is durable), and the
claim keeps a concurrent copy from publishing until the record replaces it. Nothing says
"seen" before the acknowledgement, so the dedupe record can never hide a delivery that was
not made durable.

A publish that outlives the timeout is answered 503 but stays *in doubt*: the idempotent
producer keeps retrying the record and may still land it (it does not expire batches).
The claim is therefore kept, and refreshed, until the record's future settles: published,
the delivery is recorded as seen, so Shopify's retry is acknowledged without a second
publish; failed, the claim is released and the retry publishes. If the process dies
meanwhile, the claim expires after ``claim_ttl_s`` together with the record it guarded.

Either store failing is answered 503, and Shopify retries. Publishing without the ledger
would let Shopify's concurrent copies of a delivery onto the log several times and bypass
the rate guard; Redis holds StockSync's inventory truth anyway, so nothing downstream can
move while it is gone. Only the record after a successful publish may fail quietly: the
publish is durable, and the claim expiring merely re-opens the delivery to a late copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from opentelemetry import trace

from stocksync_common.logs import correlation
from stocksync_common.metrics import DLQ_PUBLISHED, EVENTS_PUBLISHED
from stocksync_common.redis_client import REDIS_ERRORS, redis_failed
from stocksync_common.tracing import inject_headers
from webhook_receiver.adapters.ledger import Verdict, rate_key, seen_key
from webhook_receiver.metrics import IN_DOUBT, LEDGER_ERRORS

log = logging.getLogger(__name__)
tracer = trace.get_tracer("stocksync.webhook-receiver")


class Producer(Protocol):
    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]: ...


class Ledger(Protocol):
    async def begin(self, key: str, rate: str, token: str, limit: int) -> Verdict: ...
    async def record(self, key: str, value: str) -> None: ...
    async def release(self, key: str, token: str) -> None: ...
    async def keep(self, claims: dict[str, str]) -> None: ...
    async def erase_sender(self, sender: str) -> int: ...


class Outcome(Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    IN_FLIGHT = "in_flight"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    TOO_LARGE = "too_large"


_VERDICTS = {
    Verdict.SEEN: Outcome.DUPLICATE,
    Verdict.IN_FLIGHT: Outcome.IN_FLIGHT,
    Verdict.RATE_LIMITED: Outcome.RATE_LIMITED,
    Verdict.UNCHECKED: Outcome.UNAVAILABLE,
}


@dataclass(frozen=True, slots=True)
class Delivery:
    sender: str  # the shop domain, or "wms": the ledger's hash tag and rate bucket
    delivery_id: str  # X-Shopify-Webhook-Id, or the WMS event id
    topic: str
    key: str
    value: bytes  # the encoded envelope, published as it is
    event_id: str
    event_type: str
    correlation_id: str
    rate_limit: int
    note: str = ""  # kept in the dedupe record next to the event id (X-Shopify-Event-Id)

    def headers(self) -> list[tuple[str, bytes]]:
        """The Kafka headers every event carries (``event_headers``), with the trace context."""
        return [
            ("type", self.event_type.encode()),
            ("correlation-id", self.correlation_id.encode()),
            ("event-id", self.event_id.encode()),
            *inject_headers(),
        ]


@dataclass
class Intake:
    producer: Producer
    ledger: Ledger
    publish_timeout_s: float
    claim_ttl_s: float
    clock: Callable[[], float] = time.time
    in_doubt: dict[str, str] = field(default_factory=dict)  # seen key -> claim token
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def accept(self, d: Delivery) -> Outcome:
        """Claim and publish; ACCEPTED once Kafka acknowledged. Then call ``record``."""
        key = seen_key(d.sender, d.delivery_id)
        token = uuid.uuid4().hex
        verdict = await self._begin(d, key, token)
        if verdict in _VERDICTS:
            return _VERDICTS[verdict]
        with (
            correlation(d.correlation_id),
            tracer.start_as_current_span(f"publish {d.topic}", kind=trace.SpanKind.PRODUCER),
        ):
            return await self._publish(d, key, token)

    async def record(self, d: Delivery) -> None:
        """Record an accepted delivery as seen (after the answer; a failure is only logged)."""
        await self._record(seen_key(d.sender, d.delivery_id), d)

    async def _begin(self, d: Delivery, key: str, token: str) -> Verdict:
        rate = rate_key(d.sender, int(self.clock()))
        try:
            return await self.ledger.begin(key, rate, token, d.rate_limit)
        except REDIS_ERRORS as exc:
            if not redis_failed(exc):
                raise
            LEDGER_ERRORS.labels("begin").inc()
            log.warning("dedupe ledger unavailable; answering 503", exc_info=True)
            return Verdict.UNCHECKED

    async def _publish(self, d: Delivery, key: str, claim: str) -> Outcome:
        fut: asyncio.Future[Any] | None = None
        try:
            async with asyncio.timeout(self.publish_timeout_s):
                fut = await self.producer.send(
                    d.topic, d.value, key=d.key.encode(), headers=d.headers()
                )
                await asyncio.shield(fut)
        except TimeoutError:
            if fut is None:  # never queued: cancelling send() dropped it
                await self._release(key, claim)
            else:
                self._hold(d, key, claim, fut)
            log.warning("publish not acknowledged in time; answering 503", extra={"key": d.key})
            return Outcome.UNAVAILABLE
        except MessageSizeTooLargeError:
            await self._release(key, claim)
            log.error("record too large for Kafka", extra={"key": d.key})
            return Outcome.TOO_LARGE
        except KafkaError:
            await self._release(key, claim)
            log.warning("publish failed; answering 503", exc_info=True)
            return Outcome.UNAVAILABLE
        EVENTS_PUBLISHED.labels(d.topic).inc()
        return Outcome.ACCEPTED

    async def _record(self, key: str, d: Delivery) -> None:
        try:
            await self.ledger.record(key, f"done:{d.event_id}:{d.note}")
        except REDIS_ERRORS as exc:
            if not redis_failed(exc):
                raise
            LEDGER_ERRORS.labels("record").inc()
            log.warning("dedupe record not written", exc_info=True)

    async def _release(self, key: str, claim: str) -> None:
        try:
            await self.ledger.release(key, claim)
        except REDIS_ERRORS as exc:  # the claim expires on its own after claim_ttl_s
            if not redis_failed(exc):
                raise
            LEDGER_ERRORS.labels("release").inc()
            log.warning("claim not released", exc_info=True)

    def _hold(self, d: Delivery, key: str, claim: str, fut: asyncio.Future[Any]) -> None:
        """Keep the claim while the producer still holds the record; settle it when it lands."""
        self.in_doubt[key] = claim

        def settled(f: asyncio.Future[Any]) -> None:
            self._spawn(self._settle(d, key, claim, f))

        fut.add_done_callback(settled)

    async def _settle(self, d: Delivery, key: str, claim: str, fut: asyncio.Future[Any]) -> None:
        try:
            if fut.cancelled() or fut.exception() is not None:
                IN_DOUBT.labels("failed").inc()
                await self._release(key, claim)
            else:
                IN_DOUBT.labels("published").inc()
                await self._record(key, d)
        finally:
            if self.in_doubt.get(key) == claim:
                self.in_doubt.pop(key, None)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def keep_claims(self) -> None:
        """Refresh the claims of in-doubt records until cancelled."""
        while True:
            await asyncio.sleep(self.claim_ttl_s / 3)
            if not self.in_doubt:
                continue
            try:
                await self.ledger.keep(dict(self.in_doubt))
            except REDIS_ERRORS as exc:
                if not redis_failed(exc):
                    raise
                LEDGER_ERRORS.labels("keep").inc()
                log.warning("in-doubt claims not refreshed", exc_info=True)

    async def settle_all(self, timeout_s: float) -> None:
        """Wait (bounded) for the ledger writes of records that settled late."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await asyncio.gather(*self._tasks, return_exceptions=True)

    async def keep_raw(self, topic: str, key: str, value: bytes) -> bool:
        """Publish a record as-is (the DLQ of invalid bodies); True once acknowledged."""
        try:
            async with asyncio.timeout(self.publish_timeout_s):
                fut = await self.producer.send(topic, value, key=key.encode())
                await asyncio.shield(fut)
        except (TimeoutError, KafkaError):
            log.exception("could not keep the invalid body")
            return False
        DLQ_PUBLISHED.labels(topic.split(".dlq.", 1)[0], "invalid").inc()
        return True
