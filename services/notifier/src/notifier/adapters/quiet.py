"""The quiet period of alerts that are not level crossings: order events (an order refused for
stock, an order line without a SKU), which have no per-SKU crossing state to keep it.

One key per subject (a SKU, or ``unmapped:<shop>``) and kind holds the id of the alert that
opened the period and expires with it (SET NX EX). An alert may go out when it opens the
period or is that same alert again (a redelivery: the outbox dedupes it by id); any other
goes to the subject's digest, due when the period ends (docs/decisions/0022-residual-order-
edge-cases.md, e).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis


@dataclass
class QuietPeriods:
    redis: Redis
    prefix: str = "notifier"

    def key(self, subject: str, kind: str) -> str:
        return f"{self.prefix}:{{{subject}}}:quiet:{kind}"

    async def claim(self, subject: str, kind: str, alert_id: str, quiet_s: int) -> float | None:
        """None when the alert may go now; else when the period ends (epoch s)."""
        if quiet_s <= 0:
            return None
        key = self.key(subject, kind)
        if await self.redis.set(key, alert_id, nx=True, ex=quiet_s):
            return None
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(key)
            pipe.pttl(key)
            holder, ttl_ms = await pipe.execute()
        if holder is None or (holder.decode() if isinstance(holder, bytes) else holder) == alert_id:
            return None  # the period just ended, or this alert opened it (a redelivery)
        return time.time() + max(0, int(ttl_ms)) / 1000
