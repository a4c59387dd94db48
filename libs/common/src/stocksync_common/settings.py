"""Settings shared by every service, read from ``STOCKSYNC_``-prefixed environment variables."""

from __future__ import annotations

import sys
from typing import Annotated, ClassVar, Literal, TypeVar

from pydantic import (
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from stocksync_common.proxies import split_list
from stocksync_common.transport import (
    KafkaSecurity,
    SaslMechanism,
    SecurityProtocol,
    transport_problems,
)

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "dev-admin-token"})
MIN_SECRET_CHARS = 32  # production: tokens and shared secrets at least this long
S = TypeVar("S", bound=BaseSettings)


def secret_problem(name: str, value: SecretStr | None, placeholders: frozenset[str]) -> str | None:
    """Why ``value`` cannot be a production secret (never the value itself), or None."""
    text = value.get_secret_value() if value is not None else ""
    if text in placeholders or text in PLACEHOLDER_SECRETS:
        return f"{name} must be set to a real secret in production"
    if len(text) < MIN_SECRET_CHARS:
        return f"{name} must be at least {MIN_SECRET_CHARS} characters in production"
    return None


def load(factory: type[S]) -> S:
    """The settings from the environment; a bad value ends the process with each problem
    named by its setting, never with the value (pydantic's own text prints the input)."""
    try:
        return factory()
    except ValidationError as exc:
        lines = [f"{factory.__module__}.{factory.__name__}: invalid settings"]
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            lines.append(f"  {where}: {error['msg']}")
        sys.stderr.write("\n".join(lines) + "\n")
        raise SystemExit(2) from None


class CommonSettings(BaseSettings):
    """The base every service's ``Settings`` extends."""

    model_config = SettingsConfigDict(env_prefix="STOCKSYNC_", extra="ignore")
    # False: the process never talks to Kafka (the ops console) or Redis (the topics
    # command), so those settings are not checked (and it gets no credentials for them).
    uses_kafka: ClassVar[bool] = True
    uses_redis: ClassVar[bool] = True

    environment: Literal["development", "test", "production"] = "development"
    service_name: str = "stocksync"
    log_level: str = "INFO"
    # The cyclic garbage collector's thresholds and a freeze of the heap after start
    # (stocksync_common.gc_tuning; CPython's defaults are 700, 10, 10).
    gc_thresholds: tuple[int, int, int] = (10_000, 10, 50)
    gc_freeze: bool = True
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # Proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For names the client
    # for the login and bearer throttles; empty: the peer is the client
    # (stocksync_common.proxies).
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = []

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_client_id: str | None = None
    # How clients reach the brokers (stocksync_common.transport; docs/security.md).
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_ca_file: str | None = None
    topic_partitions: int = 12
    # How every topic StockSync creates is replicated (the topics command, a consumer's
    # retry and DLQ topics at start-up, shopify-sync's own): the factor (None: as many
    # replicas as the cluster has brokers, up to 3) and min.insync.replicas on the topic
    # (None: the broker's default). With acks=all, 3 and 2 keep writes going while one
    # broker is down (docs/scaling.md).
    topic_replication_factor: int | None = Field(default=None, ge=1)
    topic_min_insync_replicas: int | None = Field(default=None, ge=1)
    # The topics job's description of every topic (``stocksync-topics create``), written by
    # deploy/k8s/generate_topics.py; unset: the installed services' groups.
    topics_file: str | None = None
    publish_timeout_s: float = 5.0
    # A whole fetch (every partition's records) in one handler call where a consumer offers
    # one (ADR 0014 decision 7); false: one call per partition (kept to measure the two).
    consumer_fetch_wide: bool = True

    # A secret: ``rediss://user:password@host:port/0`` carries the password.
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    redis_ca_file: str | None = None
    # Production refuses plaintext Kafka and Redis unless this says the network encrypts
    # and authenticates for them (a service mesh's mTLS, say).
    allow_insecure_transport: bool = False
    stores_file: str | None = None
    admin_token: SecretStr = SecretStr("dev-admin-token")  # refused in production
    otlp_endpoint: str | None = None

    _split_proxies = field_validator("trusted_proxies", mode="before")(split_list)

    @property
    def kafka_security(self) -> KafkaSecurity:
        """What :func:`stocksync_common.transport.kafka_options` makes every client from."""
        return KafkaSecurity(
            self.kafka_security_protocol,
            self.kafka_sasl_mechanism,
            self.kafka_username,
            self.kafka_password,
            self.kafka_ca_file,
        )

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> CommonSettings:
        if self.environment == "production":
            problem = secret_problem("STOCKSYNC_ADMIN_TOKEN", self.admin_token, frozenset())
            if problem:
                raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _min_insync_within_the_replicas(self) -> CommonSettings:
        factor, min_isr = self.topic_replication_factor, self.topic_min_insync_replicas
        if factor is not None and min_isr is not None and min_isr > factor:
            raise ValueError(
                f"STOCKSYNC_TOPIC_MIN_INSYNC_REPLICAS ({min_isr}) exceeds "
                f"STOCKSYNC_TOPIC_REPLICATION_FACTOR ({factor}): no acks=all write could succeed"
            )
        return self

    @model_validator(mode="after")
    def _transport_complete_and_secure_in_production(self) -> CommonSettings:
        kafka = self.kafka_security if self.uses_kafka else None
        problems = kafka.problems() if kafka is not None else []
        if self.environment == "production" and not self.allow_insecure_transport:
            redis_url = self.redis_url.get_secret_value() if self.uses_redis else None
            problems += transport_problems(kafka, redis_url)
        if problems:
            raise ValueError("; ".join(problems))
        return self
