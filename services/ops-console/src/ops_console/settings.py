"""ops-console settings: the services it shows and where their admin APIs are, and how long a
login lasts (absolute and idle)."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from stocksync_common.settings import CommonSettings, load, secret_problem

HTTP = ("http", "https")


class Settings(CommonSettings):
    # It reads the services' HTTP APIs, never Kafka (docs/security.md).
    uses_kafka: ClassVar[bool] = False
    service_name: str = "ops-console"
    http_port: int = 8086

    # The services it shows and calls, by name, each at its base URL: a JSON object
    # (STOCKSYNC_CONSOLE_SERVICES). Not kept here: scripts/generate_deploy.py writes it for
    # Kubernetes and compose, scripts/stack.py sets it for the local run, both from the
    # services that declare stocksync.io/console: "true" (docs/architecture.md).
    console_services: dict[str, str] = Field(default_factory=dict)

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

    @field_validator("console_services")
    @classmethod
    def _http_urls(cls, urls: dict[str, str]) -> dict[str, str]:
        bad = sorted(name for name, url in urls.items() if urlsplit(url).scheme not in HTTP)
        if bad:
            raise ValueError(f"not an http(s) URL for {', '.join(bad)}")
        return urls

    @model_validator(mode="after")
    def _own_session_key_in_production(self) -> Settings:
        if self.environment == "production":
            key = self.console_session_key
            problem = secret_problem("STOCKSYNC_CONSOLE_SESSION_KEY", key, frozenset())
            if problem is None and key.get_secret_value() == self.admin_token.get_secret_value():
                problem = "STOCKSYNC_CONSOLE_SESSION_KEY must not be STOCKSYNC_ADMIN_TOKEN"
            if problem is None and not self.console_services:
                problem = "STOCKSYNC_CONSOLE_SERVICES names no service"
            if problem:
                raise ValueError(problem)
        return self

    def backend_urls(self) -> dict[str, str]:
        """Base URL per service, by its name, in the order given."""
        return dict(self.console_services)

    @property
    def secure_cookie(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.environment == "production"


@lru_cache
def get_settings() -> Settings:
    return load(Settings)
