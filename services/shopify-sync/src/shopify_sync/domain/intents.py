"""A write in doubt: a ``inventorySetQuantities`` call the store may have applied while
the sync never recorded the outcome (the answer was lost, Redis went away after the
answer, the process died between the two).

Taken as not applied, the count it left in the store reads as sales the store made that
truth has not seen (a lowering write) and the store is held under truth for good; taken as
applied when it was not, the store's unseen sales are forgotten. Neither guess is safe, so
the sync guesses nothing: the intent is recorded before the call, with the call's exact
variables, and a round that finds one left over sends those variables again first. Shopify
answers a repeated ``@idempotent`` key with the first call's result without applying it
again; a call that never reached it runs now, as a compare-and-set against the count it was
planned from. Either way the answer says what the store did, and the intent records what
follows: the exposure the write gave the store, or the one it had before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shopify_sync.domain.quantities import Exposure, ItemKey


@dataclass(frozen=True)
class Intent:
    """One call's variables and what to record either way, per (SKU, location)."""

    variables: dict[str, Any]
    levels: Mapping[ItemKey, int]  # what the store shows if the call was applied
    after: Mapping[ItemKey, Exposure]  # what it could sell then
    before: Mapping[ItemKey, Exposure]  # what it could sell if the call was not applied

    @property
    def key(self) -> str:
        return str(self.variables["idempotencyKey"])

    @property
    def adjusts(self) -> bool:
        """Whether the call was an ``inventoryAdjustQuantities`` (relative lowerings)."""
        return "changes" in (self.variables.get("input") or {})

    def encode(self) -> str:
        rows = [
            [sku, loc, level, self.after[(sku, loc)].encode(), self.before[(sku, loc)].encode()]
            for (sku, loc), level in self.levels.items()
        ]
        return json.dumps({"variables": self.variables, "items": rows}, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str | bytes) -> Intent:
        body = json.loads(raw)
        levels: dict[ItemKey, int] = {}
        after: dict[ItemKey, Exposure] = {}
        before: dict[ItemKey, Exposure] = {}
        for sku, loc, level, applied, not_applied in body["items"]:
            levels[(sku, loc)] = int(level)
            after[(sku, loc)] = Exposure.decode(applied)
            before[(sku, loc)] = Exposure.decode(not_applied)
        return cls(body["variables"], levels, after, before)
