"""Kafka and Redis transport settings: what clients are built with, what production refuses."""

import ssl
from typing import ClassVar

import pytest
from pydantic import SecretStr, ValidationError

from stocksync_common.redis_client import (
    ResetSafeConnection,
    ResetSafeSSLConnection,
    connect,
    connect_bounded,
)
from stocksync_common.settings import CommonSettings, load
from stocksync_common.topics import TopicsSettings
from stocksync_common.transport import KafkaSecurity, kafka_options

PASSWORD = "kafka-password-that-must-never-show-up"
REDIS_PASSWORD = "redis-password-that-must-never-show-up"
TOKEN = "a-real-admin-token-of-at-least-32-characters"
SECURE_REDIS = f"rediss://stocksync:{REDIS_PASSWORD}@redis.internal:6380/0"


def _secure_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOCKSYNC_ENVIRONMENT", "production")
    monkeypatch.setenv("STOCKSYNC_ADMIN_TOKEN", TOKEN)
    monkeypatch.setenv("STOCKSYNC_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("STOCKSYNC_KAFKA_USERNAME", "order-consumer")
    monkeypatch.setenv("STOCKSYNC_KAFKA_PASSWORD", PASSWORD)
    monkeypatch.setenv("STOCKSYNC_REDIS_URL", SECURE_REDIS)


def test_plaintext_by_default_adds_nothing_to_the_clients() -> None:
    settings = CommonSettings()
    assert settings.kafka_security == KafkaSecurity()
    assert kafka_options(settings.kafka_security) == {} == kafka_options(None)


def test_sasl_ssl_gives_every_client_scram_credentials_and_a_verifying_tls_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _secure_env(monkeypatch)
    options = kafka_options(CommonSettings().kafka_security)
    context = options.pop("ssl_context")
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "order-consumer",
        "sasl_plain_password": PASSWORD,
    }


def test_sasl_without_credentials_is_refused_in_any_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STOCKSYNC_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ValidationError) as refused:
        CommonSettings()
    assert "STOCKSYNC_KAFKA_USERNAME" in str(refused.value)
    assert "STOCKSYNC_KAFKA_PASSWORD" in str(refused.value)


def test_production_refuses_plaintext_kafka_and_redis_unless_opted_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _secure_env(monkeypatch)
    CommonSettings()  # the secure transport passes
    monkeypatch.setenv("STOCKSYNC_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    with pytest.raises(ValidationError, match="must be SASL_SSL in production"):
        CommonSettings()
    monkeypatch.setenv("STOCKSYNC_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("STOCKSYNC_REDIS_URL", f"redis://stocksync:{REDIS_PASSWORD}@r:6379/0")
    with pytest.raises(ValidationError, match=r"must use rediss://"):
        CommonSettings()
    monkeypatch.setenv("STOCKSYNC_REDIS_URL", "rediss://r:6380/0")
    with pytest.raises(ValidationError, match="must carry a password"):
        CommonSettings()
    monkeypatch.setenv("STOCKSYNC_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    monkeypatch.setenv("STOCKSYNC_ALLOW_INSECURE_TRANSPORT", "true")
    assert CommonSettings().kafka_security_protocol == "PLAINTEXT"


def test_transport_secrets_never_show_in_settings_or_their_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _secure_env(monkeypatch)
    settings = CommonSettings()
    shown = repr(settings) + str(settings.model_dump())
    assert PASSWORD not in shown and REDIS_PASSWORD not in shown
    monkeypatch.setenv("STOCKSYNC_REDIS_URL", f"redis://u:{REDIS_PASSWORD}@r:6379/0")
    with pytest.raises(SystemExit):
        load(CommonSettings)
    err = capsys.readouterr().err
    assert "rediss://" in err
    assert REDIS_PASSWORD not in err and PASSWORD not in err


async def test_a_rediss_url_gets_the_reset_safe_tls_connection_with_the_ca_file() -> None:
    url = SecretStr("rediss://stocksync:pw@127.0.0.1:1/3")
    for client in (
        connect(url, ca_file="/etc/ca.pem"),
        connect_bounded(url, ca_file="/etc/ca.pem", max_connections=2, timeout_s=1),
    ):
        pool = client.connection_pool
        assert pool.connection_class is ResetSafeSSLConnection
        kwargs = pool.connection_kwargs
        assert kwargs["ssl_ca_certs"] == "/etc/ca.pem"
        assert (kwargs["username"], kwargs["password"], kwargs["db"]) == ("stocksync", "pw", 3)
        await client.aclose()
    plain = connect("redis://127.0.0.1:1/0")
    assert plain.connection_pool.connection_class is ResetSafeConnection
    await plain.aclose()


def test_a_process_without_kafka_or_redis_is_not_asked_for_their_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class ConsoleSettings(CommonSettings):  # as the ops console declares it
        uses_kafka: ClassVar[bool] = False

    _secure_env(monkeypatch)
    monkeypatch.delenv("STOCKSYNC_KAFKA_USERNAME")
    monkeypatch.delenv("STOCKSYNC_KAFKA_PASSWORD")
    with pytest.raises(ValidationError, match="STOCKSYNC_KAFKA_USERNAME"):
        CommonSettings()
    assert ConsoleSettings().redis_url.get_secret_value() == SECURE_REDIS  # no Kafka user
    monkeypatch.setenv("STOCKSYNC_KAFKA_USERNAME", "stocksync-topics")
    monkeypatch.setenv("STOCKSYNC_KAFKA_PASSWORD", PASSWORD)
    monkeypatch.delenv("STOCKSYNC_REDIS_URL")
    with pytest.raises(ValidationError, match="rediss://"):
        CommonSettings()
    assert TopicsSettings().kafka_security.protocol == "SASL_SSL"  # no Redis URL
