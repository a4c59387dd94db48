"""Prometheus metrics shared by every service (names follow Prometheus conventions)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "stocksync_events_consumed_total",
    "Records consumed, by topic and outcome (ok, dlq, retried).",
    ["topic", "outcome"],
)
EVENTS_PUBLISHED = Counter(
    "stocksync_events_published_total", "Records published, by topic.", ["topic"]
)
DLQ_PUBLISHED = Counter(
    "stocksync_dlq_published_total", "Records sent to a dead-letter topic.", ["topic", "reason"]
)
HANDLER_SECONDS = Histogram(
    "stocksync_handler_seconds",
    "Time to handle one consumed batch of one partition.",
    ["topic"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
CONSUMER_LAG = Gauge(
    "stocksync_consumer_lag_records",
    "End offset minus position, per consumed partition.",
    ["group", "topic", "partition"],
)
DLQ_DEPTH = Gauge(
    "stocksync_dlq_depth_records",
    "Records held in a dead-letter topic (end minus start offsets), per group's DLQ topic.",
    ["topic", "group"],
)
RETRIES_PUBLISHED = Counter(
    "stocksync_retries_published_total",
    "Records sent to a retry topic, by original topic and attempt.",
    ["topic", "attempt"],
)
DLQ_REPLAYED = Counter(
    "stocksync_dlq_replayed_total",
    "DLQ records replayed, by DLQ topic and trigger (manual, auto).",
    ["topic", "trigger"],
)
