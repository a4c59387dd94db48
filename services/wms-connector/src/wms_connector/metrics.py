"""wms-connector's own metrics: outbound order calls, the WMS circuit, reconciliation."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from stocksync_common.breaker import State

WMS_ORDERS = Counter(
    "stocksync_wms_orders_total",
    "Orders handed to the WMS, by action (create, cancel) and outcome.",
    ["action", "outcome"],
)
WMS_CALL_FAILURES = Counter(
    "stocksync_wms_call_failures_total", "WMS REST calls that failed, by kind.", ["kind"]
)
WMS_CIRCUIT = Gauge(
    "stocksync_wms_circuit_state", "The WMS circuit: 0 closed, 1 half-open, 2 open."
)
WMS_DRIFT = Gauge(
    "stocksync_wms_reconcile_drift_lines", "SKU-locations whose on-hand differed at the last run."
)
WMS_CORRECTIONS = Counter(
    "stocksync_wms_reconcile_corrections_total", "set_on_hand corrections published."
)


def circuit_changed(_before: State, after: State) -> None:
    WMS_CIRCUIT.set(after.level)
