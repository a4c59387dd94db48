"""The order lifecycle: given an order's state and one webhook, the commands and new state.

Pure: no I/O; the SKU mapping the handler looked up is passed in. Each webhook is one fact
about the order, applied once: a whole-order snapshot (see :mod:`snapshot`), a fulfillment,
a refund, an edit (see :mod:`facts`), a deletion. A fact applied before is not applied
again: its recorded commands and events are replayed instead, with the same keys and ids.
"""

from __future__ import annotations

from collections.abc import Mapping

from order_consumer.domain.facts import (
    apply_edit,
    apply_fulfillment,
    apply_refund,
    cancel_fulfillment,
    edited_notice,
)
from order_consumer.domain.hooks import (
    EditHook,
    FulfillmentHook,
    Hook,
    RefundHook,
    SnapshotHook,
)
from order_consumer.domain.snapshot import apply_snapshot
from order_consumer.domain.state import OrderState, Outcome
from order_consumer.domain.step import Step
from stocksync_common.stores import Store


def apply(
    state: OrderState | None,
    hook: Hook,
    store: Store,
    skumap: Mapping[str, str],
    wms_locations: frozenset[str] = frozenset(),
) -> Outcome:
    """Apply one webhook to an order's state (never mutated: a copy is returned).

    ``wms_locations``: our locations whose shipments the warehouse reports itself; a
    fulfillment from one of them moves no stock here (see :func:`facts.ship`)."""
    before = state or OrderState(shop=store.shop, order_id=hook.order_id)
    work = before.model_copy(deep=True)
    if hook.fact in work.facts:
        return replay(work, hook.fact)
    step = Step(work, store, skumap, wms_locations=wms_locations)
    default = store.default_location()
    if isinstance(hook, SnapshotHook):
        apply_snapshot(step, hook)
    elif isinstance(hook, FulfillmentHook) and hook.fulfillment.cancelled:
        step.apply_fact(hook.fact, lambda: cancel_fulfillment(step, hook.fulfillment))
    elif isinstance(hook, FulfillmentHook):
        step.apply_fact(hook.fact, lambda: apply_fulfillment(step, hook.fulfillment, default))
    elif isinstance(hook, RefundHook):
        step.apply_fact(hook.fact, lambda: apply_refund(step, hook.refund, default))
    elif isinstance(hook, EditHook):
        step.apply_fact(hook.fact, lambda: edit_order(step, hook))
    else:
        step.apply_fact(hook.fact, lambda: delete_order(step))
    return Outcome(
        state=work,
        commands=step.commands,
        notices=step.notices,
        changed=work != before,
    )


def edit_order(step: Step, hook: EditHook) -> bool:
    lines = apply_edit(step, hook.edit)
    edited_notice(step, hook.fact, hook.edit.id, lines)
    return True


def delete_order(step: Step) -> bool:
    step.state.deleted = True
    return True


def replay(state: OrderState, fact: str) -> Outcome:
    """A fact applied before: publish again exactly what it produced (same keys, same ids)."""
    record = state.facts[fact]
    records = [state.facts[c] for c in record.children if c in state.facts] + [record]
    return Outcome(
        state=state,
        commands=[c for r in records for c in r.commands],
        notices=[n for r in records for n in r.notices],
        replay=True,
    )
