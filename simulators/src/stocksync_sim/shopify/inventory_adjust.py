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

from stocksync_sim.shopify.executor import Call, FieldError, GqlObject
from stocksync_sim.shopify.inventory_mutation import (
    REASONS,
    adjustment_group,
    idempotency_key,
    inventory_change,
    once,
    payload,
    user_error,
)
from stocksync_sim.shopify.state import Level, Product, QuantityWrite, StoreState

FIELD = "inventoryAdjustQuantities"
KIND = "InventoryAdjustQuantities"
LIMIT = 2_000_000_000
MISSING_CHANGE_FROM = (
    "InventoryChangeInput must include the following argument: changeFromQuantity."
)


def error(field: list[str] | None, message: str, code: str) -> GqlObject:
    return user_error(field, message, code, KIND)


@dataclass(frozen=True)
class _Change:
    product: Product
    level: Level
    location_id: str
    delta: int


def _shape_error(detail: str) -> FieldError:
    return FieldError(
        f"Argument 'input' on Field '{FIELD}' has an invalid value: {detail}",
        "argumentLiteralsIncompatible",
    )


def _check_shape(data: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Structural checks the schema would make (for runs without schema validation)."""
    if not isinstance(data, dict):
        raise FieldError(
            f"Field '{FIELD}' is missing required arguments: input", "missingRequiredArguments"
        )
    for key in ("name", "reason"):
        if not isinstance(data.get(key), str):
            raise _shape_error(f"{key} must be a String")
    changes = data.get("changes")
    if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
        raise _shape_error("changes must be a list of InventoryChangeInput")
    for entry in changes:
        for key in ("inventoryItemId", "locationId"):
            if not isinstance(entry.get(key), str):
                raise _shape_error(f"changes[].{key} must be an ID")
        if not isinstance(entry.get("delta"), int):
            raise _shape_error("changes[].delta must be an Int")
        if "changeFromQuantity" not in entry:
            raise FieldError(MISSING_CHANGE_FROM, "INVALID_FIELD_ARGUMENTS")
        change_from = entry["changeFromQuantity"]
        if change_from is not None and not isinstance(change_from, int):
            raise _shape_error("changes[].changeFromQuantity must be an Int or null")
    return data, changes


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
    if data["reason"] not in REASONS:
        errors.append(
            error(["input", "reason"], "The specified reason is invalid.", "INVALID_REASON")
        )
    reference = data.get("referenceDocumentUri")
    if reference is not None and (not isinstance(reference, str) or ":" not in reference[1:]):
        errors.append(
            error(
                ["input", "referenceDocumentUri"],
                "The specified reference document is invalid.",
                "INVALID_REFERENCE_DOCUMENT",
            )
        )
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
