"""wms-connector settings."""

from __future__ import annotations

from functools import lru_cache

from stocksync_common.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "wms-connector"
    http_port: int = 8084
    consumer_group: str = "wms-connector"


@lru_cache
def get_settings() -> Settings:
    return Settings()
