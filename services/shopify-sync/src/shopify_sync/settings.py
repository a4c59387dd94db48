"""shopify-sync settings (``STOCKSYNC_`` environment variables)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from stocksync_common.settings import CommonSettings, load
from stocksync_common.topics import (
    CATALOG,
    INVENTORY_CHANGED,
    INVENTORY_LEVELS,
    ORDERS,
    WEBHOOKS_SHOPIFY,
)

# inventorySetQuantities requires @idempotent and changeFromQuantity from 2026-04 on; the
# documents here are written (and schema-checked) for that shape.
MIN_API_VERSION = "2026-04"


class Settings(CommonSettings):
    service_name: str = "shopify-sync"
    http_port: int = 8083
    consumer_group: str = "shopify-sync"
    # products/* webhooks: the SKU mapping, handed on to catalog.v1 (ADR 0011).
    catalog_consumer_group: str = "shopify-sync-catalog"
    # catalog.v1: parent-to-child propagation, its own lag, retries and DLQ (ADR 0011).
    propagation_consumer_group: str = "shopify-sync-propagation"
    catalog_topic: str = CATALOG
    # Warehouse shipments (order.shipped on orders.v1) to Shopify fulfilments.
    fulfillments_consumer_group: str = "shopify-sync-fulfillments"
    orders_topic: str = ORDERS
    fulfil_shipments: bool = True
    # With it: a routed order's fulfillment orders moved to where routing placed the units
    # (order.routed on orders.v1, the same consumer; ADR 0035).
    move_fulfillment_orders: bool = True
    changes_topic: str = INVENTORY_CHANGED
    webhooks_topic: str = WEBHOOKS_SHOPIFY
    levels_topic: str = INVENTORY_LEVELS
    # inventory-adjuster's read API, for targeted reconciliations (None: the levels topic).
    inventory_url: str | None = None

    request_timeout_s: float = 10.0
    max_connections: int = 100
    # How long an idle connection to a store stays in the pool. httpx's default is 5 s: a
    # write after a quiet spell of more than 5 s opened a new TLS connection first (one to
    # three round trips to Shopify before the write itself). A connection the server closed
    # earlier is seen as closed when it is next picked, and a new one is opened then.
    keepalive_s: float = 120.0
    max_stale_retries: int = 3
    coalesce_window_s: float = 0.005
    # Admin API calls of one store in flight at once (a round each, on SKUs the others do not
    # hold). 1 until a defect is found: with 2, the flash sale at 200 orders/s left 300-1,150
    # cold-sale writes per larger store not done after 90 s (docs/decisions/0005).
    lane_in_flight: int = Field(default=1, ge=1, le=8)
    lane_poll_s: float = 0.05
    # Recovery after an outage must land within 10 s (docs/decisions/0009): the next probe
    # is never more than max(breaker_max_open_s, last backoff) after Shopify is back.
    retry_backoff_s: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    breaker_failures: int = 5
    breaker_open_s: float = 2.0
    breaker_max_open_s: float = 5.0
    lease_ttl_s: float = 10.0
    # Each store's own exposures kept in memory in front of Redis while its lane lease is
    # held (adapters/exposures.CachedExposures): a push round then reads Redis only for
    # items it has not written yet. 0 turns the cache off (every round reads Redis).
    exposure_cache_entries: int = 200_000

    discover_on_start: bool = True
    bulk_threshold: int = 500  # variants; above it discovery uses a bulk operation
    bulk_poll_s: float = 1.0
    absent_ttl_s: float = 300.0  # a SKU not found in a store is looked up again after this
    reconcile_interval_s: float = 3600.0  # 0: only on demand
    # Parent-to-child catalog propagation (ADR 0011).
    propagate_catalog: bool = True
    # The propagation group's retry-topic delays before its DLQ (ADR 0009's default).
    propagation_retry_s: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
    catalog_max_wait_s: float = 30.0  # longest a catalog call yields to pending inventory
    # A store's sales channels kept in memory for collection syncs (ADR 0038): a read costs
    # about 77 points and channels rarely change; a channel not in the list, or a publish
    # refused, reads them again at once. 0: read at every sync.
    collection_channels_ttl_s: float = Field(default=300.0, ge=0)
    # A collection's reorder or removal of products is a job Shopify runs in the background:
    # polled until done for at most this long, then the sync is rolled back and the event
    # retried (ADR 0038).
    collection_job_timeout_s: float = Field(default=30.0, gt=0)
    catalog_sync_chunk: int = 2500  # products per bulk mutation in a catalog sync job
    job_lease_ttl_s: float = 30.0  # a job whose runner died is taken over after this
    # Where Shopify reaches webhook-receiver from outside (https://host[/prefix]): webhook
    # subscriptions point at <public_url>/webhooks/shopify (stocksync-stores connect).
    public_url: str | None = None
    first_sync_timeout_s: float = 600.0  # a first-sync job fails if still pending after this


@lru_cache
def get_settings() -> Settings:
    return load(Settings)
