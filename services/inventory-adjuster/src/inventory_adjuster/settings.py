"""inventory-adjuster settings."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from stocksync_common.settings import CommonSettings, load
from stocksync_common.topics import INVENTORY_COMMANDS


class Settings(CommonSettings):
    service_name: str = "inventory-adjuster"
    http_port: int = 8082
    consumer_group: str = "inventory-adjuster"
    commands_topic: str = INVENTORY_COMMANDS
    idempotency_ttl_s: int = 30 * 24 * 3600
    ledger_max_len: int = 10_000
    # How long a routed line's hold (and a parked one) outlives the last command that wrote
    # it: keep it at least order-consumer's STOCKSYNC_ORDER_STATE_TTL_S (ADR 0035)
    hold_ttl_s: int = Field(default=400 * 24 * 3600, ge=24 * 3600)
    # Channel allocation for SKUs without a configured threshold (a configured one, even 0,
    # overrides it); see docs/decisions/0012-flash-sales-write-invariant-and-allocation.md
    default_allocation: bool = True
    allocation_units_per_store: int = Field(default=4, ge=0)
    allocation_velocity: float = Field(default=3.0, ge=0)
    allocation_window_s: float = Field(default=60.0, gt=0)
    # On a Redis Cluster: how often to look for a failover, after which what it lost is
    # looked for (inventory_adjuster.failover_watch, ADR 0029); 0: never
    failover_check_s: float = Field(default=10.0, ge=0)


@lru_cache
def get_settings() -> Settings:
    return load(Settings)
