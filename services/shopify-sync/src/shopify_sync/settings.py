"""shopify-sync settings."""

from __future__ import annotations

from functools import lru_cache

from stocksync_common.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "shopify-sync"
    http_port: int = 8083
    consumer_group: str = "shopify-sync"
    request_timeout_s: float = 10.0
    max_stale_retries: int = 3


@lru_cache
def get_settings() -> Settings:
    return Settings()
