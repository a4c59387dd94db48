"""Kits and their components in one store under channel allocation (ADR 0040): the rule
that keeps, after every write the store accepts, what it can sell of each component,
directly and through its kits, within the component's budget there.

A component's budget in a store is its direct share plus units x part of every kit it is in
(its change carries the parts, ``Pending.kits``); a kit's change carries the splits of its
allocated components (``Pending.components``). A raise is granted only into room the budget
leaves beside what the store can sell now of the other SKUs sharing it, so a lowering not
written yet still counts at its old count: lowers go first, and the raise waits, pending.
"""

from __future__ import annotations

from collections.abc import Callable

from shopify_sync.domain.quantities import Pending

# What the store can sell now of a SKU at the item's location; the second argument is what
# to count for a SKU the sync has not met there yet (what truth gives it)
Selling = Callable[[str, int], int]


def linked_skus(pending: Pending) -> set[str]:
    """The SKUs whose counts in the store bound a raise of this one: a component's kits; a
    kit's allocated components and their kits."""
    out = {kit for kit, _, _ in pending.kits or ()}
    for comp, _, _, parts in pending.components or ():
        out.add(comp)
        out.update(kit for kit, _, _ in parts)
    return out


def kit_cap(sku: str, pending: Pending, selling: Selling) -> int | None:
    """The most the store may sell of ``sku`` after a raise (None: in no kit, no bound).

    A component: its budget less units x what the store can sell of each kit (a kit not
    met yet counts at its part). A kit: per allocated component, what the component's
    budget leaves beside what the store can sell of the component (not met: its direct
    share) and of its other kits, in kits; the least of them."""
    rooms: list[int] = []
    if pending.kits:
        rooms.append(
            pending.quantity + sum(u * (part - selling(kit, part)) for kit, u, part in pending.kits)
        )
    for comp, units, direct, parts in pending.components or ():
        budget = direct + sum(u * part for _, u, part in parts)
        used = selling(comp, direct) + sum(
            u * selling(kit, part) for kit, u, part in parts if kit != sku
        )
        rooms.append((budget - used) // units)
    return max(0, min(rooms)) if rooms else None
