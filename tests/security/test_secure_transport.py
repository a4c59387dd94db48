"""Kafka with SASL/SCRAM over TLS and Redis with an ACL user over TLS (#22): the happy path
runs on a secured broker and Redis, each service as its own Kafka user allowed only what
deploy/k8s/generate_topics.py grants it, and as its own Redis ACL user allowed only the keys
it declares (deploy/redis/acl-users.txt); clients without credentials, with a wrong password
or without TLS are refused by both, and a service's user is refused another's topics and keys.

The module starts its own secured pair once (scripts/infra/kafka.sh with
``KAFKA_SECURITY=sasl_ssl KAFKA_ACLS=on``, redis.sh with ``REDIS_SECURITY=tls``), makes a
SCRAM user per service and grants it the generated ACLs (``kafka.sh users``/``acls``), on
ports of its own:
``STOCKSYNC_TEST_SECURE_KAFKA_PORT`` (19192), ``STOCKSYNC_TEST_SECURE_CONTROLLER_PORT``
(19193) and ``STOCKSYNC_TEST_SECURE_REDIS_PORT`` (16479), each plus
``STOCKSYNC_TEST_PORT_SHIFT``, with its state under ``$STOCKSYNC_TEST_STATE_DIR/secure``
(else ``.work/secure-test``). It stops what it started.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError
from fastapi import FastAPI
from integration.webhook_receiver.edge import write_stores
from pydantic import SecretStr
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, NoPermissionError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from unit.common.test_redis_keys import WRITTEN
from unit.deploy.test_k8s_production import load_generator
from unit.webhook_receiver.harness import shopify_headers

from inventory_adjuster.entrypoints.app import create_app as adjuster_app
from inventory_adjuster.settings import Settings as AdjusterSettings
from notifier.adapters.rules_store import RulesStore
from notifier.adapters.state import Commit, SkuStates
from notifier.domain.crossings import SkuState
from notifier.domain.rules import RuleSet
from ops_console.sessions import RedisSessions, Session
from order_consumer.entrypoints.app import create_app as order_consumer_app
from order_consumer.settings import Settings as OrderConsumerSettings
from shopify_sync.adapters.jobs import RedisJobs
from stack import read_env_file
from stocksync_common.accounts.store import Accounts
from stocksync_common.kafka import stop_consumer
from stocksync_common.redis_client import connect
from stocksync_common.settings import CommonSettings
from stocksync_common.topics import (
    INVENTORY_COMMANDS,
    ORDERS,
    WEBHOOKS_SHOPIFY,
    create_topics,
    registered_services,
)
from stocksync_common.transport import KafkaSecurity, kafka_options
from support.infra import PORT_SHIFT
from support.poll import await_for
from webhook_receiver.entrypoints.app import create_app as receiver_app
from webhook_receiver.settings import Settings as ReceiverSettings
from wms_connector.adapters.order_state import RedisOrderState

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "scripts" / "infra"
KAFKA_PORT = int(os.environ.get("STOCKSYNC_TEST_SECURE_KAFKA_PORT", "19192")) + PORT_SHIFT
CONTROLLER_PORT = int(os.environ.get("STOCKSYNC_TEST_SECURE_CONTROLLER_PORT", "19193")) + PORT_SHIFT
REDIS_PORT = int(os.environ.get("STOCKSYNC_TEST_SECURE_REDIS_PORT", "16479")) + PORT_SHIFT
SECRET = "secure-transport-shop-secret"
ADMIN = "secure-transport-admin-token"


@dataclass(frozen=True)
class SecurePair:
    """The client settings the scripts wrote (``client.env`` of each), as settings fields,
    and the password of each service's Kafka user (``stocksync-<service>``)."""

    kafka: dict[str, str]
    redis: dict[str, str]
    passwords: dict[str, str]
    admin_password: str
    redis_users: dict[str, dict[str, str]]  # each service's own Redis URL and CA (redis.sh)

    def fields(self, service: str | None = None) -> dict[str, Any]:
        """Settings fields; as ``service``'s own Kafka and Redis users when given."""
        env = {**self.kafka, **self.redis}
        if service is not None:
            env["STOCKSYNC_KAFKA_USERNAME"] = user_name(service)
            env["STOCKSYNC_KAFKA_PASSWORD"] = self.passwords[service]
            env.update(self.redis_users[service])
        return {k.removeprefix("STOCKSYNC_").lower(): v for k, v in env.items()}

    def settings(self, service: str | None = None) -> CommonSettings:
        return CommonSettings(**self.fields(service))

    def admin(self) -> KafkaSecurity:
        """The broker's super user (topics are created by the Topic Operator in production)."""
        ca = self.kafka["STOCKSYNC_KAFKA_CA_FILE"]
        return KafkaSecurity(
            "SASL_SSL", username="admin", password=SecretStr(self.admin_password), ca_file=ca
        )


