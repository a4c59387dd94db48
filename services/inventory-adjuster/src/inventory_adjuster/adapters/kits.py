"""Kits (bundles) in Redis: a kit SKU made of component SKUs with units per kit.

The kit's own hash holds its definition (set by a ``configure`` command through apply.lua);
two index hashes let the handler route kit commands and find the kits a component belongs
to: ``kit-defs`` (kit -> components JSON) and ``kit-index`` (component -> kits JSON).
Reserving, releasing or committing a kit moves all its components, all or nothing: on one
Redis in one script (kit.lua); on a Redis Cluster, where the components live in other hash
slots, in phases of one-slot scripts (hold every component, settle each with the decision,
record the kit: kit_part.lua, kit_record.lua; docs/decisions/0034-kits-on-redis-cluster.md).
A kit's availability is derived: min over its components of floor(available / units).
While a component is under channel allocation, each store's share of it is split between its
direct sales and its kits (alloc.lua, run by every script that moves it), and the kit's share
in a store is the least of its components' parts there (:func:`kit_shares`;
docs/decisions/0040-kit-allocation.md).
A routed store's kit line is reserved at the first location of its route where every component
covers it, else, when the store allows splits, by whole kits across its route's locations in
order; its kits held per order line (``inv:{kit}:hold:...``) are where its routed release and
commit move them, across locations when needed (kit.lua's ROUTING; on a Redis Cluster
:meth:`KitStore._routed_place`, each component's share at every location in one step of its
slot; issue #23, docs/order-routing.md "Kits").
A refused kit reserve of an order line waits on the kit's own list (``inv:{kit}:waiting``,
queued by the script that records the kit's result; a routed store's line with its route) and
is tried again, all or nothing, when a component moves at its location or, routed, at one of
its route's (:mod:`inventory_adjuster.kit_waiting`; ADR 0037).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from importlib.resources import files
from typing import Any, NamedTuple

import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from inventory_adjuster.adapters.redis_store import (
    HOLD_TTL_S,
    DefaultAllocation,
    Invalid,
    Position,
    RedisInventory,
    as_text,
    hold_key,
    idem_key,
    kit_parts_of,
    ledger_key,
    script_head_args,
    script_head_keys,
    state_key,
    waiting_entry,
    waiting_key,
)
from stocksync_common.events import (
    InventoryCommand,
    KitComponent,
    KitPart,
    Levels,
    SkuLevels,
)
from stocksync_common.redis_client import is_cluster, run_script_many

_LUA = files("inventory_adjuster.adapters")
_KIT_WAITING_LUA = _LUA.joinpath("kit_waiting.lua").read_text()  # both scripts' kit_waiting()
_KIT_OWN_LUA = _LUA.joinpath("kit_own.lua").read_text()  # both scripts' kit_own()
_ALLOC_LUA = _LUA.joinpath("alloc.lua").read_text()  # the components' shares (ADR 0040)
# a routed kit line's hold (#23), and where a release or commit takes it from (as apply.lua)
_KIT_HOLD_LUA = (
    _LUA.joinpath("take_order.lua").read_text() + _LUA.joinpath("kit_hold.lua").read_text()
)
KIT_LUA = (
    _KIT_WAITING_LUA
    + _KIT_OWN_LUA
    + _KIT_HOLD_LUA
    + _ALLOC_LUA
    + _LUA.joinpath("kit.lua").read_text()
)
KIT_PART_LUA = _ALLOC_LUA + _LUA.joinpath("kit_part.lua").read_text()
RESHARE_LUA = _ALLOC_LUA + _LUA.joinpath("reshare.lua").read_text()
KIT_RECORD_LUA = (
    _KIT_WAITING_LUA + _KIT_OWN_LUA + _KIT_HOLD_LUA + _LUA.joinpath("kit_record.lua").read_text()
)
KIT_DEFS = "kit-defs"
KIT_INDEX = "kit-index"
KIT_COMMANDS = frozenset(("reserve", "release", "commit"))
LEVEL_FIELDS = ("on_hand", "reserved", "safety_stock")

Components = list[tuple[str, int]]


class KitLevel(NamedTuple):
    """A kit at one location: what it can sell, its version, per shop the kits its orders
    reserved there (``StockChange.seen``), and its channel-allocation shares (None: none of
    its components is under allocation)."""

    available: int
    version: int
    seen: dict[str, int]
    shares: dict[str, int] | None = None
    # per allocated component, the least its other components want to give the kit per store
    # (alloc.lua's "kithint|<kit>"; :meth:`KitStore.keep_hints`)
    hints: dict[str, dict[str, int] | None] = {}  # a NamedTuple's default: never mutated
    # the allocated components as the shares were derived from them (StockChange's
    # ``kit_components``: shopify-sync's gate); None when ``shares`` is None
    components: dict[str, KitComponent] | None = None


class KitDefinitionChanged(Exception):
    """The kit's definition changed between routing and applying; retry the command."""


