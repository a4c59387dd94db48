"""What a simulator process sets before it serves."""

from __future__ import annotations

import gc

# As StockSync's own services (docs/decisions/0033-garbage-collector-tuning.md).
GC_THRESHOLDS = (10_000, 10, 50)

# Set in a simulator process (``quiet_collector``), never in a test's: a seeded catalog is
# then moved out of the collector's sight (``settle_seeded``).
settle_after_seed = False


def quiet_collector() -> None:
    """Rarer full garbage collections. With CPython's thresholds a simulator holding a few
    series of a flash-sale catalog (thousands of products each) ran a dozen full collections
    in a 20 s sale, each stopping it for 190-460 ms: Shopify's answers have no such pauses,
    and StockSync's measured sync latency counted them (docs/profiling.md, sixth session)."""
    global settle_after_seed  # noqa: PLW0603 - a process-wide switch, set once at start
    gc.set_threshold(*GC_THRESHOLDS)
    settle_after_seed = True


def settle_seeded() -> None:
    """Keep what a seed just created (thousands of products for a flash sale) out of every
    later collection (``gc.freeze``): a full collection scanned the whole catalog, 117-182 ms
    per simulator here while a flash-sale catalog was seeded and sold, and any sale it stopped
    would be measured as sync latency of StockSync and the naive monolith alike (docs/profiling.md,
    ninth session; its effect on the benches was not separated from their spread). Only in a
    simulator's own process: in a test's, everything the test process holds would be frozen
    with it."""
    if settle_after_seed:
        gc.freeze()
