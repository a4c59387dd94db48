"""wms-connector settings."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from stocksync_common.settings import CommonSettings, load


class Settings(CommonSettings):
    service_name: str = "wms-connector"
    http_port: int = 8084
    consumer_group: str = "wms-connector"
    orders_consumer_group: str = "wms-connector-orders"

    # The WMS REST API (the simulator's defaults for local runs).
    wms_url: str = "http://127.0.0.1:8091"
    wms_api_key: str = "dev-wms-api-key"  # noqa: S105 - a development default
    wms_timeout_s: float = 5.0
    # Backoff between tries of one WMS call; then the consumer's retries and DLQ take over.
    wms_backoff_s: tuple[float, ...] = (0.2, 0.5, 1.0)
    breaker_failures: int = 5
    breaker_open_s: float = 5.0

    # Reconciliation with the WMS snapshot.
    inventory_url: str = "http://127.0.0.1:8082"
    reconcile_interval_s: float = 900.0  # 0: only on demand
    reconcile_policy: Literal["correct", "report"] = "correct"
    reconcile_confirm_runs: int = 2  # runs in a row a difference must show before correcting


@lru_cache
def get_settings() -> Settings:
    return load(Settings)
