"""Alerts on level crossings, posted to a Slack-compatible incoming webhook."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from aiokafka.structs import TopicPartition
from prometheus_client import Counter
from redis.asyncio import Redis

from notifier.domain import Alert, crossing
from stocksync_common.consumer import Incoming, handling
from stocksync_common.events import InventoryChanged

log = logging.getLogger(__name__)
ALERTS = Counter("stocksync_alerts_total", "Alerts sent, by kind.", ["kind"])


@dataclass
class AlertHandler:
    redis: Redis
    http: httpx.AsyncClient
    webhook_url: str | None

    async def handle_batch(self, _tp: TopicPartition, items: Sequence[Incoming]) -> None:
        for item in items:
            if isinstance(item.event, InventoryChanged):
                alert = crossing(item.event.payload)
                if alert is not None:
                    with handling(item, f"notifier {alert.kind}"):
                        await self.maybe_send(alert)

    async def maybe_send(self, alert: Alert) -> None:
        """Send once per crossing: the SKU's state in Redis says which side it is on."""
        key = f"notifier:{{{alert.sku}}}:stock-state"
        state = "out" if alert.kind == "out_of_stock" else "in"
        previous = await self.redis.get(key)
        if (
            previous is not None
            and (previous.decode() if isinstance(previous, bytes) else previous) == state
        ):
            return
        if self.webhook_url:
            resp = await self.http.post(self.webhook_url, json={"text": alert.text()})
            resp.raise_for_status()
            log.info("alert sent", extra={"kind": alert.kind, "sku": alert.sku})
            ALERTS.labels(alert.kind).inc()
        else:
            log.warning("no alert channel configured", extra={"kind": alert.kind, "sku": alert.sku})
        await self.redis.set(key, state)
