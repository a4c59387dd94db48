"""Property-based order routing (docs/decisions/0018-order-routing.md): random stock,
routed reserves (split or not), releases and commits of a few order lines, delivered with
duplicates and reorders through the real Lua script on the real Redis, hold to a model:
no location ever reserves beyond what it has, an applied reserve's locations sum to the
line, a refused one moves nothing and waits (served in order of arrival when stock comes
back, ADR 0031), and a replay of the whole delivery applies nothing."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory_adjuster.adapters.redis_store import Applied, Position, RedisInventory
from stocksync_common.events import InventoryCommand, OrderLineRef, Route, SkuLevels
from stocksync_common.redis_client import connect
from support.infra import REDIS

pytestmark = pytest.mark.integration

LOCATIONS = ("wh-a", "wh-b", "wh-c")
LINES = ("1", "2", "3")
Raw = tuple[str, str, str, int, bool]  # command, line (or location for stock), route, qty, split


@dataclass
class Model:
    """First application of each key wins; routing as ADR 0018 states it, refused lines
    waiting as ADR 0022 and 0031 state it."""

    on_hand: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LOCATIONS, 0))
    reserved: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LOCATIONS, 0))
    holds: dict[str, dict[str, int]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    waiting: list[tuple[str, Route, int]] = field(default_factory=list)  # line, route, units

    def avail(self, loc: str) -> int:
        return self.on_hand[loc] - self.reserved[loc]

    def apply(self, cmd: InventoryCommand) -> None:
        if cmd.idempotency_key in self.seen:
            return
        self.seen.add(cmd.idempotency_key)
        if cmd.command == "adjust":
            self.on_hand[cmd.location] += cmd.quantity
            self.serve()
            return
        assert cmd.route is not None and cmd.order is not None and cmd.order.line_id
        hold = self.holds.setdefault(cmd.order.line_id, {})
        if cmd.command == "reserve":
            take = self.route(cmd.route, cmd.quantity)
            self.hold(cmd.order.line_id, take)
            if not take:
                self.waiting.append((cmd.order.line_id, cmd.route, cmd.quantity))
            return
        left = cmd.quantity
        # a release: the route's end first, then any other location the line holds at
        others = sorted(loc for loc in hold if loc not in cmd.route.locations)
        for loc in [*reversed(cmd.route.locations), *others]:
            n = min(hold.get(loc, 0), left)
            hold[loc] = hold.get(loc, 0) - n
            self.reserved[loc] -= n
            left -= n
        self.serve()

    def hold(self, line: str, take: dict[str, int]) -> None:
        hold = self.holds.setdefault(line, {})
        for loc, n in take.items():
            self.reserved[loc] += n
            hold[loc] = hold.get(loc, 0) + n

    def serve(self) -> None:
        """The waiting list from its head (at most 64 looked at): an entry that does not
        fit blocks its route's locations for the later ones."""
        blocked: set[str] = set()
        for entry in list(self.waiting[:64]):
            line, route, qty = entry
            take = self.route(route, qty, blocked)
            if take:
                self.waiting.remove(entry)
                self.hold(line, take)
            else:
                blocked.update(route.locations)

    def route(
        self, route: Route, qty: int, blocked: frozenset[str] | set[str] = frozenset()
    ) -> dict[str, int]:
        def avail(loc: str) -> int:
            return 0 if loc in blocked else self.avail(loc)

        for loc in route.locations:
            if avail(loc) >= qty:
                return {loc: qty}
        if route.split:
            take, left = {}, qty
            for loc in route.locations:
                n = min(max(0, avail(loc)), left)
                if n:
                    take[loc], left = n, left - n
            if left == 0:
                return take
        return {}


def raw_command() -> st.SearchStrategy[Raw]:
    routes = st.permutations(LOCATIONS).flatmap(
        lambda p: st.integers(1, len(p)).map(lambda n: ",".join(p[:n]))
    )
    stock = st.tuples(st.just("adjust"), st.sampled_from(LOCATIONS), st.just(""), st.integers(0, 6))
    lines = st.tuples(
        st.sampled_from(("reserve", "reserve", "release")),
        st.sampled_from(LINES),
        routes,
        st.integers(1, 7),
    )
    return st.one_of(stock, lines).flatmap(
        lambda t: st.tuples(*(st.just(x) for x in t), st.booleans())
    )


