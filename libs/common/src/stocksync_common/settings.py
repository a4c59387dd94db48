"""Settings shared by every service, read from ``STOCKSYNC_``-prefixed environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "dev-admin-token"})


class CommonSettings(BaseSettings):
    """The base every service's ``Settings`` extends."""

    model_config = SettingsConfigDict(env_prefix="STOCKSYNC_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    service_name: str = "stocksync"
    log_level: str = "INFO"
    http_host: str = "127.0.0.1"
    http_port: int = 8000

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_client_id: str | None = None
    topic_partitions: int = 12
    topic_replication_factor: int = 1
    publish_timeout_s: float = 5.0

    redis_url: str = "redis://127.0.0.1:6379/0"
    stores_file: str | None = None
    admin_token: str = "dev-admin-token"  # noqa: S105 - refused in production
    otlp_endpoint: str | None = None

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> CommonSettings:
        if self.environment == "production" and self.admin_token in PLACEHOLDER_SECRETS:
            raise ValueError("STOCKSYNC_ADMIN_TOKEN must be set to a real secret in production")
        return self
