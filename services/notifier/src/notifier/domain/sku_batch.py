"""One SKU's changes of a consumed batch, decided together (pure).

The handler loads the SKU's state once, decides its changes in partition order here, then
commits the final state once (compare-and-set on the version it loaded) with every effect
still to carry out as ``pending``, merged: a restart between that commit and marking it
done replays them all, as it replayed one change's effects before (idempotent by alert id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from notifier.domain.changes import ChangeFacts
from notifier.domain.crossings import Decision, SkuState, decide
from notifier.domain.rules import Effective


@dataclass(frozen=True)
class Observed:
    """A change as consumed: the event's store, correlation id and time, and the SKU's
    sales rate after it when a velocity rule applies."""

    change: ChangeFacts
    store: str | None
    correlation_id: str | None
    now: float
    rate: int | None = None
    sold: int = 0  # the units of ``rate`` this change sold


@dataclass
class Outcome:
    previous: int  # the version the state was loaded at: the compare-and-set's expectation
    decided: bool = False  # a change moved the state on: it must be committed
    effects: Decision = field(default_factory=Decision)  # to carry out, then mark done

    @property
    def quiet(self) -> bool:
        return self.effects.empty


def decide_sku(state: SkuState, changes: Sequence[Observed], rule: Effective) -> Outcome:
    """Update ``state`` for ``changes`` (one SKU's, oldest first) and say what to do."""
    out = Outcome(previous=state.version)
    resumed = False
    for seen in changes:
        version = seen.change.version
        if version <= state.done or version < state.version:
            continue  # already handled (a replay), or older than what was decided
        if version == state.version:
            # The loaded state's own pending effects (it stopped midway): carry them out,
            # once. A repeat of a change decided in this batch is merely a duplicate.
            if state.pending is not None and not (resumed or out.decided):
                out.effects, resumed = out.effects.merged(state.pending), True
            continue
        decision = decide(
            state,
            seen.change,
            rule,
            rate=seen.rate,
            sold=seen.sold,
            store=seen.store,
            correlation_id=seen.correlation_id,
            now=seen.now,
        )
        out.decided = True
        out.effects = out.effects.merged(decision)
    state.pending = None if out.effects.empty else out.effects
    return out
