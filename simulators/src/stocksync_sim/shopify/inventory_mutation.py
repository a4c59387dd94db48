"""``inventorySetQuantities`` as Shopify 2026-04+ runs it: ``@idempotent`` required,
``changeFromQuantity`` required on every quantity (compare-and-set, ``null`` opts out),
all-or-nothing per call, and a replayed idempotency key answering the first result.

Every quantity of a call that passed the shape checks is logged (``QuantityWrite``) with the
store's count it met, so tests and the bench can check what a sync sent against what the
store held at that moment (``/_sim/storefront/writes``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stocksync_sim.delivery import rfc3339, utc_now
from stocksync_sim.shopify.executor import Call, FieldError, GqlObject
from stocksync_sim.shopify.objects import item_object, location_object
from stocksync_sim.shopify.state import (
    IdempotencyRecord,
    Level,
    Product,
    QuantityWrite,
    StoreState,
    gid,
)

QUANTITY_LIMIT = 1_000_000_000
SETTABLE_NAMES = frozenset({"available", "on_hand"})
# https://shopify.dev/docs/apps/build/orders-fulfillment/inventory-management-apps/quantities-states
REASONS = frozenset(
    {
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_canceled",
        "movement_created",
        "movement_received",
        "movement_updated",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    }
)

MISSING_IDEMPOTENT = "The @idempotent directive is required for this mutation but was not provided."


SET_KIND = "InventorySetQuantities"  # the prefix of the payload's and user errors' types
MISMATCH = "The same idempotency key cannot be used with different operation parameters."


def user_error(field: list[str] | None, message: str, code: str, kind: str = SET_KIND) -> GqlObject:
    return GqlObject(f"{kind}UserError", {"field": field, "message": message, "code": code}, cost=0)


def payload(group: GqlObject | None, errors: list[GqlObject], kind: str = SET_KIND) -> GqlObject:
    return GqlObject(
        f"{kind}Payload", {"inventoryAdjustmentGroup": group, "userErrors": errors}, cost=0
    )


def idempotency_key(call: Call) -> str:
    """The ``@idempotent(key:)`` of an inventory mutation (required from 2026-04 on)."""
    directive = call.directive("idempotent")
    if directive is None:
        raise FieldError(MISSING_IDEMPOTENT, "BAD_REQUEST")
    key = directive.get("key")
    if not isinstance(key, str) or not key.strip():
        raise FieldError(
            "The idempotency key cannot be an empty string or whitespace only.", "BAD_REQUEST"
        )
    return key


def once(
    store: StoreState,
    key: str,
    fingerprint: str,
    kind: str,
    run: Callable[[], GqlObject],
    logged: Callable[[bool], None],
) -> GqlObject:
    """``run`` under ``key``: a key seen before answers its first result without running
    again (``logged(False)``), or a mismatch when the input differs (``logged(True)``)."""
    record = store.idempotency.get(key)
    if record is not None:
        mismatched = record.fingerprint != fingerprint
        logged(mismatched)
        if mismatched:
            return payload(
                None, [user_error(None, MISMATCH, "IDEMPOTENCY_KEY_PARAMETER_MISMATCH", kind)], kind
            )
        result: GqlObject = record.result
        return result
    result = run()
    store.idempotency[key] = IdempotencyRecord(fingerprint, result)
    return result


def inventory_change(
    store: StoreState, product: Product, location_id: str, name: str, delta: int, after: int
) -> GqlObject:
    """One ``InventoryChange`` of an adjustment group."""
    return GqlObject(
        "InventoryChange",
        {
            "name": name,
            "delta": delta,
            "quantityAfterChange": after,
            "ledgerDocumentUri": None,
            "item": item_object(store, product),
            "location": location_object(store, location_id),
        },
        cost=0,
    )


def adjustment_group(
    store: StoreState, data: dict[str, Any], changes: list[GqlObject]
) -> GqlObject:
    """The ``InventoryAdjustmentGroup`` an applied inventory mutation answers with."""
    return GqlObject(
        "InventoryAdjustmentGroup",
        {
            "id": gid("InventoryAdjustmentGroup", store.next_id()),
            "createdAt": rfc3339(utc_now()),
            "reason": data["reason"],
            "referenceDocumentUri": data.get("referenceDocumentUri"),
            "app": None,
            "staffMember": None,
            "changes": changes,
        },
        ("Node",),
        cost=0,
    )


@dataclass(frozen=True)
class _Change:
    product: Product
    location_id: str
    quantity: int


def check_shape(
    data: Any, field: str, items: str, item_type: str, number: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Structural checks the schema would make (for runs without schema validation) of an
    inventory mutation's ``input``: ``field`` the mutation, ``items`` its list
    (``item_type`` each), ``number`` the Int each item carries beside its compare value."""

    def shape_error(detail: str) -> FieldError:
        return FieldError(
            f"Argument 'input' on Field '{field}' has an invalid value: {detail}",
            "argumentLiteralsIncompatible",
        )

    if not isinstance(data, dict):
        raise FieldError(
            f"Field '{field}' is missing required arguments: input", "missingRequiredArguments"
        )
    for key in ("name", "reason"):
        if not isinstance(data.get(key), str):
            raise shape_error(f"{key} must be a String")
    entries = data.get(items)
    if not isinstance(entries, list) or not all(isinstance(q, dict) for q in entries):
        raise shape_error(f"{items} must be a list of {item_type}")
    for entry in entries:
        for key in ("inventoryItemId", "locationId"):
            if not isinstance(entry.get(key), str):
                raise shape_error(f"{items}[].{key} must be an ID")
        if not isinstance(entry.get(number), int):
            raise shape_error(f"{items}[].{number} must be an Int")
        if "changeFromQuantity" not in entry:
            missing = f"{item_type} must include the following argument: changeFromQuantity."
            raise FieldError(missing, "INVALID_FIELD_ARGUMENTS")
        change_from = entry["changeFromQuantity"]
        if change_from is not None and not isinstance(change_from, int):
            raise shape_error(f"{items}[].changeFromQuantity must be an Int or null")
    return data, entries


