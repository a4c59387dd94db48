"""The local stack's processes get the client settings of a secured Kafka and Redis (#22)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack import Ports, Stack, transport_env

KAFKA_ENV = """STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092
STOCKSYNC_KAFKA_SECURITY_PROTOCOL=SASL_SSL
STOCKSYNC_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
STOCKSYNC_KAFKA_USERNAME=stocksync
STOCKSYNC_KAFKA_PASSWORD=kafka-pw
STOCKSYNC_KAFKA_CA_FILE=/state/tls/ca.pem
"""
REDIS_ENV = """STOCKSYNC_REDIS_URL=rediss://stocksync:redis-pw@127.0.0.1:6379/0
STOCKSYNC_REDIS_CA_FILE=/state/tls/ca.pem
"""


def _state(tmp_path: Path) -> Path:
    for name, text in (("kafka", KAFKA_ENV), ("redis", REDIS_ENV)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "client.env").write_text(text)
    return tmp_path


def test_plaintext_infra_adds_nothing(tmp_path: Path) -> None:
    assert transport_env(6379, {"STOCKSYNC_STATE_DIR": str(_state(tmp_path))}) == {}


def test_secured_infra_gives_the_processes_its_users_ca_and_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _state(tmp_path)
    for name, value in {
        "STOCKSYNC_STATE_DIR": str(state),
        "KAFKA_SECURITY": "sasl_ssl",
        "REDIS_SECURITY": "tls",
    }.items():
        monkeypatch.setenv(name, value)
    stack = Stack(Ports(kafka=29192, redis=26479), tmp_path / "run", via={"redis": 31000})
    env = stack.base_env()
    assert env["STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:29192", "the stack's port"
    assert env["STOCKSYNC_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert (env["STOCKSYNC_KAFKA_USERNAME"], env["STOCKSYNC_KAFKA_PASSWORD"]) == (
        "stocksync",
        "kafka-pw",
    )
    assert env["STOCKSYNC_REDIS_URL"] == "rediss://stocksync:redis-pw@127.0.0.1:31000/0"
    assert env["STOCKSYNC_REDIS_CA_FILE"] == env["STOCKSYNC_KAFKA_CA_FILE"] == "/state/tls/ca.pem"


def test_each_service_runs_as_its_own_redis_user_when_redis_sh_made_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _state(tmp_path)
    (state / "redis" / "users").mkdir()
    (state / "redis" / "users" / "order-consumer.env").write_text(
        "STOCKSYNC_REDIS_URL=rediss://stocksync-order-consumer:own-pw@127.0.0.1:6379/0\n"
        "STOCKSYNC_REDIS_CA_FILE=/state/tls/ca.pem\n"
    )
    for name, value in {"STOCKSYNC_STATE_DIR": str(state), "REDIS_SECURITY": "tls"}.items():
        monkeypatch.setenv(name, value)
    stack = Stack(Ports(redis=26479), tmp_path / "run")
    service = stack.service_of(stack.commands()["order-consumer"])
    assert service == "order-consumer"
    own = stack.base_env(service)["STOCKSYNC_REDIS_URL"]
    assert own == "rediss://stocksync-order-consumer:own-pw@127.0.0.1:26479/0"
    # a process without a user of its own (a simulator, a tool) keeps the shared one
    assert stack.service_of(stack.commands()["sink"]) is None
    shared = stack.base_env("notifier")["STOCKSYNC_REDIS_URL"]
    assert shared == "rediss://stocksync:redis-pw@127.0.0.1:26479/0"
