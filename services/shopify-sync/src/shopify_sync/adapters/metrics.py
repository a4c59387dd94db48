"""shopify-sync's Prometheus metrics (per shop where it matters)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

from shopify_sync.domain.pacing import CostBucket
from stocksync_common.breaker import State

log = logging.getLogger(__name__)

CALLS = Counter(
    "stocksync_shopify_calls_total", "GraphQL calls by shop and outcome.", ["shop", "outcome"]
)
CALL_SECONDS = Histogram(
    "stocksync_shopify_call_seconds",
    "Time of one GraphQL call.",
    ["shop"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TOKENS = Counter(
    "stocksync_shopify_access_tokens_total",
    "Client credentials grants per shop: issued, refused, unreachable.",
    ["shop", "outcome"],
)
THROTTLED = Counter("stocksync_shopify_throttled_total", "THROTTLED answers, per shop.", ["shop"])
POINTS = Counter("stocksync_shopify_points_total", "Cost points charged (actual).", ["shop"])
BUCKET = Gauge(
    "stocksync_shopify_bucket_available", "Points believed available in the bucket.", ["shop"]
)
RESTORE_RATE = Gauge(
    "stocksync_shopify_bucket_restore_rate", "Restore rate learned from answers.", ["shop"]
)
CIRCUIT_STATE = Gauge(
    "stocksync_shopify_circuit_state", "Circuit per shop: 0 closed, 1 half-open, 2 open.", ["shop"]
)
CIRCUIT_TRANSITIONS = Counter(
    "stocksync_shopify_circuit_transitions_total", "Circuit state changes.", ["shop", "to"]
)
PUSHED = Counter("stocksync_shopify_quantities_pushed_total", "Quantities set, per shop.", ["shop"])
PUSH_SECONDS = Histogram(
    "stocksync_shopify_push_seconds",
    "Time to push one batch (up to 250 quantities) to one shop.",
    ["shop"],
    buckets=(0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SYNC_SECONDS = Histogram(
    "stocksync_sync_latency_seconds",
    "Webhook received (start of the causing trace) to Shopify mutation acknowledged.",
    ["shop"],
    buckets=(0.01, 0.02, 0.03, 0.05, 0.06, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
STALE = Counter(
    "stocksync_shopify_stale_total", "CHANGE_FROM_QUANTITY_STALE answers, per shop.", ["shop"]
)
LOWERED = Counter(
    "stocksync_shopify_adjusted_lowerings_total",
    "Lowerings a sale raced, sent again as relative adjustments (inventoryAdjustQuantities), "
    "per shop.",
    ["shop"],
)
USER_ERRORS = Counter(
    "stocksync_shopify_user_errors_total", "userErrors by code, per shop.", ["shop", "code"]
)
UNSEEN_HELD = Counter(
    "stocksync_shopify_unseen_sales_held_total",
    "Units a write left off a store's count for its sales truth had not applied yet, per shop.",
    ["shop"],
)
SHARE_MOVES = Counter(
    "stocksync_share_moves_total",
    "Units a store was raised by under channel allocation (room other stores gave up), per shop.",
    ["shop"],
)
IN_DOUBT = Counter(
    "stocksync_shopify_writes_in_doubt_total",
    "Writes whose outcome was not recorded, resolved by sending them again with their "
    "idempotency key: applied (by the first call or the repeat) or void.",
    ["shop", "outcome"],
)
RAISES_HELD = Counter(
    "stocksync_shopify_raises_held_total",
    "Raises under channel allocation held back until other stores give up room, per shop.",
    ["shop"],
)
FULFILLMENT_MOVES = Counter(
    "stocksync_fulfillment_order_moves_total",
    "Fulfillment order moves following routing, per shop: moved, refused (Shopify's user "
    "errors) or held (a fulfillment service holds the fulfillment order: not sent).",
    ["shop", "outcome"],
)
PENDING = Gauge("stocksync_shopify_pending", "Changes waiting to be pushed, per shop.", ["shop"])
REJECTED = Counter(
    "stocksync_shopify_rejected_total", "Changes dead-lettered, by reason.", ["shop", "reason"]
)
MISMATCH = Gauge(
    "stocksync_reconcile_mismatch_ratio", "Share of levels found drifted by the last run.", ["shop"]
)
DRIFT = Counter("stocksync_reconcile_drift_total", "Drifted levels found.", ["shop"])
RECONCILE_RUNS = Counter("stocksync_reconcile_runs_total", "Reconciliation runs.", ["outcome"])
CATALOG_WEBHOOKS = Counter(
    "stocksync_catalog_webhooks_total",
    "products/* and collections/* webhooks by what propagation did (propagated, echo, stale, "
    "reasserted, ...; collection-propagated, collection-echo, ... for collections).",
    ["shop", "outcome"],
)
MAPPING_PROBLEMS = Gauge(
    "stocksync_mapping_problems", "Catalog mapping problems by kind.", ["shop", "kind"]
)


def circuit_listener(shop: str) -> Callable[[State, State], None]:
    def changed(before: State, after: State) -> None:
        CIRCUIT_STATE.labels(shop).set(after.level)
        CIRCUIT_TRANSITIONS.labels(shop, after.value).inc()
        level = logging.WARNING if after == State.OPEN else logging.INFO
        log.log(level, "circuit %s", after.value, extra={"shop": shop, "from": before.value})

    return changed


def observe_bucket(shop: str, bucket: CostBucket) -> None:
    if bucket.known and bucket.restore_rate is not None:
        BUCKET.labels(shop).set(bucket.available())
        RESTORE_RATE.labels(shop).set(bucket.restore_rate)
