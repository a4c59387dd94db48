"""A simulator process collects garbage as rarely as StockSync's services: its full
collections (190-460 ms, a dozen in a 20 s flash sale) were counted as sync latency."""

from __future__ import annotations

import gc

from stocksync_sim.process import GC_THRESHOLDS, quiet_collector


def test_a_simulator_process_collects_as_rarely_as_the_services() -> None:
    before = gc.get_threshold()
    try:
        quiet_collector()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > 700 and GC_THRESHOLDS[2] > 10  # CPython's (700, 10, 10)
    finally:
        gc.set_threshold(*before)
