"""Inventory truth in Redis: every command applied by one Lua script, atomically.

Keys carry the SKU in a hash tag (``inv:{sku}``) so one script touches one slot.
The consumed-offset hash is per consumer group; see docs/decisions for the cluster layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Literal

import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from stocksync_common.events import InventoryCommand, Levels, SkuLevels

APPLY_LUA = files("inventory_adjuster.adapters").joinpath("apply.lua").read_text()


def state_key(sku: str) -> str:
    return f"inv:{{{sku}}}"


def idem_key(sku: str, key: str) -> str:
    return f"inv:{{{sku}}}:idem:{key}"


def ledger_key(sku: str) -> str:
    return f"inv:{{{sku}}}:ledger"


def offsets_key(group: str) -> str:
    return f"offsets:{{{group}}}"


LEVEL_PARTS = frozenset(("on_hand", "reserved", "safety_stock"))
Status = Literal["applied", "rejected", "stale", "duplicate"]
STATUSES = frozenset(("applied", "rejected", "stale", "duplicate"))


@dataclass(frozen=True)
class Applied:
    status: Status
    result: dict[str, Any]
    levels: SkuLevels


@dataclass(frozen=True)
class Invalid:
    reason: str


@dataclass(frozen=True)
class Position:
    topic: str
    partition: int
    offset: int


class RedisInventory:
    def __init__(
        self,
        redis: Redis,
        group: str,
        *,
        idem_ttl_s: int,
        ledger_max_len: int,
        shops: Sequence[str] = (),
    ) -> None:
        self.redis = redis
        self.group = group
        self.idem_ttl_s = idem_ttl_s
        self.ledger_max_len = ledger_max_len
        self.shops_json = orjson.dumps(list(shops)).decode() if shops else ""
        self._script = redis.register_script(APPLY_LUA)

    def _args(self, cmd: InventoryCommand, pos: Position | None) -> list[str | int]:
        as_of = "" if cmd.as_of is None else str(int(cmd.as_of.timestamp() * 1000))
        config = "" if cmd.config is None else cmd.config.model_dump_json(exclude_none=True)
        return [
            cmd.command,
            cmd.location,
            cmd.quantity,
            cmd.idempotency_key,
            self.idem_ttl_s,
            f"{pos.topic}:{pos.partition}" if pos else "",
            pos.offset if pos else -1,
            self.ledger_max_len,
            as_of,
            config,
            cmd.order.shop if cmd.order else "",
            self.shops_json,
        ]

    async def apply_many(
        self, commands: Sequence[tuple[InventoryCommand, Position | None]]
    ) -> list[Applied | Invalid]:
        """Apply commands in one round trip; each one is its own atomic script call."""
        pipe = self.redis.pipeline(transaction=False)
        for cmd, pos in commands:
            keys = [
                state_key(cmd.sku),
                idem_key(cmd.sku, cmd.idempotency_key),
                ledger_key(cmd.sku),
                offsets_key(self.group),
            ]
            await self._script(keys=keys, args=self._args(cmd, pos), client=pipe)
        raw = await pipe.execute(raise_on_error=False)
        return [self._parse(cmd.sku, pos, r) for (cmd, pos), r in zip(commands, raw, strict=True)]

    @staticmethod
    def _parse(sku: str, pos: Position | None, raw: Any) -> Applied | Invalid:
        if isinstance(raw, ResponseError):
            if str(raw).startswith("POISON"):
                return Invalid(str(raw).removeprefix("POISON "))
            raise raw
        status, result, levels = (as_text(x) for x in raw)
        if status not in STATUSES:
            raise ValueError(f"unexpected script status {status!r}")
        doc = orjson.loads(levels)
        if pos is not None:
            doc.update(partition=pos.partition, offset=pos.offset)
        return Applied(status=status, result=orjson.loads(result), levels=sku_levels(sku, doc))  # type: ignore[arg-type]

    async def levels(self, sku: str) -> SkuLevels | None:
        flat = {
            as_text(k): as_text(v) for k, v in (await self.redis.hgetall(state_key(sku))).items()
        }
        if not flat:
            return None
        locs: dict[str, dict[str, int]] = {}
        for field, value in flat.items():
            loc, sep, part = field.rpartition("|")
            if sep and part in LEVEL_PARTS:
                locs.setdefault(loc, {})[part] = int(value)
        shares = orjson.loads(flat["shares"]) if "shares" in flat else None
        doc = {"version": int(flat.get("version", 0)), "locations": locs, "shares": shares}
        return sku_levels(sku, doc)

    async def settings_of(self, sku: str) -> dict[str, Any]:
        """Per-SKU settings: oversell policy, allocation threshold, kit components."""
        policy, threshold, kit = await self.redis.hmget(
            state_key(sku), ["policy", "alloc_threshold", "kit"]
        )
        return {
            "policy": as_text(policy) if policy else "reject",
            "allocation_threshold": int(threshold) if threshold else None,
            "kit_components": orjson.loads(kit) if kit else None,
        }

    async def ledger(self, sku: str, count: int = 1000) -> list[dict[str, str]]:
        entries = await self.redis.xrevrange(ledger_key(sku), count=count) or []
        out = []
        for entry_id, fields in reversed(entries):
            row = {as_text(k): as_text(v) for k, v in (fields or {}).items()}
            row["id"] = as_text(entry_id)
            out.append(row)
        return out

    async def stored_offsets(self) -> dict[str, int]:
        flat = await self.redis.hgetall(offsets_key(self.group))
        return {as_text(k): int(v) for k, v in flat.items()}


def sku_levels(sku: str, doc: dict[str, Any]) -> SkuLevels:
    locations: dict[str, Levels] = {}
    for loc, lv in (doc.get("locations") or {}).items():
        on_hand, reserved, safety = (
            lv.get("on_hand", 0),
            lv.get("reserved", 0),
            lv.get("safety_stock", 0),
        )
        locations[loc] = Levels(
            on_hand=on_hand,
            reserved=reserved,
            safety_stock=safety,
            available=on_hand - reserved - safety,
        )
    return SkuLevels(
        sku=sku,
        version=int(doc.get("version", 0)),
        available=sum(lv.available for lv in locations.values()),
        locations=locations,
        shares=doc.get("shares") or None,
        partition=doc.get("partition"),
        offset=doc.get("offset"),
    )


def as_text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