@dataclass(frozen=True)
class KitWait:
    """A kit reserve and the kit's waiting list (kit_waiting.lua): the entry a refused
    reserve of an order line queues, or the entry (exactly as the list holds it) a reserve
    serves, whose refusal counted already in the kit's ``seen``."""

    queue: str = ""
    served: str = ""


def kit_waiting_entry(cmd: InventoryCommand) -> str:
    """What a kit reserve of an order line queues if it is refused: apply.lua's entry, a
    routed store's line with its route (it is served at any location of it, as a plain
    routed line: issue #23) and marked ``routed`` (its placement is reported when it is
    served; ADR 0037)."""
    entry = waiting_entry(cmd)
    if not entry or cmd.route is None:
        return entry
    return orjson.dumps({**orjson.loads(entry), "routed": True}).decode()


@dataclass(frozen=True)
class KitApplied:
    status: str  # applied | rejected | duplicate
    result: dict[str, Any]


def component_key(kit_key: str, component: str) -> str:
    """The idempotency key of one component's share of a kit command (its ledger entry's key
    and its marker ``inv:{component}:idem:<this>``)."""
    return f"{kit_key}:component:{component}"


def undo_key(kit_key: str, component: str) -> str:
    """The idempotency key of giving back a component's held share of a rejected kit
    command (a Redis Cluster's two-phase kit, ADR 0034)."""
    return f"{component_key(kit_key, component)}:undo"


def own_key(kit_key: str) -> str:
    """The idempotency key of the kit's own share of a kit command (its ``seen`` and
    ``version``): a rebuild marks ``inv:{kit}:idem:<this>`` when the kit's restored hash
    holds it already, and the kit script skips that share (ADR 0008)."""
    return f"{kit_key}:own"


def part_keys(kit_key: str, component: str) -> list[str]:
    """kit_part.lua's keys: the component's state, ledger, marker and undo marker (one slot)."""
    return [
        state_key(component),
        ledger_key(component),
        idem_key(component, component_key(kit_key, component)),
        idem_key(component, undo_key(kit_key, component)),
    ]


KIT_OFFSET_PREFIX = "kitoff|"  # state-hash field: highest kit-command offset per partition
KIT_UNITS_PREFIX = "kitq|"  # a component's field "kitq|<kit>": its units in one kit (alloc.lua)
KIT_HINT_PREFIX = "kithint|"  # "kithint|<kit>": what the kit's other components give it


