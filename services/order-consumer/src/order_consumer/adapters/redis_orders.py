"""Order state and the SKU mapping in Redis.

Keys (each in one hash slot, Redis Cluster ready):

- ``order:{<shop>:<order id>}``: hash ``rev`` (integer) and ``doc`` (the order's state as
  JSON, :class:`~order_consumer.domain.OrderState`); expires ``order_state_ttl_s`` after
  its last change.
- ``order:{<shop>:<order id>}`` erased (``customers/redact``, ``shop/redact``): a tombstone,
  the hash without ``doc``, with ``erased`` (ms) and ``rev`` moved on, expiring
  ``STOCKSYNC_ERASED_TOMBSTONE_TTL_S`` after the erasure (``erase_order.lua``);
  ``erased-shop:{<shop>}``: the time ``shop/redact`` erased the shop, same lifetime. No
  webhook is applied to an erased order or shop while they live (ADR 0022, d).
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

A consumer batch takes two round trips whatever its size (:meth:`RedisOrders.read` and
:meth:`RedisOrders.save_many`, each one pipeline): the orders' states and the shops' SKU
mappings are read together, and the saves go as one pipeline of ``EVALSHA`` calls (the
script is loaded again only when Redis answers NOSCRIPT, e.g. after a restart).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from order_consumer.domain import OrderState
from stocksync_common.redis_client import pipeline_evalsha

SAVE_LUA = files("order_consumer.adapters").joinpath("save_order.lua").read_text()
ERASE_LUA = files("order_consumer.adapters").joinpath("erase_order.lua").read_text()


def order_key(shop: str, order_id: str) -> str:
    return f"order:{{{shop}:{order_id}}}"


def erased_shop_key(shop: str) -> str:
    return f"erased-shop:{{{shop}}}"


def skumap_key(shop: str) -> str:
    return f"skumap:{{{shop}}}"


def variant_field(variant_id: str) -> str:
    return f"variant:{variant_id}"


OrderRef = tuple[str, str]  # (shop, order id)


STATE_FIELDS = ["rev", "doc", "erased"]


@dataclass(frozen=True)
class Versioned:
    rev: int
    state: OrderState | None
    erased: bool = False  # a tombstone of the order (or of its shop): apply nothing

    @classmethod
    def from_reply(
        cls, rev: bytes | str | None, doc: bytes | str | None, erased: object = None
    ) -> Versioned:
        state = OrderState.model_validate_json(doc) if doc is not None else None
        return cls(int(rev or 0), state, erased is not None)


@dataclass(frozen=True)
class Snapshot:
    """What a batch reads before it applies anything."""

    orders: dict[OrderRef, Versioned]
    skumaps: dict[str, dict[str, str]]  # shop -> variant id -> SKU, the variants asked for


class RedisOrders:
    def __init__(self, redis: Redis, *, ttl_s: int) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self._save = redis.register_script(SAVE_LUA)

    async def load(self, shop: str, order_id: str) -> Versioned:
        return Versioned.from_reply(
            *await self.redis.hmget(order_key(shop, order_id), STATE_FIELDS)
        )

    async def read(
        self, refs: Collection[OrderRef], variants: Mapping[str, Iterable[str]] | None = None
    ) -> Snapshot:
        """The orders' states and, per shop, the SKUs of ``variants``: one round trip."""
        orders = list(refs)
        wanted = [(shop, sorted(set(ids))) for shop, ids in (variants or {}).items()]
        wanted = [(shop, ids) for shop, ids in wanted if ids]
        if not orders and not wanted:
            return Snapshot({}, {})
        shops = sorted({shop for shop, _ in orders})
        pipe = self.redis.pipeline(transaction=False)
        for shop, order_id in orders:
            pipe.hmget(order_key(shop, order_id), STATE_FIELDS)
        for shop in shops:
            pipe.exists(erased_shop_key(shop))
        for shop, ids in wanted:
            pipe.hmget(skumap_key(shop), [variant_field(v) for v in ids])
        replies = await pipe.execute()
        n, m = len(orders), len(orders) + len(shops)
        erased_shops = {shop for shop, gone in zip(shops, replies[n:m], strict=True) if gone}
        states = {}
        for ref, (rev, doc, erased) in zip(orders, replies[:n], strict=True):
            gone = erased if erased is not None else ("shop" if ref[0] in erased_shops else None)
            states[ref] = Versioned.from_reply(rev, doc, gone)
        skumaps = {
            shop: {v: as_text(s) for v, s in zip(ids, reply, strict=True) if s}
            for (shop, ids), reply in zip(wanted, replies[m:], strict=True)
        }
        return Snapshot(states, skumaps)

    async def save_many(
        self, saves: Mapping[OrderRef, tuple[int, OrderState]]
    ) -> dict[OrderRef, bool]:
        """:meth:`save` for many orders in one pipeline; per order, whether it was saved."""
        saved: dict[OrderRef, bool] = {}
        todo = list(saves)
        for _ in range(2):  # a second pass only for what met NOSCRIPT
            pipe = self.redis.pipeline(transaction=False)
            for ref in todo:
                rev, state = saves[ref]
                doc = state.model_dump_json(exclude_defaults=True)
                pipeline_evalsha(pipe, self._save.sha, [order_key(*ref)], [rev, doc, self.ttl_s])
            replies = await pipe.execute(raise_on_error=False) if todo else []
            missing = []
            for ref, reply in zip(todo, replies, strict=True):
                if isinstance(reply, NoScriptError):
                    missing.append(ref)
                elif isinstance(reply, Exception):
                    raise reply
                else:
                    saved[ref] = bool(reply)
            if not missing:
                return saved
            await self.redis.script_load(SAVE_LUA)
            todo = missing
        raise NoScriptError("save_order.lua could not be loaded")

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


async def erase_orders(redis: Redis, keys: Iterable[str | bytes], ttl_s: int, at_ms: int) -> int:
    """Erase these order states, each leaving a tombstone for ``ttl_s`` (``erase_order.lua``);
    how many had a state. Rare (compliance requests): the script is loaded first."""
    sha = await redis.script_load(ERASE_LUA)
    found, batch = 0, list(keys)
    for start in range(0, len(batch), 500):
        pipe = redis.pipeline(transaction=False)
        for key in batch[start : start + 500]:
            pipeline_evalsha(pipe, sha, [key], [at_ms, ttl_s])
        found += sum(int(r) for r in await pipe.execute())
    return found
