"""The cyclic garbage collector of a service process: rarer full collections, and none of
them walking what the process built at start.

CPython's defaults (700, 10, 10) suit a short script. A service under load allocates fast and
keeps a lot (its caches, the records of a batch, the state of every store): objects survive
two young collections, and a full collection (generation 2) ran about once a second in
shopify-sync at 40-200 orders/s, each taking 65-270 ms on this machine with the event loop
stopped meanwhile, so every lane and consumer of the process waited (docs/profiling.md). A
larger first threshold makes young collections rarer (each still walks only young objects),
the third one makes full collections rarer, and ``gc.freeze()`` after start moves everything
the start built (modules, classes, schemas, clients) out of every later collection. Garbage
that is a cycle waits longer for its collection; everything else is still freed at once by
reference counting.
"""

from __future__ import annotations

import gc

# Set by ``service.serve`` (a service process): the runtime freezes the heap once the
# service has started. Never set in tests, whose processes would keep every fixture forever.
freeze_after_start = False


def tune(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(*thresholds)


def freeze() -> int:
    """Collect once, then keep every object alive now out of later collections; how many."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
