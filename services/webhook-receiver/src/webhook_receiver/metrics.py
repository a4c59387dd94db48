"""webhook-receiver's metrics, and their exposition across worker processes.

With several uvicorn workers, ``__main__`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh
directory before the workers start; each worker's values then live in files there, and
``/metrics`` (whichever worker answers it) adds them all up.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

WEBHOOKS = Counter(
    "stocksync_webhooks_total", "Webhook deliveries by source and outcome.", ["source", "outcome"]
)
ROUTED = Counter(
    "stocksync_webhooks_routed_total",
    "Accepted Shopify deliveries by webhook topic, Kafka topic and handler.",
    ["topic", "kafka_topic", "handler"],
)
PARKED = Counter(
    "stocksync_webhooks_parked_total",
    "Deliveries of topics StockSync does not handle, parked on webhooks.parked.v1.",
    ["topic"],
)
IN_DOUBT = Counter(
    "stocksync_webhook_publish_in_doubt_total",
    "Publishes that outlived the answer (503 sent) and how they ended: published or failed.",
    ["resolution"],
)
LEDGER_ERRORS = Counter(
    "stocksync_webhook_ledger_errors_total", "Redis calls of the dedupe ledger that failed.", ["op"]
)
COMPLIANCE_ERASED = Counter(
    "stocksync_compliance_erased_records_total",
    "Records webhook-receiver erased for compliance requests, by topic.",
    ["topic"],
)
ACK_SECONDS = Histogram(
    "stocksync_webhook_ack_seconds",
    "Time from request received to answer, by source.",
    ["source"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 5.0),
)


def exposition() -> tuple[bytes, str]:
    """The metrics page: every worker's values when running multi-process."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


PII_REMOVED = Counter(
    "stocksync_webhook_pii_fields_removed_total",
    "Customer-data fields removed from webhook bodies before they were published.",
    ["topic"],
)
