"""notifier settings."""

from __future__ import annotations

from functools import lru_cache

from stocksync_common.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "notifier"
    http_port: int = 8085
    consumer_group: str = "notifier"
    alert_webhook_url: str | None = None  # a Slack-compatible incoming webhook
    request_timeout_s: float = 5.0


@lru_cache
def get_settings() -> Settings:
    return Settings()
