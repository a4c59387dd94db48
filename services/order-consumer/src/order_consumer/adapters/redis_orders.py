"""Order state and the SKU mapping in Redis.

Keys (each in one hash slot, Redis Cluster ready):

- ``order:{<shop>:<order id>}``: hash ``rev`` (integer) and ``doc`` (the order's state as
  JSON, :class:`~order_consumer.domain.OrderState`); expires ``order_state_ttl_s`` after
  its last change.
- ``skumap:{<shop>}``: hash ``variant:<variant id>`` -> SKU, read when a line item has no
  ``sku``. order-consumer only reads it; shopify-sync's catalog mapping is to fill it.

Why a compare-and-set script rather than one Lua script holding the rules, or WATCH/MULTI:
the lifecycle rules are Python (``domain``, pure and unit-tested); porting them to Lua would
keep two copies of them. The state is read, the new state computed in Python, and saved by
``save_order.lua`` only if ``rev`` has not moved (optimistic concurrency); on a conflict the
caller reads again and recomputes. Conflicts are rare: webhooks about one order share a
partition unless they are keyed by another resource (refunds/create and fulfillments/create
are keyed by their own id). WATCH would do the same but pins a connection from the read to
EXEC and needs a MULTI round trip; the script is one round trip and holds no connection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files

from redis.asyncio import Redis

from order_consumer.domain import OrderState

SAVE_LUA = files("order_consumer.adapters").joinpath("save_order.lua").read_text()


def order_key(shop: str, order_id: str) -> str:
    return f"order:{{{shop}:{order_id}}}"


def skumap_key(shop: str) -> str:
    return f"skumap:{{{shop}}}"


def variant_field(variant_id: str) -> str:
    return f"variant:{variant_id}"


@dataclass(frozen=True)
class Versioned:
    rev: int
    state: OrderState | None


class RedisOrders:
    def __init__(self, redis: Redis, *, ttl_s: int) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self._save = redis.register_script(SAVE_LUA)

    async def load(self, shop: str, order_id: str) -> Versioned:
        rev, doc = await self.redis.hmget(order_key(shop, order_id), ["rev", "doc"])
        state = OrderState.model_validate_json(doc) if doc is not None else None
        return Versioned(int(rev or 0), state)

    async def save(self, shop: str, order_id: str, rev: int, state: OrderState) -> bool:
        """Save ``state`` if the order is still at ``rev``; False when someone else saved."""
        doc = state.model_dump_json(exclude_defaults=True)
        new_rev = await self._save(keys=[order_key(shop, order_id)], args=[rev, doc, self.ttl_s])
        return bool(new_rev)

    async def sku_map(self, shop: str, variant_ids: Iterable[str]) -> dict[str, str]:
        """SKU per variant id, for the variants the mapping knows."""
        ids = sorted(variant_ids)
        if not ids:
            return {}
        skus = await self.redis.hmget(skumap_key(shop), [variant_field(v) for v in ids])
        return {v: as_text(s) for v, s in zip(ids, skus, strict=True) if s}


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
