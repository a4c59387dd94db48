"""Digests for noisy SKUs: alerts held back in a quiet period, sent as one when it ends."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from notifier.domain.alerts import Routed


def digest_key(sku: str, prefix: str) -> str:
    return f"{prefix}:{{{sku}}}:digest"


@dataclass
class Digests:
    redis: Redis
    prefix: str = "notifier"

    @property
    def schedule_key(self) -> str:
        return f"{self.prefix}:digests"

    async def hold(self, routed: Routed, due: float) -> None:
        """Keep an alert for the SKU's digest (idempotent by alert id)."""
        sku = routed.alert.sku
        await self.redis.hset(
            digest_key(sku, self.prefix), routed.alert.id, routed.model_dump_json()
        )
        await self.redis.zadd(self.schedule_key, {sku: due}, nx=True)

    async def due(self, now: float, limit: int = 100) -> list[str]:
        skus = await self.redis.zrangebyscore(self.schedule_key, "-inf", now, start=0, num=limit)
        return [s.decode() if isinstance(s, bytes) else str(s) for s in skus]

    async def take(self, sku: str) -> list[Routed]:
        raw = await self.redis.hgetall(digest_key(sku, self.prefix))
        items = [Routed.model_validate_json(v) for v in raw.values()]
        return sorted(items, key=lambda r: (r.alert.occurred_at, r.alert.id))

    async def clear(self, sku: str, alert_ids: list[str], next_due: float) -> None:
        """Drop the alerts that went out; keep the SKU scheduled if more arrived meanwhile.

        Two slots (the SKU's and the schedule), so no script: the re-check after the ZREM
        closes the window in which a new alert could lose its schedule."""
        key = digest_key(sku, self.prefix)
        if alert_ids:
            await self.redis.hdel(key, *alert_ids)
        if await self.redis.hlen(key) == 0:
            await self.redis.zrem(self.schedule_key, sku)
            if await self.redis.hlen(key) == 0:
                return
        await self.redis.zadd(self.schedule_key, {sku: next_due})
