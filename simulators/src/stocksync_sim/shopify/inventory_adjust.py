"""``inventoryAdjustQuantities`` as Shopify 2026-04+ runs it: ``@idempotent`` required, a
``delta`` per change, ``changeFromQuantity`` required on every change (compare-and-set;
``null`` opts out, so a delta composes with whatever the store sold meanwhile), all or
nothing per call, a replayed idempotency key answering the first result.

Modelled: the ``available`` quantity only (adjusting it takes no ledger document); any other
name is answered ``INVALID_QUANTITY_NAME``, as the simulator keeps no other states. A count
may go below zero, as Shopify allows, down to -2,000,000,000. Each change is logged like a
set's quantity (``QuantityWrite`` with its ``delta``; the quantity is the count it leaves).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stocksync_sim.shopify.executor import Call, GqlObject
from stocksync_sim.shopify.inventory_mutation import (
    adjustment_group,
    check_shape,
    idempotency_key,
    inventory_change,
    once,
    payload,
    reason_errors,
    user_error,
)
from stocksync_sim.shopify.state import Level, Product, QuantityWrite, StoreState

FIELD = "inventoryAdjustQuantities"
KIND = "InventoryAdjustQuantities"
LIMIT = 2_000_000_000


def error(field: list[str] | None, message: str, code: str) -> GqlObject:
    return user_error(field, message, code, KIND)


@dataclass(frozen=True)
class _Change:
    product: Product
    level: Level
    location_id: str
    delta: int


def _check_shape(data: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return check_shape(data, FIELD, "changes", "InventoryChangeInput", "delta")


def adjust_quantities(
    store: StoreState, call: Call, log: list[QuantityWrite] | None = None
) -> GqlObject:
    """Run the mutation; each change is appended to ``log`` (the request's) when given."""
    log = [] if log is None else log
    key = idempotency_key(call)
    data, changes = _check_shape(call.args.get("input"))
    fingerprint = json.dumps({FIELD: data}, sort_keys=True, separators=(",", ":"))

    def logged(mismatched: bool) -> None:
        log.extend(_observed(store, changes, {}, "invalid" if mismatched else "replayed"))

    return once(store, key, fingerprint, KIND, lambda: _apply(store, data, changes, log), logged)


def _request_errors(data: dict[str, Any]) -> list[GqlObject]:
    errors: list[GqlObject] = []
    if data["name"] != "available":
        errors.append(
            error(
                ["input", "name"],
                "The specified quantity name is invalid.",
                "INVALID_QUANTITY_NAME",
            )
        )
    errors += reason_errors(data, KIND)
    return errors


def _check_change(
    store: StoreState, index: int, entry: dict[str, Any], counts: dict[tuple[int, str], int]
) -> tuple[GqlObject | None, _Change | None]:
    """One change against the counts as the changes before it in the call leave them."""
    base = ["input", "changes", str(index)]
    product = store.by_item.get(entry["inventoryItemId"])
    if product is None:
        message = "The specified inventory item could not be found."
        return error([*base, "inventoryItemId"], message, "INVALID_INVENTORY_ITEM"), None
    location_id: str = entry["locationId"]
    level = product.levels.get(location_id)
    if location_id not in store.locations or level is None:
        message = "The specified location could not be found."
        return error([*base, "locationId"], message, "INVALID_LOCATION"), None
    if entry.get("ledgerDocumentUri") is not None:
        message = "A ledger document URI is not allowed when adjusting available."
        return error([*base, "ledgerDocumentUri"], message, "INVALID_AVAILABLE_DOCUMENT"), None
    now = counts.get((id(level), location_id), level.available)
    change_from = entry["changeFromQuantity"]
    if change_from is not None and change_from != now:
        message = "The changeFromQuantity argument no longer matches the persisted quantity."
        return error([*base, "changeFromQuantity"], message, "CHANGE_FROM_QUANTITY_STALE"), None
    after = now + int(entry["delta"])
    if after > LIMIT:
        message = "The quantity can't be higher than 2,000,000,000."
        return error([*base, "delta"], message, "INVALID_QUANTITY_TOO_HIGH"), None
    if after < -LIMIT:
        message = "The quantity can't be lower than -2,000,000,000."
        return error([*base, "delta"], message, "INVALID_QUANTITY_TOO_LOW"), None
    counts[(id(level), location_id)] = after
    return None, _Change(product, level, location_id, int(entry["delta"]))


def _observed(
    store: StoreState, changes: list[dict[str, Any]], codes: dict[int, str], outcome: str
) -> list[QuantityWrite]:
    """Each change with the store's count now (before anything is applied) and its outcome
    (``outcome`` for every change no error named)."""
    out = []
    for index, entry in enumerate(changes):
        product = store.by_item.get(entry["inventoryItemId"])
        level = product.levels.get(entry["locationId"]) if product is not None else None
        count = level.available if level is not None else None
        code = codes.get(index)
        own = (
            outcome
            if code is None
            else "stale"
            if code == "CHANGE_FROM_QUANTITY_STALE"
            else "invalid"
        )
        delta = int(entry["delta"])
        out.append(
            QuantityWrite(
                sku=product.sku if product is not None else None,
                location_id=entry["locationId"],
                name="available",
                store_count=count,
                change_from=entry["changeFromQuantity"],
                quantity=delta if count is None else count + delta,
                outcome=own,
                delta=delta,
            )
        )
    return out


def _apply(
    store: StoreState,
    data: dict[str, Any],
    changes: list[dict[str, Any]],
    log: list[QuantityWrite],
) -> GqlObject:
    errors = _request_errors(data)
    codes: dict[int, str] = {}
    valid: list[_Change] = []
    counts: dict[tuple[int, str], int] = {}
    for index, entry in enumerate(changes):
        error, change = _check_change(store, index, entry, counts)
        if error is not None:
            errors.append(error)
            codes[index] = str(error.fields["code"])
        elif change is not None:
            valid.append(change)
    log.extend(_observed(store, changes, codes, "not_applied" if errors else "applied"))
    if errors:
        return payload(None, errors, KIND)
    store.stats.mutations += 1
    store.stats.quantities_set += len(valid)
    change_objects: list[GqlObject] = []
    for change in valid:
        if change.delta == 0:
            continue
        change.level.set_quantity("available", change.level.available + change.delta)
        for name in ("available", "on_hand"):
            after = change.level.quantity(name)
            change_objects.append(
                inventory_change(
                    store, change.product, change.location_id, name, change.delta, after
                )
            )
    return payload(adjustment_group(store, data, change_objects), [], KIND)
