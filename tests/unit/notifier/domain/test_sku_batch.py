"""One SKU's changes of a batch decided together: the same crossings as one at a time,
every effect kept for the single commit, replays and duplicates deciding nothing."""

from notifier.domain.crossings import SkuState, decide
from notifier.domain.rules import Effective
from notifier.domain.sku_batch import Observed, decide_sku
from stocksync_common.events import Levels, StockChange

RULE = Effective(low_stock=5, reorder_point=3, reorder_quantity=20)
STEPS = [(8, 6), (6, 4), (4, 9), (9, 3), (3, 8), (8, 2), (2, 0)]


def seen(version, before, after):
    change = StockChange(
        sku="A",
        location="l1",
        command="reserve",
        idempotency_key=f"k{version}",
        version=version,
        before=Levels(),
        after=Levels(),
        sku_available_before=before,
        sku_available_after=after,
    )
    return Observed(change=change, store="s1", correlation_id="c", now=1000.0)


def batch():
    return [seen(v, b, a) for v, (b, a) in enumerate(STEPS, 1)]


def test_a_batch_decides_what_one_change_at_a_time_decides_and_keeps_every_effect():
    one_by_one, state = [], SkuState()
    for s in batch():
        d = decide(state, s.change, RULE, store=s.store, correlation_id="c", now=s.now)
        one_by_one += [(a.kind, a.version) for a in d.send]
    together = SkuState()
    out = decide_sku(together, batch(), RULE)
    assert out.decided and out.previous == 0 and together.version == 7
    assert [(a.kind, a.version) for a in out.effects.send] == one_by_one
    assert [(a.kind, a.version) for a in out.effects.reorders] == [("reorder", 4), ("reorder", 6)]
    assert together.pending == out.effects  # committed with the state: a restart replays all
    assert together.below == state.below and together.last_sent == state.last_sent


def test_duplicates_and_older_changes_in_a_batch_decide_nothing():
    state = SkuState()
    b = batch()
    out = decide_sku(state, [b[0], b[1], b[1], b[0], b[2]], RULE)
    assert [(a.kind, a.version) for a in out.effects.send] == [("low_stock", 2)]


def test_a_replay_after_a_crash_carries_the_pending_effects_out_once_and_goes_on():
    state = SkuState()
    decide_sku(state, batch()[:4], RULE)  # committed, then the process died
    pending = state.pending
    assert pending is not None
    replay = decide_sku(state, [*batch()[:4], batch()[3], *batch()[4:]], RULE)
    kinds = [(a.kind, a.version) for a in replay.effects.send]
    assert kinds[: len(pending.send)] == [(a.kind, a.version) for a in pending.send]
    assert kinds[len(pending.send) :] == [("low_stock", 6), ("reorder", 6), ("out_of_stock", 7)]


def test_a_replay_of_what_was_done_does_nothing():
    state = SkuState()
    decide_sku(state, batch(), RULE)
    state.done = state.version
    out = decide_sku(state, batch(), RULE)
    assert not out.decided and out.effects.empty