def _check_shape(data: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return check_shape(
        data, "inventorySetQuantities", "quantities", "InventoryQuantityInput", "quantity"
    )


def reason_errors(data: dict[str, Any], kind: str = SET_KIND) -> list[GqlObject]:
    """The user errors of an inventory mutation's ``reason`` and ``referenceDocumentUri``."""
    errors: list[GqlObject] = []
    if data["reason"] not in REASONS:
        message = "The specified reason is invalid."
        errors.append(user_error(["input", "reason"], message, "INVALID_REASON", kind))
    reference = data.get("referenceDocumentUri")
    if reference is not None and (not isinstance(reference, str) or ":" not in reference[1:]):
        message = "The specified reference document is invalid."
        field = ["input", "referenceDocumentUri"]
        errors.append(user_error(field, message, "INVALID_REFERENCE_DOCUMENT", kind))
    return errors


def _observed(
    store: StoreState,
    data: dict[str, Any],
    quantities: list[dict[str, Any]],
    errors: list[GqlObject],
    replayed: bool = False,
) -> list[QuantityWrite]:
    """Each quantity with the store's count now (before anything is applied) and its outcome."""
    name: str = data["name"]
    codes: dict[str, str] = {}  # quantity index -> the code of its first user error
    for error in errors:
        path = error.fields["field"] or []
        if len(path) > 2 and path[1] == "quantities":
            codes.setdefault(path[2], error.fields["code"])
    out = []
    for index, entry in enumerate(quantities):
        product = store.by_item.get(entry["inventoryItemId"])
        level = product.levels.get(entry["locationId"]) if product is not None else None
        code = codes.get(str(index))
        if replayed:
            outcome = "invalid" if errors else "replayed"
        elif code is not None:
            outcome = "stale" if code == "CHANGE_FROM_QUANTITY_STALE" else "invalid"
        else:
            outcome = "not_applied" if errors else "applied"
        count_name = name if name in SETTABLE_NAMES else "available"
        out.append(
            QuantityWrite(
                sku=product.sku if product is not None else None,
                location_id=entry["locationId"],
                name=name,
                store_count=level.quantity(count_name) if level is not None else None,
                change_from=entry["changeFromQuantity"],
                quantity=entry["quantity"],
                outcome=outcome,
            )
        )
    return out


def set_quantities(
    store: StoreState, call: Call, log: list[QuantityWrite] | None = None
) -> GqlObject:
    """Run the mutation; each quantity is appended to ``log`` (the request's) when given."""
    log = [] if log is None else log
    key = idempotency_key(call)
    data, quantities = _check_shape(call.args.get("input"))
    fingerprint = json.dumps(data, sort_keys=True, separators=(",", ":"))

    def logged(mismatched: bool) -> None:
        errors = [user_error(None, MISMATCH, "IDEMPOTENCY_KEY_PARAMETER_MISMATCH")]
        log.extend(_observed(store, data, quantities, errors if mismatched else [], replayed=True))

    return once(
        store, key, fingerprint, SET_KIND, lambda: _apply(store, data, quantities, log), logged
    )


def _validate(
    store: StoreState, data: dict[str, Any], quantities: list[dict[str, Any]]
) -> tuple[list[GqlObject], list[_Change]]:
    errors: list[GqlObject] = []
    name: str = data["name"]
    if name not in SETTABLE_NAMES:
        errors.append(
            user_error(
                ["input", "name"],
                "The quantity name must be either 'available' or 'on_hand'.",
                "INVALID_NAME",
            )
        )
    errors += reason_errors(data)
    changes: list[_Change] = []
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(quantities):
        errors.extend(_check_entry(store, name, index, entry, seen, changes))
    return errors, changes


def _check_entry(
    store: StoreState,
    name: str,
    index: int,
    entry: dict[str, Any],
    seen: set[tuple[str, str]],
    changes: list[_Change],
) -> list[GqlObject]:
    base = ["input", "quantities", str(index)]
    item_id, location_id = entry["inventoryItemId"], entry["locationId"]
    quantity: int = entry["quantity"]
    product = store.by_item.get(item_id)
    if product is None:
        return [
            user_error(
                [*base, "inventoryItemId"],
                "The specified inventory item could not be found.",
                "INVALID_INVENTORY_ITEM",
            )
        ]
    level: Level | None = product.levels.get(location_id)
    if location_id not in store.locations or level is None:
        return [
            user_error(
                [*base, "locationId"],
                "The specified location could not be found.",
                "INVALID_LOCATION",
            )
        ]
    if (item_id, location_id) in seen:
        return [
            user_error(
                base,
                "The combination of inventoryItemId and locationId must be unique.",
                "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
            )
        ]
    seen.add((item_id, location_id))
    if quantity < 0:
        return [
            user_error(
                [*base, "quantity"], "The quantity can't be negative.", "INVALID_QUANTITY_NEGATIVE"
            )
        ]
    if quantity > QUANTITY_LIMIT:
        return [
            user_error(
                [*base, "quantity"],
                "The total quantity can't be higher than 1,000,000,000.",
                "INVALID_QUANTITY_TOO_HIGH",
            )
        ]
    change_from = entry["changeFromQuantity"]
    if name in SETTABLE_NAMES and change_from is not None and change_from != level.quantity(name):
        return [
            user_error(
                [*base, "changeFromQuantity"],
                "The changeFromQuantity value does not match persisted value.",
                "CHANGE_FROM_QUANTITY_STALE",
            )
        ]
    changes.append(_Change(product, location_id, quantity))
    return []


def _apply(
    store: StoreState,
    data: dict[str, Any],
    quantities: list[dict[str, Any]],
    log: list[QuantityWrite],
) -> GqlObject:
    errors, changes = _validate(store, data, quantities)
    log.extend(_observed(store, data, quantities, errors))
    if errors:
        return payload(None, errors)
    name: str = data["name"]
    other = "on_hand" if name == "available" else "available"
    store.stats.mutations += 1
    store.stats.quantities_set += len(changes)
    change_objects: list[GqlObject] = []
    for change in changes:
        level = change.product.levels[change.location_id]
        delta = level.set_quantity(name, change.quantity)
        if delta == 0:
            continue
        for changed_name in (name, other):
            after = level.quantity(changed_name)
            change_objects.append(
                inventory_change(
                    store, change.product, change.location_id, changed_name, delta, after
                )
            )
    return payload(adjustment_group(store, data, change_objects), [])
