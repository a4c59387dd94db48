"""Every ``InventorySetQuantitiesUserErrorCode`` (and ``InventoryAdjustQuantities``'s)
handled on purpose.

``inventorySetQuantities`` is all or nothing: one user error and nothing was applied. The
items named by an error (``field: ["input", "quantities", "<i>", ...]``, an adjustment's
``["input", "changes", "<i>", ...]``) get that error's action; the others are simply sent
again. An error naming no item concerns the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    REFRESH = "refresh"  # a sale raced us: re-read the level, set again with it
    REMAP = "remap"  # the item is gone from the store: the mapping is stale
    REJECT = "reject"  # can never succeed as is: dead-letter with the reason
    WAIT = "wait"  # the same key is still being processed: retry it shortly
    NEW_KEY = "new_key"  # this key can no longer be used: retry under a new one


ACTIONS: dict[str, Action] = {
    "CHANGE_FROM_QUANTITY_STALE": Action.REFRESH,
    "COMPARE_QUANTITY_STALE": Action.REFRESH,
    "INVALID_INVENTORY_ITEM": Action.REMAP,
    # The item is a bundle or otherwise not adjustable through the API.
    "NON_MUTABLE_INVENTORY_ITEM": Action.REJECT,
    # Not stocked at (or no such) location: a mapping problem, reported, not retried.
    "INVALID_LOCATION": Action.REJECT,
    # We clamp to [0, 1e9], so these mean a bug or a store-side rule: never retried blindly.
    "INVALID_QUANTITY_NEGATIVE": Action.REJECT,
    "INVALID_QUANTITY_TOO_HIGH": Action.REJECT,
    "INVALID_QUANTITY_TOO_LOW": Action.REJECT,
    "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR": Action.REJECT,
    # Request-level: our input is wrong for this API version; no retry can fix it.
    "INVALID_NAME": Action.REJECT,
    "INVALID_REASON": Action.REJECT,
    "INVALID_REFERENCE_DOCUMENT": Action.REJECT,
    "COMPARE_QUANTITY_REQUIRED": Action.REJECT,
    "IDEMPOTENCY_CONCURRENT_REQUEST": Action.WAIT,
    "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED": Action.NEW_KEY,
    "IDEMPOTENCY_KEY_PARAMETER_MISMATCH": Action.NEW_KEY,
    # inventoryAdjustQuantities only: transient on Shopify's side ("Try again")
    "ADJUST_QUANTITIES_FAILED": Action.WAIT,
    "SERVICE_UNAVAILABLE": Action.WAIT,
}
ITEM_LISTS = (["input", "quantities"], ["input", "changes"])


@dataclass(frozen=True)
class Problem:
    action: Action
    code: str
    message: str


@dataclass
class Verdict:
    items: dict[int, Problem] = field(default_factory=dict)
    request: Problem | None = None

    def indexes(self, action: Action) -> list[int]:
        return sorted(i for i, p in self.items.items() if p.action == action)


def _index(path: Any, count: int) -> int | None:
    if not isinstance(path, list) or len(path) < 3 or path[:2] not in ITEM_LISTS:
        return None
    try:
        index = int(path[2])
    except (TypeError, ValueError):
        return None
    return index if 0 <= index < count else None


def classify(errors: list[dict[str, Any]], count: int) -> Verdict:
    """Sort a call's user errors into per-item and request-level problems.

    Unknown codes (added by a later API version) are rejected with their message, never
    retried in a loop. An item with several errors keeps the most final one.
    """
    verdict = Verdict()
    for error in errors:
        code = str(error.get("code") or "UNKNOWN")
        problem = Problem(ACTIONS.get(code, Action.REJECT), code, str(error.get("message", "")))
        index = _index(error.get("field"), count)
        if index is None:
            if verdict.request is None or problem.action == Action.REJECT:
                verdict.request = problem
            continue
        current = verdict.items.get(index)
        if current is None or problem.action == Action.REJECT:
            verdict.items[index] = problem
    return verdict
