"""notifier settings (``STOCKSYNC_`` environment variables)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from notifier.domain.alerts import ChannelName
from stocksync_common.settings import PLACEHOLDER_SECRETS, CommonSettings, load


class Settings(CommonSettings):
    service_name: str = "notifier"
    http_port: int = 8085
    consumer_group: str = "notifier"
    request_timeout_s: float = 5.0

    notifier_rules_file: str | None = None  # seeds the rules when Redis has none
    notifier_key_prefix: str = "notifier"  # Redis keys shared by the replicas
    ops_console_url: str = "http://127.0.0.1:8086"  # the ops console (issue #12)

    alert_webhook_url: SecretStr | None = None  # Slack-compatible incoming webhook
    alert_generic_webhook_url: str | None = None
    alert_generic_webhook_secret: SecretStr | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "stocksync@localhost"
    smtp_to: Annotated[list[str], NoDecode] = []  # comma-separated in the environment
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None

    delivery_max_attempts: int = 12
    delivery_backoff_base_s: float = 1.0
    delivery_backoff_max_s: float = 300.0
    delivery_lease_s: float = 60.0
    delivery_poll_s: float = 1.0  # how often a worker looks for work another replica queued
    breaker_failures: int = 3
    breaker_reset_s: float = 30.0
    digest_poll_s: float = 5.0
    velocity_window_s: int = 60

    @field_validator("smtp_to", mode="before")
    @classmethod
    def _split_recipients(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _channels_complete(self) -> Settings:
        secret = self.alert_generic_webhook_secret
        if self.alert_generic_webhook_url and secret is None:
            raise ValueError("STOCKSYNC_ALERT_GENERIC_WEBHOOK_SECRET is required with its URL")
        if (
            self.environment == "production"
            and secret is not None
            and secret.get_secret_value() in PLACEHOLDER_SECRETS
        ):
            raise ValueError("STOCKSYNC_ALERT_GENERIC_WEBHOOK_SECRET must be a real secret")
        if self.smtp_host and not self.smtp_to:
            raise ValueError("STOCKSYNC_SMTP_TO is required with STOCKSYNC_SMTP_HOST")
        return self

    @property
    def channels(self) -> tuple[ChannelName, ...]:
        """The channels configured here, in a fixed order."""
        names: list[ChannelName] = []
        if self.alert_webhook_url:
            names.append("slack")
        if self.alert_generic_webhook_url:
            names.append("webhook")
        if self.smtp_host:
            names.append("email")
        return tuple(names)


@lru_cache
def get_settings() -> Settings:
    return load(Settings)
