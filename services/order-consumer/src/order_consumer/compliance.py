"""Shopify's mandatory compliance requests, for what order-consumer keeps.

- ``customers/redact``: the order state of each order named is erased, leaving a tombstone
  (each order named, also one never seen: a late webhook of it must not create it).
- ``shop/redact``: every order state of the shop is erased, leaving tombstones, the shop is
  marked erased (``erased-shop:{<shop>}``), and the webhook-receiver's delivery records of
  the shop are erased (it erases them too, best effort, when it answers).

A tombstone lives ``STOCKSYNC_ERASED_TOMBSTONE_TTL_S`` (30 days): longer than any way an
order webhook can still arrive (the edge refuses deliveries older than 48 h, a dead letter
is kept two weeks at most). While it lives no order webhook is applied to that order or
shop: a late ``orders/updated`` cannot recreate erased state (ADR 0022, d).
- ``customers/data_request``: the order states named are gathered into a report kept in
  Redis for 30 days (``compliance:report:{<request id>}``) for the merchant to hand over.

Each request is idempotent (erasing twice erases nothing more) and leaves one audit log line
saying what was found and done. The state holds order and line ids and quantities, never
names, emails or addresses.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from aiokafka.structs import TopicPartition
from prometheus_client import Counter
from redis.asyncio import Redis

from order_consumer.adapters.redis_orders import erase_orders, erased_shop_key, order_key
from stocksync_common.consumer import Incoming, handling
from stocksync_common.events import ComplianceRequest, ComplianceRequestReceived

log = logging.getLogger(__name__)
REPORT_TTL_S = 30 * 24 * 3600
COMPLIANCE = Counter(
    "stocksync_compliance_requests_total", "Compliance requests handled, by topic.", ["topic"]
)


def report_key(request_id: str) -> str:
    return f"compliance:report:{{{request_id}}}"


@dataclass
class ComplianceHandler:
    redis: Redis
    tombstone_ttl_s: int = 30 * 24 * 3600

    async def handle_batch(self, _tp: TopicPartition, items: Sequence[Incoming]) -> None:
        for item in items:
            if isinstance(item.event, ComplianceRequestReceived):
                with handling(item, f"order-consumer {item.event.payload.topic}"):
                    await self.handle(item.event.payload, item.event.id)

    async def handle(self, req: ComplianceRequest, request_id: str) -> int:
        """Carry out one request; returns how many order states it found."""
        now_ms = int(time.time() * 1000)
        if req.topic == "customers/redact":
            named = [order_key(req.shop, oid) for oid in req.order_ids]
            found = await erase_orders(self.redis, named, self.tombstone_ttl_s, now_ms)
        elif req.topic == "shop/redact":
            # the shop marked first (a webhook read from now on is skipped), then the order
            # states, and (again, in case its own best-effort erase failed) the
            # webhook-receiver's delivery records of that shop
            shop_key = erased_shop_key(req.shop)
            await self.redis.set(shop_key, now_ms, ex=self.tombstone_ttl_s, nx=True)
            keys = await self._keys(f"order:{{{req.shop}:*")
            found = await erase_orders(self.redis, keys, self.tombstone_ttl_s, now_ms)
            await self._erase(await self._keys(f"webhook:seen:{{{req.shop}}}:*"))
        else:
            found = await self._report(req, request_id)
        COMPLIANCE.labels(req.topic).inc()
        log.info(
            "audit: compliance request handled",
            extra={
                "who": "shopify",
                "what": req.topic,
                "shop": req.shop,
                "customer_id": req.customer_id,
                "orders_named": len(req.order_ids),
                "order_states_found": found,
                "request": request_id,
            },
        )
        return found

    async def _keys(self, pattern: str) -> list[str | bytes]:
        return [k async for k in self.redis.scan_iter(match=pattern, count=1000)]

    async def _erase(self, keys: list[str | bytes]) -> int:
        erased = 0
        for start in range(0, len(keys), 500):
            erased += int(await self.redis.delete(*keys[start : start + 500]))
        return erased

    async def _report(self, req: ComplianceRequest, request_id: str) -> int:
        states = {}
        for oid in req.order_ids:
            doc = await self.redis.hget(order_key(req.shop, oid), "doc")
            if doc is not None:
                states[oid] = orjson.loads(doc)
        report = {
            "shop": req.shop,
            "customer_id": req.customer_id,
            "data_request_id": req.data_request_id,
            "orders": states,
        }
        await self.redis.set(report_key(request_id), orjson.dumps(report), ex=REPORT_TTL_S)
        return len(states)