def user_name(service: str) -> str:
    name: str = load_generator().user_name(service)
    return name


def acl_lines(service: str) -> list[str]:
    """The generated ACLs of ``service``'s user, as ``kafka.sh acls`` reads them."""
    grants = load_generator().acls(registered_services()[service])
    lines = []
    for (kind, name), operations in grants.items():
        for operation in operations:
            op = re.sub(r"(?<!^)(?=[A-Z])", "_", operation).upper()  # IdempotentWrite
            lines.append(f"User:{user_name(service)} {kind} {name} {op}")
    return lines


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").exists():
        return str(Path(home, "bin", "java"))
    return shutil.which("java")


def _is_jdk(java: str) -> bool:
    """kafka.sh users/acls run KafkaAccess.java from source: a JDK's compiler module."""
    modules = subprocess.run(  # noqa: S603 - the java found above
        [java, "--list-modules"], capture_output=True, text=True, timeout=60, check=False
    )
    return "jdk.compiler" in modules.stdout


def _missing_tools() -> list[str]:
    java = _java()
    wanted = {
        "openssl": bool(shutil.which("openssl")),
        "redis-server": bool(shutil.which("redis-server")),
        "java": java is not None,
        "a JDK (jdk.compiler)": java is not None and _is_jdk(java),
    }
    return sorted(name for name, found in wanted.items() if not found)


def _state_dir() -> Path:
    base = os.environ.get("STOCKSYNC_TEST_STATE_DIR")
    return Path(base) / "secure" if base else ROOT / ".work" / "secure-test"


def _script(
    name: str, action: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own scripts
        [str(INFRA / name), action],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def secure() -> Iterator[SecurePair]:
    missing = _missing_tools()
    if missing:
        pytest.skip(f"the secured broker and Redis need {', '.join(missing)} (not installed)")
    state = _state_dir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "REDIS_"))},
        "STOCKSYNC_STATE_DIR": str(state),
        "KAFKA_PORT": str(KAFKA_PORT),
        "KAFKA_CONTROLLER_PORT": str(CONTROLLER_PORT),
        "REDIS_PORT": str(REDIS_PORT),
        "KAFKA_SECURITY": "sasl_ssl",
        "KAFKA_ACLS": "on",
        "REDIS_SECURITY": "tls",
    }
    started = []
    try:
        for script in ("redis.sh", "kafka.sh"):
            if _script(script, "status", env).returncode != 0:
                done = _script(script, "start", env)
                assert done.returncode == 0, f"{script} start failed:\n{done.stderr[-3000:]}"
                started.append(script)
        services = sorted(registered_services())
        passwords = {service: secrets.token_hex(24) for service in services}
        users = "".join(f"{user_name(s)} {passwords[s]}\n" for s in services)
        acls = "".join(f"{line}\n" for s in services for line in acl_lines(s))
        for action, lines in (("users", users), ("acls", acls)):
            done = _script("kafka.sh", action, env, stdin=lines)
            assert done.returncode == 0, f"kafka.sh {action} failed:\n{done.stderr[-3000:]}"
        yield SecurePair(
            read_env_file(state / "kafka" / "client.env"),
            read_env_file(state / "redis" / "client.env"),
            passwords,
            read_env_file(state / "kafka" / "credentials.env")["KAFKA_ADMIN_PASSWORD"],
            {p.stem: read_env_file(p) for p in (state / "redis" / "users").glob("*.env")},
        )
    finally:
        for script in reversed(started):
            _script(script, "stop", env)


# --- the happy path -----------------------------------------------------------------------


