"""webhook-receiver settings."""

from __future__ import annotations

from functools import lru_cache

from stocksync_common.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "webhook-receiver"
    http_port: int = 8080
    workers: int = 1
    max_body_bytes: int = 2 * 1024 * 1024
    dedupe_ttl_s: int = 72 * 3600
    publish_timeout_s: float = 3.0
    wms_webhook_secret: str = "dev-wms-secret"  # noqa: S105 - refused in production
    wms_webhook_secret_previous: str | None = None


@lru_cache
def get_settings() -> Settings:
    return Settings()
