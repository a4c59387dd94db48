"""What a simulator process sets before it serves."""

from __future__ import annotations

import gc

# As StockSync's own services (docs/decisions/0033-garbage-collector-tuning.md).
GC_THRESHOLDS = (10_000, 10, 50)


def quiet_collector() -> None:
    """Rarer full garbage collections. With CPython's thresholds a simulator holding a few
    series of a flash-sale catalog (thousands of products each) ran a dozen full collections
    in a 20 s sale, each stopping it for 190-460 ms: Shopify's answers have no such pauses,
    and StockSync's measured sync latency counted them (docs/profiling.md, sixth session)."""
    gc.set_threshold(*GC_THRESHOLDS)