@asynccontextmanager
async def serving(app: FastAPI, name: str) -> AsyncIterator[httpx.AsyncClient]:
    """A service's app with its lifespan (its real clients, consumers and tasks)."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=f"http://{name}", timeout=30) as client,
    ):
        yield client


async def _levels(adjuster: httpx.AsyncClient, sku: str) -> dict[str, Any] | None:
    r = await adjuster.get(f"/inventory/{sku}")
    return r.json()["locations"]["default"] if r.status_code == 200 else None


async def test_an_order_flows_from_the_webhook_to_truth_over_scram_and_tls(
    secure: SecurePair, tmp_path: Path
) -> None:
    s = secure.settings()
    assert s.kafka_security.protocol == "SASL_SSL" and s.redis_url.get_secret_value().startswith(
        "rediss://"
    )
    await create_topics(
        s.kafka_bootstrap_servers, partitions=2, replication=1, security=secure.admin()
    )
    shop = write_stores(tmp_path / "stores.yaml", SECRET)
    stores = str(tmp_path / "stores.yaml")
    # each service as its own Kafka user, with only the ACLs generated for it
    receiver = receiver_app(
        ReceiverSettings(**secure.fields("webhook-receiver"), stores_file=stores)
    )
    orders = order_consumer_app(
        OrderConsumerSettings(**secure.fields("order-consumer"), stores_file=stores)
    )
    adjuster = adjuster_app(
        AdjusterSettings(
            **secure.fields("inventory-adjuster"), stores_file=stores, admin_token=ADMIN
        )
    )
    sku = f"SECURE-{uuid.uuid4().hex[:8]}"
    async with AsyncExitStack() as stack:
        edge = await stack.enter_async_context(serving(receiver, "receiver"))
        await stack.enter_async_context(serving(orders, "orders"))
        truth = await stack.enter_async_context(serving(adjuster, "adjuster"))
        # stock loaded through the admin import: set_on_hand commands through Kafka
        imported = await truth.post(
            "/inventory/import",
            content=f"sku,location,on_hand\n{sku},default,5\n",
            headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "text/csv"},
        )
        assert imported.status_code == 202, imported.text
        await await_for("the import applied", lambda: _on_hand(truth, sku, 5), timeout_s=60)
        # a signed order: receiver -> webhooks.shopify.v1 -> order-consumer ->
        # inventory.commands.v1 -> inventory-adjuster's Lua script in Redis
        oid = uuid.uuid4().int % 10**12
        body = orjson.dumps({"id": oid, "line_items": [{"id": oid + 1, "sku": sku, "quantity": 2}]})
        headers = shopify_headers(body, "orders/create", shop=shop, secret=SECRET.encode())
        answer = await edge.post("/webhooks/shopify", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        level = await await_for("the reservation", lambda: _reserved(truth, sku, 2), timeout_s=60)
    assert (level["on_hand"], level["reserved"]) == (5, 2)


async def _on_hand(adjuster: httpx.AsyncClient, sku: str, wanted: int) -> bool:
    level = await _levels(adjuster, sku)
    return level is not None and level["on_hand"] == wanted


async def _reserved(adjuster: httpx.AsyncClient, sku: str, wanted: int) -> dict[str, Any] | None:
    level = await _levels(adjuster, sku)
    return level if level is not None and level["reserved"] == wanted else None


# --- refusals ---------------------------------------------------------------------------------


async def _produce(bootstrap: str, security: KafkaSecurity | None) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, request_timeout_ms=5000, **kafka_options(security)
    )
    try:
        await producer.start()
        await producer.partitions_for("webhooks.shopify.v1")
    finally:
        await producer.stop()


def _refused_security(case: str, good: KafkaSecurity) -> KafkaSecurity | None:
    user, password, ca = good.username, good.password, good.ca_file
    return {
        "plaintext": None,
        "tls-without-sasl": KafkaSecurity("SSL", ca_file=ca),
        "sasl-without-tls": KafkaSecurity("SASL_PLAINTEXT", username=user, password=password),
        "wrong-password": KafkaSecurity(
            "SASL_SSL", username=user, password=SecretStr("wrong-password"), ca_file=ca
        ),
        "unknown-user": KafkaSecurity(
            "SASL_SSL", username="intruder", password=password, ca_file=ca
        ),
        "unknown-ca": KafkaSecurity("SASL_SSL", username=user, password=password),
    }[case]


async def test_kafka_accepts_the_scram_user_over_tls(secure: SecurePair) -> None:
    s = secure.settings("webhook-receiver")
    await _produce(s.kafka_bootstrap_servers, s.kafka_security)


@pytest.mark.parametrize(
    "case",
    [
        "plaintext",
        "tls-without-sasl",
        "sasl-without-tls",
        "wrong-password",
        "unknown-user",
        "unknown-ca",
    ],
)
async def test_kafka_refuses_a_client_without_sasl_over_tls_or_the_right_password(
    secure: SecurePair, case: str
) -> None:
    s = secure.settings("webhook-receiver")
    with pytest.raises(KafkaError):
        await _produce(s.kafka_bootstrap_servers, _refused_security(case, s.kafka_security))


async def _send(bootstrap: str, security: KafkaSecurity, topic: str) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, request_timeout_ms=5000, **kafka_options(security)
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}", partition=0)
    finally:
        await producer.stop()


async def _read(bootstrap: str, security: KafkaSecurity, topic: str) -> int:
    """How many records of partition 0 of ``topic`` the user gets within 3 s (an
    unauthorized topic has no leader for it: aiokafka logs that and returns nothing)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", **kafka_options(security)
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        batches = await consumer.getmany(timeout_ms=3000)
        return sum(len(records) for records in batches.values())
    finally:
        await stop_consumer(consumer)


