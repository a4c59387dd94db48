"""Property-based: random command sequences with duplicates, reorders and replays, applied
through the real Lua script on the real Redis, agree with a plain model of the semantics."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory_adjuster.adapters.redis_store import Applied, Position, RedisInventory
from stocksync_common.events import InventoryCommand, SkuLevels
from stocksync_common.redis_client import connect
from support.infra import REDIS

pytestmark = pytest.mark.integration

LOCATIONS = ("wh-1", "wh-2")


@dataclass
class Model:
    """What a careful accountant computes: first application of each key wins."""

    on_hand: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LOCATIONS, 0))
    reserved: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LOCATIONS, 0))
    seen: set[str] = field(default_factory=set)
    rejected: int = 0

    def apply(self, cmd: InventoryCommand) -> None:
        if cmd.idempotency_key in self.seen:
            return
        self.seen.add(cmd.idempotency_key)
        loc, q = cmd.location, cmd.quantity
        oh, rs = self.on_hand[loc], self.reserved[loc]
        if cmd.command == "reserve":
            if oh - rs < q:
                self.rejected += 1
            else:
                self.reserved[loc] = rs + q
        elif cmd.command == "release":
            self.reserved[loc] = max(0, rs - q)
        elif cmd.command == "commit":
            self.on_hand[loc] = oh - q
            self.reserved[loc] = max(0, rs - q)
        elif cmd.command == "adjust":
            self.on_hand[loc] = oh + q
        elif cmd.command == "set_on_hand":
            self.on_hand[loc] = q


def command_strategy(names: tuple[str, ...]) -> st.SearchStrategy[tuple[str, str, int]]:
    def qty(name: str) -> st.SearchStrategy[int]:
        if name == "adjust" and "commit" in names:
            return st.integers(-5, 8)
        if name == "adjust":
            return st.integers(0, 8)
        if name == "set_on_hand":
            return st.integers(0, 30)
        return st.integers(0, 6)

    return st.sampled_from(names).flatmap(
        lambda n: st.tuples(st.just(n), st.sampled_from(LOCATIONS), qty(n))
    )


Delivery = tuple[list[tuple[str, str, int]], list[int]]


def deliveries(names: tuple[str, ...]) -> st.SearchStrategy[Delivery]:
    """Indexes into the unique commands: duplicates, reordering and replays allowed."""
    return st.lists(command_strategy(names), min_size=1, max_size=40).flatmap(
        lambda cmds: st.tuples(
            st.just(cmds),
            st.lists(st.integers(0, len(cmds) - 1), min_size=len(cmds), max_size=3 * len(cmds)),
        )
    )


async def run(
    sku: str, cmds: list[InventoryCommand], order: list[int], batch: int
) -> tuple[list[Applied], SkuLevels | None, list[dict[str, str]]]:
    client = connect(REDIS)
    try:
        store = RedisInventory(client, f"prop-{sku}", idem_ttl_s=600, ledger_max_len=10_000)
        results: list[Applied] = []
        stream = [cmds[i] for i in order]
        for start in range(0, len(stream), batch):
            chunk = stream[start : start + batch]
            pos = [(c, Position("t", 0, start + n)) for n, c in enumerate(chunk)]
            out = await store.apply_many(pos)
            results.extend(r for r in out if isinstance(r, Applied))
        return results, await store.levels(sku), await store.ledger(sku, count=100_000)
    finally:
        await client.aclose()


def build(sku: str, raw: list[tuple[str, str, int]]) -> list[InventoryCommand]:
    return [
        InventoryCommand(
            command=name,
            idempotency_key=f"k{i}",
            sku=sku,
            location=loc,
            quantity=q,
        )
        for i, (name, loc, q) in enumerate(raw)
    ]


ALL = ("reserve", "release", "commit", "adjust", "set_on_hand")
SAFE = ("reserve", "release", "adjust")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=deliveries(ALL), batch=st.integers(1, 7))
def test_truth_equals_the_model_under_duplicates_and_reorders(
    redis_url: str, data: tuple[list[tuple[str, str, int]], list[int]], batch: int
) -> None:
    raw, order = data
    sku = f"P-{uuid.uuid4().hex[:12]}"
    cmds = build(sku, raw)
    results, levels, ledger = asyncio.run(run(sku, cmds, order, batch))
    model = Model()
    for i in order:
        model.apply(cmds[i])
    # no double-apply: exactly one ledger entry per distinct key delivered
    assert len(ledger) == len({cmds[i].idempotency_key for i in order})
    assert [r.status for r in results].count("rejected") == model.rejected
    for loc in LOCATIONS:
        lv = levels.locations.get(loc) if levels else None
        on_hand, reserved = (lv.on_hand, lv.reserved) if lv else (0, 0)
        assert (on_hand, reserved) == (model.on_hand[loc], model.reserved[loc]), loc
        assert reserved >= 0
        entries = [e for e in ledger if e["location"] == loc]
        assert sum(int(e["d_on_hand"]) for e in entries) == on_hand
        assert sum(int(e["d_reserved"]) for e in entries) == reserved
    for r in results:
        if r.status == "applied" and r.result["command"] == "reserve":
            assert r.result["after"]["available"] >= 0  # reject policy: never oversold


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=deliveries(SAFE), batch=st.integers(1, 7))
def test_available_never_below_zero_under_reject(
    redis_url: str, data: tuple[list[tuple[str, str, int]], list[int]], batch: int
) -> None:
    raw, order = data
    sku = f"P-{uuid.uuid4().hex[:12]}"
    cmds = build(sku, raw)
    results, levels, _ = asyncio.run(run(sku, cmds, order, batch))
    for r in results:
        assert r.result["after"]["available"] >= 0
        assert r.levels.available >= 0
    assert levels is None or levels.available >= 0
