"""order-consumer settings."""

from __future__ import annotations

from functools import lru_cache

from stocksync_common.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "order-consumer"
    http_port: int = 8081
    consumer_group: str = "order-consumer"


@lru_cache
def get_settings() -> Settings:
    return Settings()