async def test_a_services_kafka_user_is_refused_the_topics_of_others(secure: SecurePair) -> None:
    receiver = secure.settings("webhook-receiver")
    bootstrap, security = receiver.kafka_bootstrap_servers, receiver.kafka_security
    await create_topics(bootstrap, partitions=2, replication=1, security=secure.admin())
    await _send(bootstrap, security, WEBHOOKS_SHOPIFY)  # its own topic
    # the internet-facing receiver may not command stock nor read orders
    with pytest.raises(TopicAuthorizationFailedError):
        await _send(bootstrap, security, INVENTORY_COMMANDS)
    await _send(bootstrap, secure.admin(), ORDERS)
    warehouse = secure.settings("wms-connector").kafka_security  # it reads orders.v1
    assert await _read(bootstrap, warehouse, ORDERS) >= 1
    assert await _read(bootstrap, security, ORDERS) == 0
    orders = secure.settings("order-consumer").kafka_security
    with pytest.raises(TopicAuthorizationFailedError):  # nor forge a webhook, for that matter
        await _send(bootstrap, orders, WEBHOOKS_SHOPIFY)


async def _ping(url: str, ca_file: str | None) -> bool:
    client = connect(url, ca_file=ca_file, timeout_s=5)
    try:
        return bool(await client.ping())
    finally:
        await client.aclose()


async def test_redis_refuses_clients_without_tls_or_without_the_acl_user(
    secure: SecurePair,
) -> None:
    url = secure.redis["STOCKSYNC_REDIS_URL"]
    ca = secure.redis["STOCKSYNC_REDIS_CA_FILE"]
    assert await _ping(url, ca)  # the ACL user over TLS passes
    user, _, host = url.removeprefix("rediss://").rpartition("@")
    name = user.split(":", 1)[0]
    with pytest.raises(RedisConnectionError):  # no TLS: the port speaks only TLS
        await _ping(f"redis://{user}@{host}", None)
    with pytest.raises(AuthenticationError):  # TLS, no login: the default user is off
        await _ping(f"rediss://{host}", ca)
    with pytest.raises(AuthenticationError):
        await _ping(f"rediss://{name}:wrong-password@{host}", ca)
    with pytest.raises(RedisError, match="certificate verify failed"):  # a CA it does not know
        await _ping(url, None)


@pytest.mark.parametrize("service", [None, *sorted(WRITTEN)])
async def test_the_acl_users_cannot_run_admin_or_dangerous_commands(
    secure: SecurePair, service: str | None
) -> None:
    settings = secure.settings(service)
    client = connect(settings.redis_url, ca_file=settings.redis_ca_file)
    try:
        refused = [("FLUSHALL",), ("CONFIG", "GET", "*"), ("KEYS", "*"), ("SHUTDOWN",)]
        if service is not None:  # a service's own user: no script flush, no channel either
            refused += [
                ("ACL", "LIST"), ("SCRIPT", "FLUSH"), ("FUNCTION", "FLUSH"),
                ("PUBLISH", "channel", "x"),
            ]  # fmt: skip
        for command in refused:
            with pytest.raises(RedisError, match="no permissions"):
                await client.execute_command(*command)  # type: ignore[no-untyped-call]
    finally:
        await client.aclose()


# --- a Redis user per service -----------------------------------------------------------------


@asynccontextmanager
async def redis_as(secure: SecurePair, service: str) -> AsyncIterator[Redis]:
    """A client logged in as ``service``'s own Redis ACL user."""
    settings = secure.settings(service)
    client = connect(settings.redis_url, ca_file=settings.redis_ca_file, timeout_s=10)
    try:
        yield client
    finally:
        await client.aclose()


async def test_each_service_has_its_own_redis_user(secure: SecurePair) -> None:
    assert set(secure.redis_users) == set(WRITTEN)
    for service in WRITTEN:
        async with redis_as(secure, service) as client:  # logs in as stocksync-<service>
            assert client.connection_pool.connection_kwargs["username"] == f"stocksync-{service}"
            assert await client.ping()


