"""inventory-adjuster settings."""

from __future__ import annotations

from functools import lru_cache

from stocksync_common.settings import CommonSettings
from stocksync_common.topics import INVENTORY_COMMANDS


class Settings(CommonSettings):
    service_name: str = "inventory-adjuster"
    http_port: int = 8082
    consumer_group: str = "inventory-adjuster"
    commands_topic: str = INVENTORY_COMMANDS
    idempotency_ttl_s: int = 30 * 24 * 3600
    ledger_max_len: int = 10_000


@lru_cache
def get_settings() -> Settings:
    return Settings()
