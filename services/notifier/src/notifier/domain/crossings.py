"""Crossing semantics: alert once when a level crosses a threshold, re-arm when it crosses back
(the sales rate: also when the window emptied with time, see ``_kinds``).

The SKU's state remembers on which side of each threshold it last was, so a change that
stays on the same side says nothing, and a replayed change (same or older version) is a
no-op. Within a quiet period, further alerts of a kind go to the SKU's digest instead.

A SKU's first stock is not "back in stock": from its creation (its first command, version
1, from nothing) until it first has units, it has nothing to come back from. Without this
a catalog import raised one back-in-stock alert per SKU (issue #18). The same holds when the
first change the notifier ever sees of a SKU is a count from nothing (``set_on_hand``: an
import or a warehouse count) while it missed the creation (deployed later, its state lost,
the creation past the topic's retention): a count says how much there is, and without
history nothing says the SKU was ever in stock, so an import no longer says "back in stock
0 -> 25" (issue #25). Any other first change from nothing (a receipt, a release) still does.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from notifier.domain.alerts import Alert, AlertKind
from notifier.domain.changes import ChangeFacts, order_ref
from notifier.domain.rules import Effective
from stocksync_common.events import stable_id


class SkuState(BaseModel):
    version: int = 0  # the last change decided
    done: int = 0  # the last change whose effects were all carried out
    below: dict[str, bool] = Field(default_factory=dict)  # threshold -> at or below it
    last_sent: dict[str, float] = Field(default_factory=dict)  # kind -> epoch s, for quiet
    pending: Decision | None = None  # effects of ``version`` not yet confirmed done
    # False from the SKU's creation (or a first-seen count from nothing) until it first has
    # units; True when unknown (a state from before this field, or a notifier that first
    # saw the SKU later on by a change other than a count).
    stocked: bool = True


class Decision(BaseModel):
    send: list[Alert] = Field(default_factory=list)  # deliver now
    digest: list[Alert] = Field(default_factory=list)  # quiet period: into the digest
    reorder: Alert | None = None  # published to reorders.v1

    @property
    def empty(self) -> bool:
        return not (self.send or self.digest or self.reorder)

    @property
    def reorders(self) -> list[Alert]:
        """Every reorder to publish: each is in ``send`` or ``digest`` too, so a merged
        decision (several changes of a batch) keeps them all; ``reorder`` names the last."""
        found = [a for a in (*self.send, *self.digest) if a.kind == "reorder"]
        if self.reorder is not None and all(a.id != self.reorder.id for a in found):
            found.append(self.reorder)
        return found

    def merged(self, later: Decision) -> Decision:
        """This decision's effects then ``later``'s (all idempotent by alert id)."""
        return Decision(
            send=[*self.send, *later.send],
            digest=[*self.digest, *later.digest],
            reorder=later.reorder or self.reorder,
        )


def _crossed(state: SkuState, name: str, was: bool, now: bool) -> str | None:
    """``down`` when it went to or below the threshold, ``up`` when it went back above."""
    previous = state.below.get(name, was)
    state.below[name] = now
    if now and not previous:
        return "down"
    if previous and not now:
        return "up"
    return None


def _kinds(
    state: SkuState,
    change: ChangeFacts,
    rule: Effective,
    rate: int | None,
    *,
    first: bool,
    sold: int = 0,
) -> list[str]:
    """``first``: no change of this SKU was seen before this one; ``sold``: the units of
    ``rate`` this change sold."""
    before, after = change.sku_available_before, change.sku_available_after
    kinds: list[str] = []
    counted = first and change.command == "set_on_hand"
    if before <= 0 and (change.version == 1 or counted):
        state.stocked = False  # the SKU's creation, or a count of one never seen before
    out = _crossed(state, "out", before <= 0, after <= 0)
    if out == "down" and rule.out_of_stock:
        kinds.append("out_of_stock")
    if out == "up" and rule.back_in_stock and state.stocked:
        kinds.append("back_in_stock")
    if after > 0:
        state.stocked = True
    if rule.low_stock is not None:
        low = _crossed(state, "low", before <= rule.low_stock, after <= rule.low_stock)
        if low == "down" and out != "down":  # straight to zero: out of stock says it all
            kinds.append("low_stock")
    if rule.reorder_point is not None:
        point = rule.reorder_point
        if _crossed(state, "reorder", before <= point, after <= point) == "down":
            kinds.append("reorder")
    if rule.velocity_per_minute is not None and rate is not None:
        limit = rule.velocity_per_minute
        # Re-armed on time: the window as of this change, without its own units, held the
        # limit or less, so the rate had come back since the alert even if no change came
        # to see it (a burst after a pause alerts again; ADR 0022, f).
        if state.below.get("velocity") and rate - sold <= limit:
            state.below["velocity"] = False
        # "below" here means "selling faster than the limit": crossing down alerts.
        if _crossed(state, "velocity", False, rate > limit) == "down":
            kinds.append("velocity")
    if change.backordered and after < 0 and rule.oversell:
        kinds.append("oversell")
    return kinds


def decide(
    state: SkuState,
    change: ChangeFacts,
    rule: Effective,
    *,
    rate: int | None = None,
    sold: int = 0,
    store: str | None = None,
    correlation_id: str | None = None,
    now: float,
) -> Decision:
    """Update ``state`` in place for ``change`` and say which alerts it raises."""
    decision = Decision()
    if change.version <= state.version:
        return decision
    first, state.version = state.version == 0, change.version
    for kind in _kinds(state, change, rule, rate, first=first, sold=sold):
        alert = make_alert(kind, change, rule, rate, store, correlation_id)  # type: ignore[arg-type]
        if kind == "reorder":
            decision.reorder = alert
        if _quiet(state, kind, rule.quiet_period_s, now):
            decision.digest.append(alert)
        else:
            state.last_sent[kind] = now
            decision.send.append(alert)
    state.pending = None if decision.empty else decision
    return decision


def _quiet(state: SkuState, kind: str, quiet_s: int, now: float) -> bool:
    last = state.last_sent.get(kind)
    return quiet_s > 0 and last is not None and now - last < quiet_s


def make_alert(
    kind: AlertKind,
    change: ChangeFacts,
    rule: Effective,
    rate: int | None,
    store: str | None,
    correlation_id: str | None,
) -> Alert:
    thresholds = {"low_stock": rule.low_stock, "reorder": rule.reorder_point}
    return Alert(
        id=stable_id("notifier", kind, change.sku, str(change.version)),
        kind=kind,
        sku=change.sku,
        available_before=change.sku_available_before,
        available=change.sku_available_after,
        threshold=thresholds.get(kind, rule.velocity_per_minute if kind == "velocity" else 0),
        version=change.version,
        location=change.location,
        store=store or (change.order.shop if change.order else None),
        order=order_ref(change.order),
        reorder_quantity=rule.reorder_quantity if kind == "reorder" else None,
        rate_per_minute=rate if kind == "velocity" else None,
        correlation_id=correlation_id,
    )


SkuState.model_rebuild()