def kit_available(components: Components, available: dict[str, int]) -> int:
    if not components:
        return 0
    return min(available.get(sku, 0) // units for sku, units in components)


@dataclass(frozen=True)
class ComponentShares:
    """What a kit's shares are derived from, per component (alloc.lua keeps them): its
    available units at the location, its published shares (None: not allocated), and per kit
    and store the kits its budget gives the kit (``parts``) and would give it (``wants``)."""

    available: dict[str, int]
    shares: dict[str, dict[str, int] | None]
    parts: dict[str, dict[str, dict[str, int]]]
    wants: dict[str, dict[str, dict[str, int]]]

    def allocated(self, components: Components) -> list[str]:
        return [c for c, _ in components if self.shares.get(c) is not None]

    def shops(self, components: Components) -> list[str]:
        return sorted({s for c in self.allocated(components) for s in self.shares[c] or {}})


def kit_shares(
    kit: str, components: Components, of: ComponentShares, available: int
) -> dict[str, int] | None:
    """The kit's share per store: the least of its allocated components' parts for it there
    (kits), never above ``available``; a part not kept yet counts 0. None when no component
    is allocated: the kit shows its availability everywhere, as its components do (ADR 0040)."""
    allocated = of.allocated(components)
    if not allocated:
        return None

    def part(comp: str, shop: str) -> int:
        return of.parts.get(comp, {}).get(kit, {}).get(shop, 0)

    return {
        shop: max(0, min(available, *(part(c, shop) for c in allocated)))
        for shop in of.shops(components)
    }


Hint = dict[str, int] | None  # kits per store; None: no bound known


def kit_hints(kit: str, components: Components, of: ComponentShares) -> dict[str, Hint]:
    """Per allocated component, the least the kit's other components would give the kit per
    store (kits): an unallocated one all its available units hold; one that has not split its
    budget for the kit yet (no wants kept) is not counted, and a component no other one
    bounds gets None (no hint). A component's part is cut to its hint (alloc.lua), so units
    no other component can match go to its direct share instead of waiting in a kit part no
    store can sell."""
    known = [
        (c, u) for c, u in components if of.shares.get(c) is None or kit in of.wants.get(c, {})
    ]

    def offered(comp: str, units: int, shop: str) -> int:
        if of.shares.get(comp) is None:
            return max(0, of.available.get(comp, 0)) // units
        return int(of.wants[comp][kit].get(shop, 0))

    shops = of.shops(components)
    hints: dict[str, Hint] = {}
    for comp in of.allocated(components):
        others = [(c, u) for c, u in known if c != comp]
        hints[comp] = (
            {s: min(offered(c, u, s) for c, u in others) for s in shops} if others else None
        )
    return hints


class KitStore:
    """``phased``: apply kit commands in one-slot phases (ADR 0034); by default on a Redis
    Cluster only, where kit.lua's keys span slots."""

    def __init__(
        self,
        redis: Redis,
        group: str,
        *,
        idem_ttl_s: int,
        ledger_max_len: int,
        phased: bool | None = None,
        shops: Sequence[str] = (),
        allocation: DefaultAllocation | None = None,
        hold_ttl_s: int = HOLD_TTL_S,
    ) -> None:
        """``shops`` and ``allocation``: the stores and the default allocation the plain
        commands run with (RedisInventory's), so a kit command recomputes its components'
        shares as they do (ADR 0040); ``hold_ttl_s``: how long a routed kit line's hold
        outlives its last command (RedisInventory's, ADR 0035)."""
        self.redis = redis
        self.group = group
        self.idem_ttl_s = idem_ttl_s
        self.ledger_max_len = ledger_max_len
        self.phased = is_cluster(redis) if phased is None else phased
        self.shops_json = orjson.dumps(list(shops)).decode() if shops else ""
        self.allocation_json = allocation.encode() if allocation else ""
        self.hold_ttl_s = hold_ttl_s
        self._script = redis.register_script(KIT_LUA)
        self._part = redis.register_script(KIT_PART_LUA)
        self._record = redis.register_script(KIT_RECORD_LUA)
        self._reshare = redis.register_script(RESHARE_LUA)

    async def definitions(self, skus: list[str]) -> dict[str, Components]:
        if not skus:
            return {}
        return _definitions(skus, await self.redis.hmget(KIT_DEFS, skus))

    async def kits_of(self, components: list[str]) -> dict[str, list[str]]:
        if not components:
            return {}
        return _kits_of(components, await self.redis.hmget(KIT_INDEX, components))

    async def lookup(
        self, kit_skus: list[str], skus: list[str]
    ) -> tuple[dict[str, Components], dict[str, list[str]]]:
        """:meth:`definitions` of ``kit_skus`` and :meth:`kits_of` ``skus`` in one round trip
        (a batch's routing and the kits its plain commands may move, read before it applies)."""
        if not kit_skus and not skus:
            return {}, {}
        pipe = self.redis.pipeline(transaction=False)
        if kit_skus:
            pipe.hmget(KIT_DEFS, kit_skus)
        if skus:
            pipe.hmget(KIT_INDEX, skus)
        raw = await pipe.execute()
        defs = _definitions(kit_skus, raw.pop(0)) if kit_skus else {}
        return defs, _kits_of(skus, raw[0]) if skus else {}

    async def define(self, kit: str, components: dict[str, int]) -> None:
        """Refresh the routing indexes after a kit's definition was applied."""
        old = await self.definitions([kit])
        # Not a MULTI: kit-defs and kit-index are two slots on a Redis Cluster. Both are
        # rewritten from the kits' state hashes by every later define and by the rebuild.
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(KIT_DEFS, kit, orjson.dumps(components))
        # each component knows its units per kit: its shares set the kit's part aside (ADR 0040)
        for comp, units in components.items():
            pipe.hset(state_key(comp), f"{KIT_UNITS_PREFIX}{kit}", units)
        for comp, _ in old.get(kit, []):
            if comp not in components:
                pipe.hdel(state_key(comp), f"{KIT_UNITS_PREFIX}{kit}", f"{KIT_HINT_PREFIX}{kit}")
        current = await self.kits_of(sorted({*components, *(c for c, _ in old.get(kit, []))}))
        for comp in {*components, *(c for c, _ in old.get(kit, []))}:
            kits = set(current.get(comp, []))
            if comp in components:
                kits.add(kit)
            else:
                kits.discard(kit)
            pipe.hset(KIT_INDEX, comp, orjson.dumps(sorted(kits)))
        await pipe.execute()

    async def apply(
        self,
        cmd: InventoryCommand,
        pos: Position | None,
        components: Components,
        wait: KitWait | None = None,
    ) -> KitApplied | Invalid:
        wait = wait or KitWait()
        if self.phased:
            return await self._apply_phased(cmd, pos, components, wait)
        keys = script_head_keys(cmd)
        for comp, _ in components:
            keys.extend(
                [
                    state_key(comp),
                    ledger_key(comp),
                    idem_key(comp, component_key(cmd.idempotency_key, comp)),
                ]
            )
        keys.extend([waiting_key(cmd.sku), idem_key(cmd.sku, own_key(cmd.idempotency_key))])
        keys.append(hold_key(cmd))
        args = [
            *script_head_args(cmd, pos, self.idem_ttl_s, self.ledger_max_len),
            orjson.dumps([[c, u] for c, u in components]).decode(),
            _seen_shop(cmd, wait),
            wait.queue,
            wait.served,
            self.shops_json,
            self.allocation_json,
            cmd.sku,
            _route_json(cmd),
            self.hold_ttl_s,
        ]
        try:
            status, result = await self._script(keys=keys, args=args)
        except ResponseError as exc:
            text = str(exc)
            if text.startswith("POISON"):
                return Invalid(text.removeprefix("POISON "))
            if text.startswith("RETRY"):
                raise KitDefinitionChanged(text) from exc
            raise
        return KitApplied(as_text(status), orjson.loads(as_text(result)))

    async def _apply_phased(
        self, cmd: InventoryCommand, pos: Position | None, components: Components, wait: KitWait
    ) -> KitApplied | Invalid:
        """kit.lua's all or nothing across hash slots (ADR 0034): hold every component (one
        pipeline, each call in its component's slot), decide (rejected iff one was refused),
        settle every component with the decision (stamp its kit offset; a rejected kit gives
        back what was held), then record the kit in its own slot. Each step keeps what it did
        the first time, so a crash anywhere and a redelivery end in the same state, the
        compensation run once."""
        kit_keys = script_head_keys(cmd)
        stored, defined, memo, hold = await self._kit_state(kit_keys, cmd)
        if stored is not None:
            return KitApplied("duplicate", orjson.loads(stored))
        if cmd.quantity < 0:
            return Invalid("kit quantity must be a non-negative integer")
        if defined is None:
            raise KitDefinitionChanged("RETRY not a kit any more")
        if orjson.loads(defined) != dict(components):
            raise KitDefinitionChanged("RETRY kit definition changed")
        place = KitPlace(cmd.location)
        if _route_json(cmd):
            place = await self._routed_place(cmd, components, memo, hold)
            cmd = cmd.model_copy(update={"location": place.location})
        shop = _seen_shop(cmd, wait)
        parts = None if place.refused else place.parts
        holds = await self._parts(cmd, pos, components, "hold", shop=shop, parts=parts)
        docs = [orjson.loads(as_text(doc)) for _, doc in holds]
        refused = place.refused or any(d["status"] == "refused" for d in docs)
        status = "rejected" if refused else "applied"
        settled = await self._parts(cmd, pos, components, "settle", status, shop, parts)
        changes, skipped = [], []
        for (comp, units), hold, settle in zip(components, docs, settled, strict=True):
            if hold["status"] not in ("held", "refused"):  # "restored": a rebuild put its
                # share into its levels (ADR 0008)
                skipped.append(comp)
                continue
            if status == "applied" and hold.get("moves"):  # at several locations (#23)
                for m in hold["moves"]:
                    change = {k: m.get(k) for k in ("version", "before", "after", "location")}
                    changes.append({"sku": comp, "units": m["units"], **change,
                                    "shares": hold.get("shares"),
                                    "kit_parts": hold.get("kit_parts")})  # fmt: skip
                continue
            doc = hold if status == "applied" else orjson.loads(as_text(settle[1]))
            keys = ("version", "before", "after", "shares", "kit_parts")
            change = {k: doc.get(k) for k in keys}
            changes.append({"sku": comp, "units": units * cmd.quantity, **change})
        args = [
            status,
            cmd.command,
            cmd.location,
            cmd.quantity,
            cmd.idempotency_key,
            self.idem_ttl_s,
            self.ledger_max_len,
            _seen_shop(cmd, wait),
            orjson.dumps(changes).decode(),
            orjson.dumps(skipped).decode(),
            wait.queue,
            wait.served,
            str(pos.partition) if pos else "",
            pos.offset if pos else -1,
            place.hold_move,
            self.hold_ttl_s,
            orjson.dumps(place.tried).decode() if place.tried is not None else "",
            orjson.dumps(place.parts).decode() if status == "applied" and place.parts else "",
        ]
        own = idem_key(cmd.sku, own_key(cmd.idempotency_key))
        record_keys = [*kit_keys, waiting_key(cmd.sku), own, hold_key(cmd)]
        [(final, result)] = await run_script_many(self.redis, self._record, [(record_keys, args)])
        return KitApplied(as_text(final), orjson.loads(as_text(result)))

    async def _kit_state(
        self, kit_keys: list[str], cmd: InventoryCommand
    ) -> tuple[Any, Any, Any, dict[str, int]]:
        """The kit command's stored result, the kit's definition, the placement a routed
        command chose (:meth:`_routed_place`) and its order line's kit hold (one slot, one
        trip)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(kit_keys[1])
        pipe.hget(kit_keys[0], "kit")
        pipe.get(place_key(cmd))
        pipe.hgetall(hold_key(cmd))
        stored, defined, memo, hold = await pipe.execute()
        return stored, defined, memo, {as_text(k): int(v) for k, v in hold.items()}

    async def _routed_place(
        self, cmd: InventoryCommand, components: Components, memo: Any, hold: dict[str, int]
    ) -> KitPlace:
        """Where a routed kit command applies on a Redis Cluster (kit.lua's ROUTING, in
        Python): a reserve at the first location of its route where every component covers
        it, read in one pipeline, else refused (at its command's location); a release or
        commit where its line's kit hold says. Chosen once: the choice is kept in the kit's
        slot (``place_key``) before any component moves, so a redelivery after a crash
        resumes at the same location whatever the holds since moved."""
        if memo is not None:
            doc = orjson.loads(memo)
            parts = [(str(p[0]), int(p[1]), int(p[2])) for p in doc.get("parts") or []]
            return KitPlace(doc["location"], int(doc["hold_move"]), doc["tried"], doc["refused"],
                            parts or None)  # fmt: skip
        locations = cmd.route.locations if cmd.route is not None else [cmd.location]
        if cmd.command == "reserve":
            split = cmd.route is not None and cmd.route.split
            parts = await self._covering(cmd, components, locations, split)
            if parts:
                place = KitPlace.of(parts, locations)
            else:
                place = KitPlace(cmd.location, cmd.quantity, locations, True)
        else:
            place = hold_place(hold, locations, cmd)
        doc = orjson.dumps(asdict(place))
        key = place_key(cmd)
        if not await self.redis.set(key, doc, nx=True, ex=self.idem_ttl_s):
            return await self._routed_place(cmd, components, await self.redis.get(key), hold)
        return place

    async def _covering(
        self, cmd: InventoryCommand, components: Components, locations: list[str], split: bool
    ) -> list[Part]:
        """The first of ``locations`` where every component covers the kit command (a
        component under the backorder policy always does; one whose marker says it moved
        already is not counted, as kit.lua skips it); none, with ``split``: whole kits at
        each in order until the command is covered (kit.lua's split); else none ([])."""
        pipe = self.redis.pipeline(transaction=False)
        for comp, _ in components:
            pipe.exists(idem_key(comp, component_key(cmd.idempotency_key, comp)))
            fields = [f"{loc}|{part}" for loc in locations
                      for part in ("on_hand", "reserved", "safety_stock")]  # fmt: skip
            pipe.hmget(state_key(comp), [*fields, "policy"])
        rows = await pipe.execute()

        def kits_at(i: int) -> int:
            """The kits every counted component covers at ``locations[i]``."""
            most = cmd.quantity
            for n, (_, units) in enumerate(components):
                moved, values = rows[2 * n], rows[2 * n + 1]
                if moved or as_text(values[-1] or b"reject") != "reject":
                    continue
                oh, rs, ss = (int(v or 0) for v in values[3 * i : 3 * i + 3])
                most = min(most, max(0, (oh - rs - ss) // units))
            return most

        room = [kits_at(i) for i in range(len(locations))]
        for loc, kits in zip(locations, room, strict=True):
            if kits >= cmd.quantity:
                return [(loc, cmd.quantity, cmd.quantity)]
        if not split:
            return []
        parts, left = [], cmd.quantity
        for loc, kits in zip(locations, room, strict=True):
            n = min(kits, left)
            if n > 0:
                parts.append((loc, n, n))
                left -= n
        return parts if left == 0 else []

    async def _parts(
        self,
        cmd: InventoryCommand,
        pos: Position | None,
        components: Components,
        step: str,
        decision: str = "",
        shop: str = "",
        parts: list[Part] | None = None,
    ) -> list[Any]:
        """kit_part.lua's ``step`` on every component, pipelined; ``parts``: the kits per
        location of a command moving them at several (each component at each, one step)."""
        head = script_head_args(cmd, pos, self.idem_ttl_s, self.ledger_max_len)
        offset_field, offset, ledger_len = head[5], head[6], head[7]
        calls = []
        for comp, units in components:
            moves = orjson.dumps([[loc, units * kits] for loc, kits, _ in parts]).decode() \
                if parts else ""  # fmt: skip
            args = [step, cmd.command, cmd.location, units * cmd.quantity, cmd.idempotency_key,
                    self.idem_ttl_s, offset_field, offset, ledger_len, decision,
                    component_key(cmd.idempotency_key, comp), self.shops_json,
                    self.allocation_json, cmd.sku, shop, moves]  # fmt: skip
            calls.append((part_keys(cmd.idempotency_key, comp), args))
        return await run_script_many(self.redis, self._part, calls)

    async def availability(self, kits: list[str], location: str) -> dict[str, KitLevel]:
        """Each kit's level at ``location``. Its version is the kit SKU's own version plus
        the sum of its components' versions: each only grows, and the kit's availability is
        always published above any version a command on the kit SKU itself published (a
        ``configure`` defining the kit, a stock import listing it), so the stores take it."""
        defs = await self.definitions(kits)
        comps = sorted({c for parts in defs.values() for c, _ in parts})
        pipe = self.redis.pipeline(transaction=False)
        for kit in defs:
            pipe.hgetall(state_key(kit))
        for comp in comps:  # whole: the units of its other kits give its budget (kit_parts_of)
            pipe.hgetall(state_key(comp))
        rows = await pipe.execute()
        flats = [{as_text(k): as_text(v) for k, v in h.items()} for h in rows]
        own = dict(zip(defs, flats, strict=False))
        versions: dict[str, int] = {}
        of = ComponentShares({}, {}, {}, {})
        kit_parts: dict[str, dict[str, KitPart]] = {}
        for comp, h in zip(comps, flats[len(defs) :], strict=True):
            oh, rs, ss = (int(h.get(f"{location}|{p}") or 0) for p in LEVEL_FIELDS)
            of.available[comp] = oh - rs - ss
            versions[comp] = int(h.get("version") or 0)
            of.shares[comp] = orjson.loads(h["shares"]) if h.get("shares") else None
            of.parts[comp] = orjson.loads(h["kitshares"]) if h.get("kitshares") else {}
            of.wants[comp] = orjson.loads(h["kitwants"]) if h.get("kitwants") else {}
            kit_parts[comp] = kit_parts_of(h) or {}
        prefix = f"seen|{location}|"
        out = {}
        for kit, parts in defs.items():
            available = kit_available(parts, of.available)
            out[kit] = KitLevel(
                available,
                int(own[kit].get("version") or 0) + sum(versions[c] for c, _ in parts),
                {
                    k.removeprefix(prefix): int(v)
                    for k, v in own[kit].items()
                    if k.startswith(prefix)
                },
                shares := kit_shares(kit, parts, of, available),
                kit_hints(kit, parts, of),
                None if shares is None else {
                    c: KitComponent(units=u, shares=of.shares[c] or {}, kit_parts=kit_parts[c])
                    for c, u in parts
                    if of.shares.get(c) is not None
                },
            )  # fmt: skip
        return out

    async def share_out(self, levels: dict[str, KitLevel]) -> list[str]:
        """Tell each allocated component of these kits what the kit's other components give
        the kit (``kithint|<kit>``; none known: the field deleted), and recompute its shares
        with it (reshare.lua): the part of its budget the kit can no longer use goes back to
        its direct share, so no unit waits in a kit part no store can sell (ADR 0040). The
        components whose direct shares changed (their version bumped): their changes are to
        be published, then the kits' shares read again. Two round trips, only while a kit's
        component is allocated."""
        writes = [
            (comp, f"{KIT_HINT_PREFIX}{kit}", hint)
            for kit, level in levels.items()
            for comp, hint in level.hints.items()
        ]
        if not writes:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for comp, field, hint in writes:
            if hint is None:
                pipe.hdel(state_key(comp), field)
            else:
                pipe.hset(state_key(comp), field, orjson.dumps(hint))
        await pipe.execute()
        comps = sorted({comp for comp, _, _ in writes})
        args = [self.shops_json, self.allocation_json]
        calls = [([state_key(comp)], args) for comp in comps]
        versions = await run_script_many(self.redis, self._reshare, calls)
        return [comp for comp, v in zip(comps, versions, strict=True) if v is not None]

    async def shared_out(
        self,
        kits: list[str],
        location: str,
        on_reshared: Callable[[list[str]], Awaitable[None]] | None = None,
    ) -> dict[str, KitLevel]:
        """The kits' levels at ``location`` once their allocated components have shared out
        their budgets with them (:meth:`share_out`): the first round keeps what each wants
        to give, the second cuts the parts to it (ADR 0040). ``on_reshared``: told, each
        round, the components whose direct shares changed (the handler publishes them)."""
        levels = await self.availability(kits, location)
        for _ in range(2):
            reshared = await self.share_out(levels)
            if not reshared:
                break
            if on_reshared is not None:
                await on_reshared(reshared)
            levels = await self.availability(kits, location)
        return levels

    async def start_allocation(self, components: Iterable[str]) -> list[str]:
        """After a kit is defined: each component that is low now counting its units in kits
        (alloc.lua's ``threshold_of``: 100 units are 2 kits of 50) starts its allocation at
        once (reshare.lua with "start"), not at its next command, so the kit's first wave of
        sales is shared out too (ADR 0040). The components that started (version bumped):
        their changes are to be published. One round trip; none without a default allocation."""
        comps = sorted(set(components))
        if not comps or not self.allocation_json:
            return []
        args = [self.shops_json, self.allocation_json, "start"]
        calls = [([state_key(comp)], args) for comp in comps]
        versions = await run_script_many(self.redis, self._reshare, calls)
        return [comp for comp, v in zip(comps, versions, strict=True) if v is not None]


_OWN_ONLY_LUA = (
    _KIT_OWN_LUA + "return kit_own(KEYS[1], KEYS[2], 'applied', ARGV[1], ARGV[2], "
    "tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6])"
)


async def kit_own_only(redis: Redis, cmd: InventoryCommand, pos: Position) -> int:
    """The kit's own share of a kit command whose components' shares a rebuild found in their
    levels but whose kit's levels lack it (its levels record lost): the shop's ``seen``
    moved, the version bumped (counted as applied: its first result is not known, and a
    version only needs to grow), ``pos`` moved forward. The kit's version after it."""
    script = redis.register_script(_OWN_ONLY_LUA)
    keys = [state_key(cmd.sku), idem_key(cmd.sku, own_key(cmd.idempotency_key))]
    shop = cmd.order.shop if cmd.order is not None else ""
    args: list[str | int] = [cmd.command, cmd.location, cmd.quantity, shop, str(pos.partition)]
    args.append(pos.offset)
    return int(await script(keys=keys, args=args))


async def stocked_at(store: RedisInventory, skus: Iterable[str]) -> list[tuple[str, str]]:
    """(SKU, location) for every location each of ``skus`` has levels at."""
    out: list[tuple[str, str]] = []
    for sku in sorted(set(skus)):
        levels = await store.levels(sku)
        out += [(sku, location) for location in (levels.locations if levels else ())]
    return out


async def kit_levels(
    kits: KitStore, store: RedisInventory, kit: str, components: Iterable[str]
) -> SkuLevels | None:
    """The kit's levels as truth shows them (the read API, reconciliation): at every location
    a component is stocked at, its availability (no stock of its own), its version and its
    shops' kit sales applied. None when ``kit`` is not a kit (any more)."""
    per: dict[str, KitLevel] = {}
    for location in sorted({loc for _, loc in await stocked_at(store, components)}):
        level = (await kits.availability([kit], location)).get(kit)
        if level is None:
            return None
        per[location] = level
    if not per:
        return None
    shared = [lv.shares for lv in per.values() if lv.shares is not None]
    total = sum(level.available for level in per.values())
    shares = (
        {shop: min(total, max(s.get(shop, 0) for s in shared)) for shop in shared[0]}
        if shared
        else None
    )
    return SkuLevels(
        sku=kit,
        version=max(level.version for level in per.values()),
        available=total,
        shares=shares,
        locations={
            loc: Levels(on_hand=lv.available, reserved=0, safety_stock=0, available=lv.available)
            for loc, lv in per.items()
        },
        seen={loc: lv.seen for loc, lv in per.items()},
    )


Part = tuple[str, int, int]  # (location, kits, hold move there)


@dataclass(frozen=True)
class KitPlace:
    """Where a kit command applies: its location, the kits its order line's hold moves by
    there when applied, the locations a routed reserve tried (None: not routed), whether no
    location of its route covered it (refused whatever its command's location holds) and,
    for a command moving kits at several locations (a line split by whole kits, or released
    where they are held; issue #23), each location's kits and hold move, in order (None:
    all at ``location``)."""

    location: str
    hold_move: int = 0
    tried: list[str] | None = None
    refused: bool = False
    parts: list[Part] | None = None

    @classmethod
    def of(cls, parts: list[Part], tried: list[str] | None = None) -> KitPlace:
        """Kits at each of ``parts`` (at least one)."""
        if len(parts) == 1:
            return cls(parts[0][0], parts[0][2], tried)
        return cls(parts[0][0], sum(p[2] for p in parts), tried, False, parts)

    def split(self, quantity: int) -> list[Part]:
        """(location, kits, hold move) per location the command moves kits at."""
        return self.parts or [(self.location, quantity, self.hold_move)]


def hold_place(hold: dict[str, int], locations: Sequence[str], cmd: InventoryCommand) -> KitPlace:
    """kit.lua's choice for a routed release or commit of a kit line (kit_hold.lua's
    ``take_order`` and ``kit_take``): a commit's own location first if the line holds
    kits there, then the route from its end (a release then any other location held at); the
    first of those holding the whole quantity alone, else across them in order until it is
    covered (what the line does not hold at the first). A line holding nothing: its
    command's location, the hold unmoved."""
    order: list[str] = []

    def add(loc: str) -> None:
        if loc not in order and hold.get(loc, 0) > 0:
            order.append(loc)

    if cmd.command == "commit":
        add(cmd.location)
    for loc in reversed(locations):
        add(loc)
    if cmd.command != "commit":
        for loc in sorted(hold):
            add(loc)
    if not order:
        return KitPlace(cmd.location)
    whole = next((loc for loc in order if hold[loc] >= cmd.quantity), None)
    if whole is not None:
        return KitPlace(whole, -cmd.quantity)
    parts, left = [], cmd.quantity
    for loc in order:
        n = min(hold[loc], left)
        if n > 0:
            parts.append((loc, n, -n))
            left -= n
    first = parts[0]
    parts[0] = (first[0], first[1] + left, first[2])
    return KitPlace.of(parts)


def place_key(cmd: InventoryCommand) -> str:
    """Where a routed kit command chose to apply on a Redis Cluster (the kit's slot)."""
    return idem_key(cmd.sku, f"{cmd.idempotency_key}:place")


def _route_json(cmd: InventoryCommand) -> str:
    """The route a kit command follows: a routed command of an order line ("" none)."""
    if cmd.route is None or cmd.order is None or not cmd.order.line_id:
        return ""
    return cmd.route.model_dump_json()


def _seen_shop(cmd: InventoryCommand, wait: KitWait) -> str:
    """The shop whose kit sales a reserve counts (``seen``): none for a waiting entry served,
    counted when it was refused."""
    return "" if wait.served or cmd.order is None else cmd.order.shop


def _definitions(skus: list[str], raw: list[Any]) -> dict[str, Components]:
    return {
        sku: [(c, int(u)) for c, u in sorted(orjson.loads(v).items())]
        for sku, v in zip(skus, raw, strict=True)
        if v
    }


def _kits_of(components: list[str], raw: list[Any]) -> dict[str, list[str]]:
    return {c: orjson.loads(v) for c, v in zip(components, raw, strict=True) if v}
