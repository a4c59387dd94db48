"""How every client reaches Kafka and Redis: protocol, credentials and the CA it trusts.

Kafka: ``STOCKSYNC_KAFKA_SECURITY_PROTOCOL`` (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL),
``STOCKSYNC_KAFKA_SASL_MECHANISM`` (SCRAM-SHA-512 by default), ``STOCKSYNC_KAFKA_USERNAME``,
``STOCKSYNC_KAFKA_PASSWORD`` and ``STOCKSYNC_KAFKA_CA_FILE`` (PEM; none: the system's CAs).
:func:`kafka_options` turns them into aiokafka's keyword arguments: every producer, consumer
and admin client StockSync builds takes them from there, so no client can be left plaintext
by a forgotten argument.

Redis: the URL says it all (``rediss://user:password@host:port/0`` for TLS with an ACL user),
plus ``STOCKSYNC_REDIS_CA_FILE``; the URL is a secret because the password lives in it.

Production refuses a transport without authentication or TLS (:func:`transport_problems`)
unless ``STOCKSYNC_ALLOW_INSECURE_TRANSPORT=true`` says the network already provides them
(a service mesh's mTLS, say). Problems name the setting, never a value. Why this shape:
docs/decisions/0017-authenticated-encrypted-transport.md.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from aiokafka.helpers import create_ssl_context
from pydantic import SecretStr

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


@dataclass(frozen=True)
class KafkaSecurity:
    """How a Kafka client authenticates and what it encrypts with; plaintext by default."""

    protocol: SecurityProtocol = "PLAINTEXT"
    mechanism: SaslMechanism = "SCRAM-SHA-512"
    username: str | None = None
    password: SecretStr | None = None
    ca_file: str | None = None

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def problems(self) -> list[str]:
        """What is missing for this protocol (setting names only)."""
        found = []
        if self.sasl and not self.username:
            found.append(f"STOCKSYNC_KAFKA_USERNAME is required with {self.protocol}")
        if self.sasl and not (self.password and self.password.get_secret_value()):
            found.append(f"STOCKSYNC_KAFKA_PASSWORD is required with {self.protocol}")
        if self.ca_file and not self.tls:
            found.append(f"STOCKSYNC_KAFKA_CA_FILE needs SSL or SASL_SSL, not {self.protocol}")
        return found


PLAINTEXT = KafkaSecurity()


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """A client context that checks the server's certificate and name (against ``ca_file``,
    else the system's CAs)."""
    context: ssl.SSLContext = create_ssl_context(cafile=ca_file)
    return context


def kafka_options(security: KafkaSecurity | None) -> dict[str, Any]:
    """aiokafka keyword arguments for ``security`` (None: plaintext, aiokafka's defaults).

    A new TLS context per client: a renewed CA file is read by the next client built."""
    if security is None or security.protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": security.protocol}
    if security.tls:
        options["ssl_context"] = tls_context(security.ca_file)
    if security.sasl:
        password = security.password.get_secret_value() if security.password else None
        options.update(
            sasl_mechanism=security.mechanism,
            sasl_plain_username=security.username,
            sasl_plain_password=password,
        )
    return options


def redis_url_problem(url: str) -> str | None:
    """Why ``url`` is not an authenticated TLS connection (never the URL itself), or None."""
    try:
        parts = urlsplit(url)
        has_password = bool(parts.password)
    except ValueError:
        return "STOCKSYNC_REDIS_URL is not a valid URL"
    if parts.scheme not in ("rediss", "rediss+cluster"):
        return "STOCKSYNC_REDIS_URL must use rediss:// or rediss+cluster:// (TLS) in production"
    if not has_password:
        return "STOCKSYNC_REDIS_URL must carry a password (rediss://user:pass@host) in production"
    return None


def transport_problems(kafka: KafkaSecurity | None, redis_url: str | None) -> list[str]:
    """What a production deployment may not run with: Kafka without SASL over TLS, Redis
    without TLS and a password (None: a process that does not use it)."""
    found = []
    if kafka is not None and kafka.protocol != "SASL_SSL":
        found.append(
            "STOCKSYNC_KAFKA_SECURITY_PROTOCOL must be SASL_SSL in production "
            "(or set STOCKSYNC_ALLOW_INSECURE_TRANSPORT=true)"
        )
    problem = redis_url_problem(redis_url) if redis_url is not None else None
    if problem:
        found.append(f"{problem} (or set STOCKSYNC_ALLOW_INSECURE_TRANSPORT=true)")
    return found
