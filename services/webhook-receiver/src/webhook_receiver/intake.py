"""Durability before the 200: dedupe check, one acknowledged publish, then the dedupe record.

The dedupe record is written only after Kafka acknowledged the publish, so a delivery is
never marked seen without being durable. If Kafka cannot take it in time, the caller
answers 503 and the sender retries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from opentelemetry import trace
from prometheus_client import Counter, Histogram
from redis.asyncio import Redis
from redis.exceptions import RedisError

from stocksync_common.events import Envelope
from stocksync_common.kafka import publish_event
from stocksync_common.logs import correlation

log = logging.getLogger(__name__)
tracer = trace.get_tracer("stocksync.webhook-receiver")

WEBHOOKS = Counter(
    "stocksync_webhooks_total", "Webhook deliveries by source and outcome.", ["source", "outcome"]
)
ACK_SECONDS = Histogram(
    "stocksync_webhook_ack_seconds",
    "Time from request received to answer, by source.",
    ["source"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 5.0),
)


class Outcome(Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    UNAVAILABLE = "unavailable"


@dataclass
class Intake:
    producer: AIOKafkaProducer
    redis: Redis
    dedupe_ttl_s: int
    publish_timeout_s: float

    async def seen(self, dedupe_key: str) -> bool:
        try:
            return bool(await self.redis.exists(dedupe_key))
        except RedisError:
            # Without Redis we cannot tell; publishing again is safe because every
            # downstream command carries an idempotency key.
            log.warning("dedupe lookup failed; accepting", exc_info=True)
            return False

    async def accept(self, topic: str, key: str, event: Envelope, dedupe_key: str) -> Outcome:
        if await self.seen(dedupe_key):
            return Outcome.DUPLICATE
        try:
            with (
                correlation(event.correlation_id),
                tracer.start_as_current_span(f"publish {topic}", kind=trace.SpanKind.PRODUCER),
            ):
                await publish_event(
                    self.producer, topic, key, event, timeout_s=self.publish_timeout_s
                )
        except (TimeoutError, KafkaError):
            log.warning("publish failed; answering 503", exc_info=True)
            return Outcome.UNAVAILABLE
        try:
            await self.redis.set(dedupe_key, event.id, ex=self.dedupe_ttl_s)
        except RedisError:
            log.warning("dedupe record not written", exc_info=True)
        return Outcome.ACCEPTED

    async def park_invalid(self, topic: str, key: str, body: bytes, reason: str) -> bool:
        """Keep a signed but unparseable body for inspection; True when it was stored."""
        doc = {"reason": reason, "raw": body.decode("utf-8", "replace")}
        try:
            fut = await self.producer.send(topic, orjson.dumps(doc), key=key.encode())
            await fut
        except KafkaError:
            log.exception("could not park invalid body")
            return False
        return True
