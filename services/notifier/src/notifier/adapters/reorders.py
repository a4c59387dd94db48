"""Reorder requests on ``reorders.v1``, keyed by SKU, one deterministic id per crossing."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from notifier.domain.alerts import Alert
from stocksync_common.events import Reorder, ReorderRequested, stable_id
from stocksync_common.kafka import publish_event
from stocksync_common.topics import REORDERS


def reorder_event(alert: Alert) -> ReorderRequested:
    """The event for a reorder alert; a replay of the crossing yields the same id."""
    payload = Reorder(
        sku=alert.sku,
        reorder_point=alert.threshold or 0,
        quantity=alert.reorder_quantity or 1,
        available=alert.available or 0,
        version=alert.version or 0,
        location=alert.location,
    )
    return ReorderRequested(
        id=stable_id("reorder", alert.sku, str(alert.version)),
        source="notifier",
        correlation_id=alert.correlation_id or alert.id,
        causation_id=alert.id,
        payload=payload,
    )


@dataclass
class ReorderPublisher:
    producer: AIOKafkaProducer
    timeout_s: float = 10.0

    async def publish(self, alert: Alert) -> None:
        await publish_event(
            self.producer, REORDERS, alert.sku, reorder_event(alert), timeout_s=self.timeout_s
        )
