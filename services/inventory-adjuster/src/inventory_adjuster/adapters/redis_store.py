"""Inventory truth in Redis: every command applied by one Lua script, atomically.

Keys carry the SKU in a hash tag (``inv:{sku}``) so one script touches one slot (Redis
Cluster). The consumed-offset hash is per consumer group, in a slot of its own: it is written
after the scripts, as a separate write that only ever records commands whose scripts returned
(docs/decisions/0029-redis-cluster.md).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Literal

import orjson
from redis.asyncio import Connection, Redis
from redis.exceptions import NoScriptError, ResponseError
from redis.typing import EncodableT

from stocksync_common.events import InventoryCommand, KitPart, Levels, SkuLevels
from stocksync_common.redis_client import pipeline_evalsha

# alloc.lua: the channel-allocation shares, take_order.lua: where a routed line's release or
# commit takes its hold from; both shared with the kit scripts (ADR 0012, 0040; #23)
APPLY_LUA = "".join(
    files("inventory_adjuster.adapters").joinpath(name).read_text()
    for name in ("alloc.lua", "take_order.lua", "apply.lua")
)
RESTORE_LUA = files("inventory_adjuster.adapters").joinpath("restore.lua").read_text()
LEDGER_FORGET_LUA = files("inventory_adjuster.adapters").joinpath("ledger_forget.lua").read_text()


def state_key(sku: str) -> str:
    return f"inv:{{{sku}}}"


def idem_key(sku: str, key: str) -> str:
    return f"inv:{{{sku}}}:idem:{key}"


def ledger_key(sku: str) -> str:
    return f"inv:{{{sku}}}:ledger"


def hold_key(cmd: InventoryCommand) -> str:
    """What a routed order line holds, per location (apply.lua's KEYS[4]; ADR 0018)."""
    o = cmd.order
    return line_hold_key(cmd.sku, hold_line(o.shop, o.order_id, o.line_id) if o else "")


def hold_line(shop: str, order_id: str, line_id: str | None) -> str:
    """An order line as its hold key ends and as its parked hold's field is named
    (``<shop>:<order>:<line>``)."""
    return f"{shop}:{order_id}:{line_id or ''}"


def line_hold_key(sku: str, line: str) -> str:
    """The hold key of the order ``line`` (:func:`hold_line`) for ``sku``."""
    return f"inv:{{{sku}}}:hold:{line}"


# A hold outlives the last command that wrote it by the order state's own lifetime
# (order-consumer's STOCKSYNC_ORDER_STATE_TTL_S): only that state's commands use it (ADR 0035).
HOLD_TTL_S = 400 * 24 * 3600


def waiting_key(sku: str) -> str:
    """Refused order lines waiting for the SKU's stock, oldest first (apply.lua's KEYS[5];
    docs/decisions/0022-residual-order-edge-cases.md)."""
    return f"inv:{{{sku}}}:waiting"


def waited_key(sku: str) -> str:
    """Units re-reserved for waiting routed lines, per line, until the line's next routed
    command moves them into its hold (apply.lua's KEYS[6]; ADR 0031)."""
    return f"inv:{{{sku}}}:waited"


def waiting_entry(cmd: InventoryCommand) -> str:
    """apply.lua's ARGV[15]: what a reserve of an order line queues if it is refused (a
    routed one with its route: ADR 0031); "" for any other command."""
    o = cmd.order
    if cmd.command != "reserve" or o is None or o.line_id is None:
        return ""
    entry: dict[str, object] = {
        "key": cmd.idempotency_key,
        "shop": o.shop,
        "order_id": o.order_id,
        "line_id": o.line_id,
        "location": cmd.location,
        "quantity": cmd.quantity,
    }
    if cmd.route is not None:
        entry["route"] = cmd.route.model_dump(mode="json")
    return orjson.dumps(entry).decode()


def offsets_key(group: str) -> str:
    return f"offsets:{{{group}}}"


def script_head_keys(cmd: InventoryCommand) -> list[str]:
    """KEYS[1..3] of apply.lua and kit.lua: state, idempotency, ledger (one slot: the SKU's)."""
    return [state_key(cmd.sku), idem_key(cmd.sku, cmd.idempotency_key), ledger_key(cmd.sku)]


def script_head_args(
    cmd: InventoryCommand, pos: Position | None, idem_ttl_s: int, ledger_max_len: int
) -> list[str | int]:
    """ARGV[1..8] of apply.lua and kit.lua: command, location, quantity, key, ttl, offset
    field, offset, ledger length."""
    return [
        cmd.command,
        cmd.location,
        cmd.quantity,
        cmd.idempotency_key,
        idem_ttl_s,
        f"{pos.topic}:{pos.partition}" if pos else "",
        pos.offset if pos else -1,
        ledger_max_len,
    ]


LEVEL_PARTS = frozenset(("on_hand", "reserved", "safety_stock"))
SEEN_PREFIX = "seen|"  # "seen|<location>|<shop>": that shop's orders applied there
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


@dataclass(frozen=True)
class DefaultAllocation:
    """Channel allocation for every SKU without a configured threshold: stores are shown
    disjoint shares while available is below ``per_store`` units per store, or below
    ``velocity`` times the units asked for in about the last ``window_s`` seconds
    (docs/decisions/0012-flash-sales-write-invariant-and-allocation.md)."""

    per_store: int = 4
    velocity: float = 3.0
    window_s: float = 60.0

    def encode(self) -> str:
        return orjson.dumps(
            {"per_store": self.per_store, "velocity": self.velocity, "window_s": self.window_s}
        ).decode()


class RedisInventory:
    def __init__(
        self,
        redis: Redis,
        group: str,
        *,
        idem_ttl_s: int,
        ledger_max_len: int,
        shops: Sequence[str] = (),
        allocation: DefaultAllocation | None = None,
        hold_ttl_s: int = HOLD_TTL_S,
    ) -> None:
        self.redis = redis
        self.group = group
        self.idem_ttl_s = idem_ttl_s
        self.hold_ttl_s = hold_ttl_s
        self.ledger_max_len = ledger_max_len
        self.shops = tuple(shops)
        self.allocation = allocation
        self.shops_json = orjson.dumps(list(shops)).decode() if shops else ""
        self.allocation_json = allocation.encode() if allocation else ""
        self._sha = hashlib.sha1(APPLY_LUA.encode()).hexdigest()  # noqa: S324 - Redis' script id
        # offsets of handled commands not yet written to offsets:{group} (see :meth:`handled`)
        self._unrecorded: dict[str, int] = {}

    def _args(self, cmd: InventoryCommand, pos: Position | None) -> list[str | int]:
        as_of = "" if cmd.as_of is None else str(int(cmd.as_of.timestamp() * 1000))
        config = "" if cmd.config is None else cmd.config.model_dump_json(exclude_none=True)
        args: list[str | int] = [
            *script_head_args(cmd, pos, self.idem_ttl_s, self.ledger_max_len),
            as_of,
            config,
            cmd.order.shop if cmd.order else "",
            self.shops_json,
            self.allocation_json,
        ]
        # ARGV[14], with KEYS[4]: routed (ADR 0018); ARGV[15], with KEYS[5] and KEYS[6]: the
        # waiting list (ADR 0022, 0031)
        args.append(cmd.route.model_dump_json() if cmd.route is not None else "")
        args.append(waiting_entry(cmd))
        args.append("1" if cmd.undoes is not None else "")  # ARGV[16], with KEYS[7] (ADR 0031)
        args.append(self.hold_ttl_s)  # ARGV[17]: holds expire (ADR 0035)
        return args

    def _keys(self, cmd: InventoryCommand) -> list[str]:
        keys = script_head_keys(cmd)
        # KEYS[7]: the stored result of the commit an adjust undoes; else its own (unused)
        undone = idem_key(cmd.sku, cmd.undoes) if cmd.undoes is not None else keys[1]
        return [*keys, hold_key(cmd), waiting_key(cmd.sku), waited_key(cmd.sku), undone]

    def handled(self, positions: Sequence[Position | None]) -> None:
        """Note that the scripts of the commands at ``positions`` returned (applied, refused,
        duplicate or poison). Their consumed offsets are written at the head of the next
        :meth:`apply_many` pipeline, so the offsets hash never covers a command whose script
        had not returned, and on one Redis it is written after those scripts (an AOF that lost
        its tail lost the offset first). ADR 0029: a best-effort write; idempotency keys keep
        the commands exact, the offset only bounds what is read again."""
        for pos in positions:
            if pos is not None:
                field = f"{pos.topic}:{pos.partition}"
                self._unrecorded[field] = max(pos.offset, self._unrecorded.get(field, -1))

    async def apply_many(
        self, commands: Sequence[tuple[InventoryCommand, Position | None]]
    ) -> list[Applied | Invalid]:
        """Apply commands in one round trip; each one is its own atomic script call.

        EVALSHA first; if Redis lost the script cache (restart, failover), load it once
        and run the batch again: commands that did run are then idempotent duplicates.
        """
        if not commands:
            return []
        calls = [(self._keys(cmd), self._args(cmd, pos)) for cmd, pos in commands]
        raw = await self._evalsha_all(calls)
        if any(isinstance(r, NoScriptError) for r in raw):
            await self.redis.script_load(APPLY_LUA)
            raw = await self._evalsha_all(calls)
        return [self._parse(cmd, pos, r) for (cmd, pos), r in zip(commands, raw, strict=True)]

    async def _evalsha_all(self, calls: list[tuple[list[str], list[str | int]]]) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        recording = dict(self._unrecorded)
        if recording:
            pipe.hset(
                offsets_key(self.group), mapping=dict[EncodableT, EncodableT](recording.items())
            )
        for keys, args in calls:
            pipeline_evalsha(pipe, self._sha, keys, args)
        raw = await pipe.execute(raise_on_error=False)
        if not recording:
            return raw
        if not isinstance(raw[0], Exception):
            for field, offset in recording.items():
                if self._unrecorded.get(field) == offset:
                    del self._unrecorded[field]
        return raw[1:]

    @staticmethod
    def _parse(cmd: InventoryCommand, pos: Position | None, raw: Any) -> Applied | Invalid:
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
        doc["idempotency_key"] = cmd.idempotency_key  # the rebuild's detection checks it
        levels_ = sku_levels(cmd.sku, doc)
        return Applied(status=status, result=orjson.loads(result), levels=levels_)  # type: ignore[arg-type]

    async def levels(self, sku: str, *, with_position: bool = False) -> SkuLevels | None:
        """The SKU's levels; ``with_position``: also the position of its last command and its
        kit offsets, read in the same HGETALL (what a levels record after a kit command
        carries; see docs/decisions/0008-kits-and-rebuild.md)."""
        return (await self.levels_and_kit_parts(sku, with_position=with_position))[0]

    async def levels_and_kit_parts(
        self, sku: str, *, with_position: bool = False
    ) -> tuple[SkuLevels | None, dict[str, KitPart] | None]:
        """:meth:`levels`, and for a kit's component under allocation its kits' parts as its
        changes carry them (``StockChange.kit_parts``), from the same HGETALL."""
        flat = {
            as_text(k): as_text(v) for k, v in (await self.redis.hgetall(state_key(sku))).items()
        }
        if not flat:
            return None, None
        locs: dict[str, dict[str, int]] = {}
        for field, value in flat.items():
            loc, sep, part = field.rpartition("|")
            if sep and part in LEVEL_PARTS:
                locs.setdefault(loc, {})[part] = int(value)
        shares = orjson.loads(flat["shares"]) if "shares" in flat else None
        seen: dict[str, dict[str, int]] = {}
        for field, value in flat.items():
            if field.startswith(SEEN_PREFIX):
                loc, _, shop = field.removeprefix(SEEN_PREFIX).rpartition("|")
                seen.setdefault(loc, {})[shop] = int(value)
        doc: dict[str, Any] = {
            "version": int(flat.get("version", 0)),
            "locations": locs,
            "shares": shares,
            "seen": seen,
        }
        if with_position:
            partition, sep, offset = flat.get("pos", "").partition(":")
            if sep:
                doc.update(partition=int(partition), offset=int(offset))
            doc["kit_offsets"] = {
                f.removeprefix("kitoff|"): int(v)
                for f, v in flat.items()
                if f.startswith("kitoff|")
            }
        return sku_levels(sku, doc), kit_parts_of(flat)

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

    async def ledger(
        self, sku: str, count: int = 1000, before: str | None = None
    ) -> list[dict[str, str]]:
        """The newest ``count`` entries (those before the entry id ``before``), oldest first."""
        newest = f"({before}" if before else "+"
        entries = await self.redis.xrevrange(ledger_key(sku), max=newest, count=count) or []
        out = []
        for entry_id, fields in reversed(entries):
            row = {as_text(k): as_text(v) for k, v in (fields or {}).items()}
            row["id"] = as_text(entry_id)
            out.append(row)
        return out

    async def stored_offsets(self) -> dict[str, int]:
        flat = await self.redis.hgetall(offsets_key(self.group))
        return {as_text(k): int(v) for k, v in flat.items()}

    # --- rebuild from Kafka (see inventory_adjuster.rebuild) ---------------------------

    async def restore(
        self, levels: SkuLevels, extra: Mapping[str, str | int] | None = None
    ) -> None:
        """Replace one SKU's state hash with its levels (and ``extra`` state fields)."""
        await self.restore_many([(levels.sku, {**restore_fields(levels), **(extra or {})})])

    async def restore_many(
        self,
        items: Sequence[tuple[str, Mapping[str, str | int]]],
        restated: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        """Replace each ``(sku, fields)``'s state hash by ``fields`` (empty: the SKU starts
        from nothing), one atomic script per SKU, pipelined (restore.lua). No field of the old
        hash survives but the settings no levels record carries (policy, allocation
        threshold, kit, count times, ``repaired``), and of those only the ones that
        ``restated[sku]`` does not name (a command the rebuild read states them again). So a
        rebuild run twice gives what one run gives: a counter the record lacks (a shop's
        ``seen``, a location) is not left for the replay to move again (ADR 0008)."""
        if not items:
            return
        await self.redis.script_load(RESTORE_LUA)  # on every master of a cluster
        sha = hashlib.sha1(RESTORE_LUA.encode()).hexdigest()  # noqa: S324 - Redis' script id
        commands: list[list[Arg]] = []
        for sku, fields in items:
            names = sorted((restated or {}).get(sku, ()))
            commands.append(["EVALSHA", sha, 1, state_key(sku), len(names), *names, *_flat(fields)])
        await write_simple(self.redis, commands)

    async def mark_applied(self, marks: Sequence[tuple[str, str, bytes]]) -> None:
        """Store ``(sku, idempotency key, result)`` so a replay of that command is a duplicate."""
        ttl = self.idem_ttl_s
        commands: list[list[Arg]] = [
            ["SET", idem_key(sku, key), result, "EX", ttl] for sku, key, result in marks
        ]
        await write_simple(self.redis, commands)

    async def forget(self, keys: Sequence[tuple[str, str]]) -> None:
        """Delete the stored results of ``(sku, idempotency key)`` so they apply again."""
        await write_simple(self.redis, [["DEL", idem_key(sku, key)] for sku, key in keys])

    async def forget_ledger(self, keys: Mapping[str, Collection[str]]) -> None:
        """Delete from each SKU's ledger the entries of ``keys[sku]`` (their ``key`` or
        ``served_by``): commands a rebuild replays, which write them again
        (ledger_forget.lua)."""
        if not keys:
            return
        await self.redis.script_load(LEDGER_FORGET_LUA)  # on every master of a cluster
        sha = hashlib.sha1(LEDGER_FORGET_LUA.encode()).hexdigest()  # noqa: S324 - script id
        await write_simple(
            self.redis,
            [
                ["EVALSHA", sha, 1, ledger_key(sku), *sorted(names)]
                for sku, names in keys.items()
                if names
            ],
        )

    async def set_offsets(self, offsets: Mapping[str, int]) -> None:
        """Overwrite the consumed offsets of ``"<topic>:<partition>"`` (no max, unlike apply)."""
        if offsets:
            mapping = dict[EncodableT, EncodableT](offsets.items())
            await self.redis.hset(offsets_key(self.group), mapping=mapping)


def restore_fields(levels: SkuLevels) -> dict[str, str | int]:
    """The state-hash fields apply.lua keeps for these levels (``available`` is derived)."""
    fields: dict[str, str | int] = {"version": levels.version}
    for loc, lv in levels.locations.items():
        fields[f"{loc}|on_hand"] = lv.on_hand
        fields[f"{loc}|reserved"] = lv.reserved
        fields[f"{loc}|safety_stock"] = lv.safety_stock
    if levels.shares:
        fields["shares"] = orjson.dumps(levels.shares).decode()
    for partition, offset in (levels.kit_offsets or {}).items():
        fields[f"kitoff|{partition}"] = offset
    for loc, counters in (levels.seen or {}).items():
        for shop, n in counters.items():
            fields[f"{SEEN_PREFIX}{loc}|{shop}"] = n
    if levels.partition is not None and levels.offset is not None:
        fields["pos"] = f"{levels.partition}:{levels.offset}"
    return fields


def _flat(fields: Mapping[str, str | int]) -> list[str | int]:
    return [x for pair in fields.items() for x in pair]


# --- bulk writes ---------------------------------------------------------------------------

Arg = str | bytes | int
BULK_CHUNK = 5000
BULK_TIMEOUT_S = 60.0


async def write_simple(redis: Redis, commands: Sequence[Sequence[Arg]]) -> None:
    """Run many commands whose replies are one line (integer, OK); raise on an error reply.

    redis-py spends ~15 us packing and parsing each command of a pipeline, which would be
    most of a 100,000-SKU rebuild; packing here, counting reply lines on a connection of our
    own, and packing the next chunk while Redis runs the last one is several times cheaper.
    Plain TCP only: TLS or unix sockets go through a normal pipeline.
    """
    if not commands:
        return
    pool = getattr(redis, "connection_pool", None)  # a cluster client has one per node
    if pool is None or pool.connection_class is not Connection:
        for i in range(0, len(commands), BULK_CHUNK):
            pipe = redis.pipeline(transaction=False)
            for command in commands[i : i + BULK_CHUNK]:
                pipe.execute_command(*command)
            await pipe.execute()
        return
    kw = pool.connection_kwargs
    setup: list[Sequence[Arg]] = []
    if kw.get("password"):
        user = [kw["username"]] if kw.get("username") else []
        setup.append(["AUTH", *user, kw["password"]])
    setup.append(["SELECT", kw.get("db") or 0])
    async with asyncio.timeout(BULK_TIMEOUT_S):
        reader, writer = await asyncio.open_connection(
            kw.get("host", "localhost"), kw.get("port", 6379)
        )
    try:
        all_commands = [*setup, *commands]
        async with asyncio.timeout(BULK_TIMEOUT_S + len(commands) / 1000):
            _, replies = await asyncio.gather(
                _send(writer, all_commands), _replies(reader, len(all_commands))
            )
    finally:
        writer.close()
        await writer.wait_closed()
    if replies.startswith(b"-") or b"\r\n-" in replies:
        error = next(line for line in bytes(replies).split(b"\r\n") if line.startswith(b"-"))
        raise ResponseError(error[1:].decode(errors="replace"))


async def _send(writer: asyncio.StreamWriter, commands: Sequence[Sequence[Arg]]) -> None:
    for i in range(0, len(commands), BULK_CHUNK):
        writer.write(b"".join([_pack(command) for command in commands[i : i + BULK_CHUNK]]))
        await writer.drain()


async def _replies(reader: asyncio.StreamReader, count: int) -> bytearray:
    """Read ``count`` one-line replies."""
    buf, lines = bytearray(), 0
    while lines < count:
        data = await reader.read(1 << 16)
        if not data:
            raise ConnectionError("Redis closed the connection during a bulk write")
        start = max(0, len(buf) - 1)  # a CRLF may straddle two reads
        buf += data
        lines += buf.count(b"\r\n", start)
    return buf


def _pack(args: Sequence[Arg]) -> bytes:
    """One command in RESP: an array of bulk strings."""
    raws = [a if type(a) is bytes else str(a).encode() for a in args]
    return b"*%d\r\n" % len(raws) + b"".join([b"$%d\r\n%b\r\n" % (len(r), r) for r in raws])


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
        seen=seen if isinstance(seen := doc.get("seen"), dict) else None,
        partition=doc.get("partition"),
        offset=doc.get("offset"),
        kit_offsets={str(p): int(o) for p, o in kit_offsets.items()}
        if (kit_offsets := doc.get("kit_offsets"))
        else None,
        idempotency_key=doc.get("idempotency_key"),
    )


def as_text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def kit_parts_of(flat: dict[str, str]) -> dict[str, KitPart] | None:
    """A kit component's kits' parts as its state hash keeps them ("kitshares" beside the
    published "shares", "kitq|<kit>" its units per kit), as alloc.lua's alloc_kit_parts
    gives them to a change; None when it is in no kit or not allocated (ADR 0040)."""
    if "shares" not in flat or "kitshares" not in flat:
        return None
    out: dict[str, KitPart] = {}
    for kit, shares in (orjson.loads(flat["kitshares"]) or {}).items():
        units = int(flat.get(f"kitq|{kit}") or 0)
        if units > 0:
            out[kit] = KitPart(units=units, shares={s: int(n) for s, n in (shares or {}).items()})
    return out or None
