"""order-consumer settings."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from stocksync_common.settings import CommonSettings, load


class Settings(CommonSettings):
    service_name: str = "order-consumer"
    http_port: int = 8081
    consumer_group: str = "order-consumer"
    # Reads inventory.changed.v1 for order.oversold: reservations inventory-adjuster refused.
    oversold_consumer_group: str = "order-consumer-oversold"
    compliance_consumer_group: str = "order-consumer-compliance"
    # An order's state is kept this long after its last webhook (refunds come months later).
    order_state_ttl_s: int = 400 * 24 * 3600
    # How long an erased order or shop (customers/redact, shop/redact) keeps its tombstone:
    # no webhook recreates its state meanwhile. Longer than any way a delivery can come
    # back: the edge refuses deliveries older than 48 h, dead letters live two weeks at most.
    erased_tombstone_ttl_s: int = Field(default=30 * 24 * 3600, ge=16 * 24 * 3600)
    # Read-compute-save attempts when another consumer saved the same order in between.
    order_save_attempts: int = 8
    # Our location ids whose shipments the warehouse reports (wms-connector commits those
    # units from the WMS shipment): a Shopify fulfillment from one of them records the
    # shipment but moves no stock, so the units are not committed twice.
    wms_locations: frozenset[str] = frozenset()


@lru_cache
def get_settings() -> Settings:
    return load(Settings)
