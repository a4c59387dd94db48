"""ops-console settings: where each service's admin API is, and how long a login lasts
(absolute and idle)."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from pydantic import SecretStr, model_validator

from stocksync_common.settings import CommonSettings, load, secret_problem


class Settings(CommonSettings):
    # It reads the services' HTTP APIs, never Kafka (docs/security.md).
    uses_kafka: ClassVar[bool] = False
    service_name: str = "ops-console"
    http_port: int = 8086

    inventory_adjuster_url: str = "http://127.0.0.1:8082"
    shopify_sync_url: str = "http://127.0.0.1:8083"
    order_consumer_url: str = "http://127.0.0.1:8081"
    wms_connector_url: str = "http://127.0.0.1:8084"
    notifier_url: str = "http://127.0.0.1:8085"
    webhook_receiver_url: str = "http://127.0.0.1:8080"

    # The charts page reads the last hour from here (None: no charts; scripts/up.sh sets it).
    prometheus_url: str | None = None

    # A session ends this long after the login (absolute) or after this long unused (idle).
    session_ttl_s: int = 8 * 3600
    session_idle_s: int = 30 * 60
    backend_timeout_s: float = 15.0
    # Browsers only send a Secure cookie over HTTPS; production sits behind TLS.
    cookie_secure: bool | None = None
    # The key that signs session cookies: a secret of its own (docs/security.md). Unset
    # outside production: a random key per process (a restart ends every session).
    console_session_key: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _own_session_key_in_production(self) -> Settings:
        if self.environment == "production":
            key = self.console_session_key
            problem = secret_problem("STOCKSYNC_CONSOLE_SESSION_KEY", key, frozenset())
            if problem is None and key.get_secret_value() == self.admin_token.get_secret_value():
                problem = "STOCKSYNC_CONSOLE_SESSION_KEY must not be STOCKSYNC_ADMIN_TOKEN"
            if problem:
                raise ValueError(problem)
        return self

    def backend_urls(self) -> dict[str, str]:
        """Base URL per service, by its name."""
        return {
            "webhook-receiver": self.webhook_receiver_url,
            "order-consumer": self.order_consumer_url,
            "inventory-adjuster": self.inventory_adjuster_url,
            "shopify-sync": self.shopify_sync_url,
            "wms-connector": self.wms_connector_url,
            "notifier": self.notifier_url,
        }

    @property
    def secure_cookie(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.environment == "production"


@lru_cache
def get_settings() -> Settings:
    return load(Settings)
