"""webhook-receiver settings, with the bounds that keep an answer inside Shopify's 5 s."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, model_validator

from stocksync_common.settings import CommonSettings, load, secret_problem
from stocksync_common.topics import MAX_RECORD_BYTES

# Shopify waits 5 s for an answer; anything slower counts as a failed delivery.
SHOPIFY_ANSWER_DEADLINE_S = 5.0
# The record limit of the producers and of the webhook topics (stocksync_common.topics,
# docs/decisions/0028). The envelope around the body (escaped into a JSON string) needs
# room, so a body above half the limit could never be published.
KAFKA_RECORD_LIMIT = MAX_RECORD_BYTES
ENVELOPE_HEADROOM = MAX_RECORD_BYTES // 2
# Shopify's largest product (2,048 variants) as a products webhook is about 1.2-1.5 MB.
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
MIN_DEDUPE_WINDOW_S = 48 * 3600


class Settings(CommonSettings):
    service_name: str = "webhook-receiver"
    http_port: int = 8080
    workers: int = Field(default=1, ge=1)
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, gt=0)
    dedupe_ttl_s: int = 72 * 3600
    publish_timeout_s: float = Field(default=3.0, gt=0)
    redis_timeout_s: float = Field(default=0.5, gt=0)
    redis_max_connections: int = Field(default=64, gt=0)  # per worker process
    # How long a delivery's claim lives without being refreshed (in flight, or in doubt
    # after a publish timeout while the producer still holds the record).
    claim_ttl_s: float = Field(default=30.0, gt=0)
    shop_rate_limit_per_s: int = Field(default=1000, gt=0)
    wms_rate_limit_per_s: int = Field(default=1000, gt=0)
    # Replay defence (domain/freshness.py): a delivery stamped (X-Shopify-Triggered-At, a WMS
    # event's occurred_at) longer ago than this, or further ahead than the skew, is refused.
    # Shopify retries a failed delivery for hours; the ledger keeps ids at least this long.
    max_delivery_age_s: int = Field(default=48 * 3600, ge=60)
    max_clock_skew_s: int = Field(default=300, ge=0)
    wms_webhook_secret: SecretStr = SecretStr("dev-wms-secret")  # refused in production
    wms_webhook_secret_previous: SecretStr | None = None
    # The DLQ admin API on this internet-facing service: off in production unless set true
    # (its dead letters stay reachable with stocksync-dlq; docs/security.md).
    dlq_api_enabled: bool | None = None

    @property
    def dlq_api(self) -> bool:
        if self.dlq_api_enabled is not None:
            return self.dlq_api_enabled
        return self.environment != "production"

    @model_validator(mode="after")
    def _bounds(self) -> Settings:
        if self.dedupe_ttl_s < MIN_DEDUPE_WINDOW_S:
            raise ValueError("STOCKSYNC_DEDUPE_TTL_S must be at least 48 hours (172800)")
        if self.dedupe_ttl_s < self.max_delivery_age_s + self.max_clock_skew_s:
            raise ValueError(
                "STOCKSYNC_DEDUPE_TTL_S must cover STOCKSYNC_MAX_DELIVERY_AGE_S plus "
                "STOCKSYNC_MAX_CLOCK_SKEW_S: an id must be remembered while its delivery is fresh"
            )
        if self.publish_timeout_s + 2 * self.redis_timeout_s >= SHOPIFY_ANSWER_DEADLINE_S:
            raise ValueError(
                "publish_timeout_s + 2 * redis_timeout_s must stay under Shopify's 5 s deadline"
            )
        if self.max_body_bytes > KAFKA_RECORD_LIMIT - ENVELOPE_HEADROOM:
            raise ValueError(
                f"max_body_bytes above {KAFKA_RECORD_LIMIT - ENVELOPE_HEADROOM} cannot be published"
            )
        if self.claim_ttl_s <= self.publish_timeout_s:
            raise ValueError("claim_ttl_s must be longer than publish_timeout_s")
        if self.environment == "production":
            placeholder = frozenset({"dev-wms-secret"})
            for name, value in (
                ("STOCKSYNC_WMS_WEBHOOK_SECRET", self.wms_webhook_secret),
                ("STOCKSYNC_WMS_WEBHOOK_SECRET_PREVIOUS", self.wms_webhook_secret_previous),
            ):
                if value is None:
                    continue
                problem = secret_problem(name, value, placeholder)
                if problem:
                    raise ValueError(problem)
        return self


@lru_cache
def get_settings() -> Settings:
    return load(Settings)
