"""A write above a store's cut bucket waits in the DLQ until that bucket holds it again.

While Shopify has cut a store's limits below what one ``productSet`` costs (a big product:
about 420 points for 2,048 variants), the client refuses the call without sending it (ADR
0013). No retry can help until the cut ends, and nobody knows when that is: the propagation
raises :class:`AboveCutBucket`, a dependency failure named
``shopify-bucket:<shop>:<points>``, so the record goes through its retries to the DLQ with
that reason, and the automatic replayer sends it back once :class:`BucketHolds` says the
store's learned bucket holds the points again. A quiet store teaches nothing new, so the
check probes it (one point) at most every ``probe_every_s`` while the cut lasts (ADR 0035 §4).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from shopify_sync.adapters.documents import SHOP_PROBE
from shopify_sync.adapters.shopify import PROBE, ShopifyClient
from shopify_sync.domain.pacing import EPSILON, SINGLE_QUERY_MAX_COST, Clock
from stocksync_common.retry import DependencyUnavailable
from stocksync_common.stores import StoresConfig

FAMILY = "shopify-bucket"


def fits_some_bucket(points: float) -> bool:
    """Whether a call of ``points`` fits an uncut bucket (above 1,000 points it never will)."""
    return points <= SINGLE_QUERY_MAX_COST + EPSILON


class AboveCutBucket(DependencyUnavailable):
    """A write costs more than the store's bucket holds now; nothing was sent."""

    def __init__(self, shop: str, points: float) -> None:
        whole = math.ceil(points - EPSILON)
        super().__init__(f"{FAMILY}:{shop}:{whole}", "its limits are cut below the write")
        self.shop = shop
        self.points = whole


@dataclass
class BucketHolds:
    """The replayer's check of ``shopify-bucket:<shop>:<points>`` (the argument is
    ``<shop>:<points>``): True once the shop's bucket holds that many points in one call."""

    client: ShopifyClient
    stores: StoresConfig
    clock: Clock = time.monotonic
    probe_every_s: float = 2.0
    _probed: dict[str, float] = field(default_factory=dict)

    async def __call__(self, argument: str) -> bool:
        shop, _, raw = argument.rpartition(":")
        store = self.stores.by_shop(shop)
        if store is None:
            return True  # no longer configured: the replay finds nothing to write there
        points = float(raw)
        if self._holds(shop, points):
            return True
        now = self.clock()
        if now - self._probed.get(shop, -math.inf) < self.probe_every_s:
            return False
        self._probed[shop] = now
        await self.client.execute(store, SHOP_PROBE, {}, operation=PROBE, cost=1.0)
        return self._holds(shop, points)

    def _holds(self, shop: str, points: float) -> bool:
        bucket = self.client.shop(shop).bucket
        return bucket.known and points <= bucket.ceiling() + EPSILON