async def test_each_services_redis_user_may_write_every_key_it_builds(secure: SecurePair) -> None:
    """DEL is a write, checked against the user's key patterns like any other."""
    for service, keys in WRITTEN.items():
        async with redis_as(secure, service) as client:
            for key in keys():
                await client.delete(key)


async def test_the_other_services_redis_paths_run_under_their_own_users(
    secure: SecurePair,
) -> None:
    """The services the happy path does not run: a main Redis path of each, as its user."""
    ref = f"secure-{uuid.uuid4().hex[:8]}"
    async with redis_as(secure, "wms-connector") as client:
        orders = RedisOrderState(client)
        await orders.set(ref, "created", "wms-1")
        assert await orders.get(ref) == ("created", "wms-1")
    async with redis_as(secure, "notifier") as client:
        rules = RulesStore(client, f"notifier-{ref}")  # a prefix of its own: out of its keys
        with pytest.raises(NoPermissionError):
            await rules.replace(RuleSet())
        rules = RulesStore(client)
        assert await rules.replace(RuleSet()) >= 1
        # a script sent in a pipeline: redis-py asks SCRIPT EXISTS first, always
        states, sku = SkuStates(client), f"SECURE-{ref}"
        assert await states.commit_many([Commit(sku, 0, SkuState(version=1), done=True)]) == [True]
        assert (await states.load(sku)).done == 1
    async with redis_as(secure, "shopify-sync") as client:
        jobs = RedisJobs(client)
        job = await jobs.create("reconciliation", {"ref": ref})
        assert (await jobs.get(job) or {})["status"] == "running"
    async with redis_as(secure, "ops-console") as client:
        accounts = Accounts(client)
        await accounts.add_user(ref, "viewer", "a-long-enough-password")
        token_id, token = await accounts.issue_token(ref, "secure", frozenset({"read"}))
        await RedisSessions(client).put(Session(ref, "csrf", 0.0, ref), 60)
        assert await accounts.touch_token(token_id, 600)  # a script: a session's token
    async with redis_as(secure, "inventory-adjuster") as client:  # a user token on its API
        principal = await Accounts(client).authenticate(token)
        assert principal is not None and principal.user == ref
        assert await client.incr(f"accounts:bearer:addr:{ref}") == 1  # the bearer throttle
        with pytest.raises(NoPermissionError):  # but it cannot make one
            await Accounts(client).add_user(f"{ref}-2", "admin", "a-long-enough-password")


REFUSED_KEYS = [
    # the internet-facing receiver may not touch stock truth, directly or by a script
    ("webhook-receiver", ("SET", "inv:{SKU}", "0")),
    ("webhook-receiver", ("EVAL", "return redis.call('SET', KEYS[1], '0')", 1, "inv:{SKU}")),
    ("webhook-receiver", ("HSET", "order:{shop:1}", "doc", "{}")),
    ("notifier", ("HSET", "sync:pending:{shop}", "f", "1")),
    ("notifier", ("SET", "accounts:token:t", "x")),
    ("order-consumer", ("HSET", "skumap:{shop}", "variant:1", "SKU")),  # it only reads them
    ("wms-connector", ("DEL", "offsets:{inventory-adjuster}")),
    ("shopify-sync", ("DEL", "inv:{SKU}:ledger")),
    ("inventory-adjuster", ("DEL", "dlq:state:{webhooks.shopify.v1.dlq.order-consumer}")),
    ("ops-console", ("GET", "order:{shop:1}")),
]


@pytest.mark.parametrize(("service", "command"), REFUSED_KEYS, ids=lambda v: str(v)[:40])
async def test_a_services_redis_user_is_refused_the_keys_of_others(
    secure: SecurePair, service: str, command: tuple[Any, ...]
) -> None:
    async with redis_as(secure, service) as client:
        with pytest.raises(NoPermissionError, match="no permissions to access one of the keys"):
            await client.execute_command(*command)  # type: ignore[no-untyped-call]


async def test_a_service_reads_what_it_only_reads(secure: SecurePair) -> None:
    async with redis_as(secure, "shopify-sync") as writer:
        await writer.hset("skumap:{secure-shop}", "variant:1", "SKU-1")
    async with redis_as(secure, "order-consumer") as reader:
        assert await reader.hget("skumap:{secure-shop}", "variant:1") == b"SKU-1"