def build(sku: str, raw: list[Raw]) -> list[InventoryCommand]:
    out = []
    for i, (name, where, route, qty, split) in enumerate(raw):
        if name == "adjust":
            out.append(
                InventoryCommand(
                    command="adjust", idempotency_key=f"k{i}", sku=sku, location=where, quantity=qty
                )
            )
            continue
        locations = route.split(",")
        out.append(
            InventoryCommand(
                command=name,  # type: ignore[arg-type]
                idempotency_key=f"k{i}",
                sku=sku,
                location=locations[0],
                quantity=qty,
                order=OrderLineRef(shop="p.myshopify.com", order_id="o", line_id=where),
                route=Route(locations=locations, split=split),
            )
        )
    return out


async def run(
    sku: str, cmds: list[InventoryCommand], order: list[int], batch: int
) -> tuple[list[tuple[InventoryCommand, Applied]], SkuLevels | None, SkuLevels | None, int]:
    """Apply in batches; then the whole delivery again: the results, levels after each
    pass and how many of the replays were not duplicates."""
    client = connect(REDIS)
    try:
        store = RedisInventory(client, f"prop-{sku}", idem_ttl_s=600, ledger_max_len=10_000)
        results: list[tuple[InventoryCommand, Applied]] = []
        stream = [cmds[i] for i in order]
        for start in range(0, len(stream), batch):
            chunk = stream[start : start + batch]
            positioned = [(c, Position("t", 0, start + n)) for n, c in enumerate(chunk)]
            out = await store.apply_many(positioned)
            results.extend(
                (c, r) for c, r in zip(chunk, out, strict=True) if isinstance(r, Applied)
            )
        first = await store.levels(sku)
        again = await store.apply_many([(c, None) for c in stream])
        fresh = sum(1 for r in again if not isinstance(r, Applied) or r.status != "duplicate")
        return results, first, await store.levels(sku), fresh
    finally:
        await client.aclose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(raw_command(), min_size=1, max_size=40).flatmap(
        lambda cmds: st.tuples(
            st.just(cmds),
            st.lists(st.integers(0, len(cmds) - 1), min_size=len(cmds), max_size=2 * len(cmds)),
        )
    ),
    batch=st.integers(1, 7),
)
def test_routing_never_oversells_splits_sum_to_the_line_and_replays_apply_nothing(
    redis_url: str, data: tuple[list[Raw], list[int]], batch: int
) -> None:
    raw, order = data
    sku = f"R-{uuid.uuid4().hex[:12]}"
    cmds = build(sku, raw)
    results, levels, replayed, fresh = asyncio.run(run(sku, cmds, order, batch))
    model = Model()
    for i in order:
        model.apply(cmds[i])
    for cmd, r in results:
        if r.status == "duplicate":
            continue
        routed = r.result.get("routed") or {}
        if cmd.command == "reserve" and r.status == "applied":
            assert sum(routed.values()) == cmd.quantity  # a split sums to the line
            assert set(routed) <= set(cmd.route.locations if cmd.route else ())
            assert all(a["after"]["available"] >= 0 for a in r.result["allocations"])
        if r.status == "rejected":
            assert routed == {} and r.result["tried"] == (cmd.route.locations if cmd.route else [])
        assert r.levels.available >= 0
    for loc in LOCATIONS:
        lv = levels.locations.get(loc) if levels else None
        on_hand, reserved = (lv.on_hand, lv.reserved) if lv else (0, 0)
        assert (on_hand, reserved) == (model.on_hand[loc], model.reserved[loc]), loc
        assert reserved <= on_hand  # never reserved beyond what the location has
        assert reserved == sum(h.get(loc, 0) for h in model.holds.values())
    assert fresh == 0 and replayed == levels  # the replay applied nothing
