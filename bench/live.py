"""The running system for the live benches (flash sale, knee, DLQ recovery).

Kafka and Redis are given (``--bootstrap``, ``--redis-url``); the simulators and the six
services run as processes through ``scripts/stack.py`` on ports shifted by
``--port-offset``, with a Redis database of the bench's own (flushed first, never 0; on a
Redis Cluster, a ``redis+cluster://`` URL, the cluster's one database: the cluster must be the
bench's own).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from redis import Redis
from redis.cluster import RedisCluster

from bench.report import ROOT, percentile, with_db
from bench.sim_fleet import SimFleet, Sims, fleet_commands, sim_name
from stocksync_common.kafka import env_security, stop_consumer
from stocksync_common.redis_client import cluster_url
from stocksync_common.transport import kafka_options

sys.path.insert(0, str(ROOT / "scripts"))
from stack import EXAMPLE_STORES, SERVICES, Ports, Stack  # noqa: E402

__all__ = ["Stack"]

ADMIN = {"Authorization": "Bearer dev-admin-token"}  # scripts/stack.py DEMO_ENV
LOCATION = "wh-1"
QUIET_LOG = {"STOCKSYNC_LOG_LEVEL": "WARNING"}
SIM_RETRY_WINDOW_S = 60
# One Shopify simulator per store listens from its usual port plus this (8110-8112 shifted):
# clear of the other simulators and services, and of the naive run's ports (+50).
FLEET_PORTS = 20
# The simulators and the six services of the architecture (not the operator tools). Without
# the WMS simulator, wms-connector would retry and dead-letter every confirmed order.
SYSTEM = [
    "shopify-sim", "wms-sim", "sink", "webhook-receiver", "order-consumer",
    "inventory-adjuster", "shopify-sync", "wms-connector", "notifier",
]  # fmt: skip


@dataclass(frozen=True)
class Infra:
    bootstrap: str = "127.0.0.1:9092"
    redis_url: str = "redis://127.0.0.1:6379"
    port_offset: int = 10000  # 18080-18142: below the ephemeral range (32768-60999)


def add_infra_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap", default=Infra.bootstrap, help="Kafka host:port")
    parser.add_argument("--redis-url", default=Infra.redis_url)
    parser.add_argument(
        "--port-offset",
        type=int,
        default=Infra.port_offset,
        help="added to the local ports 8080-8092 of services and simulators",
    )


def service_setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.startswith("STOCKSYNC_"):
        raise argparse.ArgumentTypeError(f"not STOCKSYNC_NAME=VALUE: {text!r}")
    return name, value


def add_service_env_arg(parser: argparse.ArgumentParser) -> None:
    """``--service-env STOCKSYNC_NAME=VALUE`` (repeatable): a setting for every StockSync
    service of the run; the results record it."""
    parser.add_argument(
        "--service-env",
        action="append",
        type=service_setting,
        default=[],
        metavar="STOCKSYNC_NAME=VALUE",
        help="a setting for every StockSync service of the run (repeatable), e.g. "
        "STOCKSYNC_COALESCE_WINDOW_S=0; the results record it",
    )


def infra_of(args: argparse.Namespace) -> Infra:
    return Infra(args.bootstrap, args.redis_url, args.port_offset)


def store_gids() -> dict[str, str]:
    """Shop -> the Shopify location gid of the one internal location, from the example file."""
    doc = yaml.safe_load(EXAMPLE_STORES.read_text())
    return {s["shop"]: s["locations"][LOCATION] for s in doc["stores"]}


def _port(host_port: str) -> int:
    return int(host_port.rsplit(":", 1)[1].split("/", 1)[0])


def stack_redis_url(redis_url: str, db: int) -> str:
    """Where a bench's system keeps its state: database ``db`` of one Redis (never 0); on a
    Redis Cluster (a ``+cluster`` URL, docs/decisions/0029) the one database there is, 0: the
    cluster must be the bench's own (it is emptied first)."""
    if cluster_url(redis_url) is not None:
        return with_db(redis_url, 0)
    if db == 0:
        raise ValueError("the benches never use Redis database 0 of one Redis")
    return with_db(redis_url, db)


def sync_redis(url: str) -> Redis | RedisCluster:
    """A blocking client: redis-py's cluster client for a ``+cluster`` URL, else its plain one."""
    node = cluster_url(url)
    return RedisCluster.from_url(node) if node is not None else Redis.from_url(url)


def empty_redis(url: str) -> None:
    """Empty the bench's database (every master's, on a cluster)."""
    with sync_redis(url) as r:
        if isinstance(r, RedisCluster):
            r.flushdb(target_nodes=RedisCluster.PRIMARIES)
        else:
            r.flushdb()


def redis_layout(url: str) -> dict[str, Any]:
    """What the bench's Redis is: one node, or a cluster's masters and replicas (with every
    node's port, for the CPU meter)."""
    node = cluster_url(url)
    if node is None:
        return {"cluster": False}
    with RedisCluster.from_url(node) as r:
        nodes = r.get_nodes()
        masters = len(r.get_primaries())
    return {"cluster": True, "masters": masters, "replicas": len(nodes) - masters,
            "ports": sorted(n.port for n in nodes)}  # fmt: skip


@contextmanager
def running_stack(
    infra: Infra,
    name: str,
    redis_db: int,
    names: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
    sims: int = 1,
    plans: Sequence[str] = (),
) -> Iterator[Stack]:
    """Start the simulators and services (or only ``names``); stop them all afterwards.
    ``sims`` 3 runs "shopify-sim" as one process per store (``sims_of`` finds them)."""
    redis_url = stack_redis_url(infra.redis_url, redis_db)
    empty_redis(redis_url)
    ports = dataclasses.replace(
        Ports().shifted(infra.port_offset),
        kafka=_port(infra.bootstrap),
        redis=_port(infra.redis_url.split("//", 1)[1]),
    )
    env = {"STOCKSYNC_REDIS_URL": redis_url, **QUIET_LOG, **(extra_env or {})}
    stack = Stack(ports, ROOT / ".work" / "bench" / name, extra_env=env)
    stack.state_dir.mkdir(parents=True, exist_ok=True)
    stack.create_topics()
    if any(n in SERVICES for n in names or SYSTEM):
        in_thread(start_at_log_end(infra.bootstrap, STACK_GROUPS))
    start(stack, names or SYSTEM, sims, plans)
    try:
        stack.wait_healthy(120)
        ready = tuple(n for n in stack.procs if n in SERVICES)
        if ready:
            stack.wait_healthy(90, path="/readyz", names=ready)
        yield stack
    except BaseException:
        for proc in stack.procs:
            print(f"--- {proc} ---\n{stack.tail(proc)}", file=sys.stderr)  # noqa: T201
        raise
    finally:
        stack.stop()


# Every consumer group of the six services (their settings' defaults).
STACK_GROUPS = (
    "order-consumer", "order-consumer-oversold", "order-consumer-compliance",
    "inventory-adjuster", "shopify-sync", "shopify-sync-catalog", "shopify-sync-propagation",
    "shopify-sync-fulfillments", "wms-connector", "wms-connector-orders", "notifier",
)  # fmt: skip


# Topics no stack group reads: Kafka's own, and the tests' and benches' private ones (a
# commit on a test's topic deleted under it failed the whole move with UnknownError).
NOT_THE_STACKS = ("__", "it.", "bench.")


async def start_at_log_end(bootstrap: str, groups: Sequence[str]) -> int:
    """Commit the end of every topic as each group's position: a bench's fresh system (new
    simulator state, flushed Redis database) starts where the broker's logs end, not behind
    an earlier bench's leftovers. Without it, the 75,000 unknown-shop webhooks the webhook
    ack bench leaves on ``webhooks.shopify.v1`` sat in front of the next bench's orders.
    Returns the number of partitions moved per group."""
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, **kafka_options(env_security()))
    await probe.start()
    try:
        cluster = await probe._client.fetch_all_metadata()  # noqa: SLF001 - all topics, fresh
        tps = [
            TopicPartition(t, p)
            for t in cluster.topics()
            if not t.startswith(NOT_THE_STACKS)
            for p in cluster.partitions_for_topic(t) or ()
        ]
        probe.assign(tps)  # the client looks up leaders only for topics it tracks
        ends = await probe.end_offsets(tps) if tps else {}
    finally:
        await stop_consumer(probe)

    async def move(group: str) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            **kafka_options(env_security()),
            group_id=group,
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            consumer.assign(list(ends))
            await consumer.commit(dict(ends))
        finally:
            await consumer.stop()

    if ends:
        await asyncio.gather(*(move(g) for g in groups))
    return len(ends)


def in_thread(coro: Any) -> Any:
    """Run ``coro`` to completion on a loop of its own (callers may be inside one)."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            out["error"] = exc

    worker = threading.Thread(target=run, name="bench-kafka")
    worker.start()
    worker.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")


def start(stack: Stack, names: list[str], sims: int = 1, plans: Sequence[str] = ()) -> None:
    """Start ``names``. The Shopify simulator retries webhooks over a minute, not 3 s, so a
    receiver slowed by a busy machine is measured as slow rather than as losing events, and
    skips validating documents against Shopify's schema (a test-time check whose CPU cost
    would be charged to whatever the bench measures). With ``sims`` > 1 it runs as one
    process per store, and the services' stores file points each store at its process."""
    stack.log_dir.mkdir(parents=True, exist_ok=True)
    stack.write_stores_file()
    for name in names:
        if name == "shopify-sim" and sims > 1:
            start_sim_fleet(stack, sims, plans)
            continue
        if name == "shopify-sim" and plans:
            raise ValueError("plans other than the stores file's need one simulator per store")
        cmd = stack.commands()[name] if name in stack.commands() else None
        if name == "shopify-sim" and cmd:
            cmd = [*cmd, *SIM_FLAGS]
        stack.start_one(name, cmd)


SIM_FLAGS = ["--webhook-retry-window", str(SIM_RETRY_WINDOW_S), "--validate", "off"]


def start_sim_fleet(stack: Stack, sims: int, plans: Sequence[str] = ()) -> None:
    """One Shopify simulator per store, each named ``sim_name(shop)`` in ``stack.procs``
    (``plans``: the stores' Shopify plans, over the stores file's; one process per store
    only)."""
    fleet = SimFleet.plan(stack.state_dir, stack.ports.shopify_sim + FLEET_PORTS, sims, plans)
    ports = {name: port for name, port, _shops in fleet.groups()}
    webhook_url = f"{stack.url('webhook-receiver')}/webhooks/shopify"
    for name, cmd in fleet_commands(fleet, webhook_url, extra=SIM_FLAGS):
        stack.start_one(name, cmd, port=ports[name])
    stack.stores_file.write_text(yaml.safe_dump(fleet.stores_doc(), sort_keys=False))


def sims_of(stack: Stack) -> Sims:
    """The running Shopify simulator: one process per store when the stack runs them so,
    else "shopify-sim" for every store."""
    names = {shop: sim_name(shop) for shop in store_gids()}
    if all(name in stack.procs for name in names.values()):
        by_shop = {shop: stack.url(name) for shop, name in names.items()}
        return Sims(next(iter(by_shop.values())), by_shop)
    return Sims(stack.url("shopify-sim"))


def sim_procs(stack: Stack) -> list[str]:
    """The names of the Shopify simulator's processes in ``stack``."""
    return [n for n in stack.procs if n == "shopify-sim" or n.startswith("shopify-sim-")]


def sample_metric(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """Sum of a Prometheus metric's samples whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, label_text = head.partition("{")
        if metric != name:
            continue
        if labels and not all(f'{k}="{v}"' in label_text for k, v in labels.items()):
            continue
        total += float(value)
    return total


def rates(samples: list[tuple[float, float]]) -> dict[str, float]:
    """From (time, counter) samples: the total increase, and its rate over the time it moved."""
    if len(samples) < 2:
        return {"total": 0.0, "per_s": 0.0, "seconds": 0.0}
    first = samples[0][1]
    moving = [t for (t, v), (_, prev) in zip(samples[1:], samples, strict=False) if v != prev]
    total = samples[-1][1] - first
    if not moving:
        return {"total": total, "per_s": 0.0, "seconds": 0.0}
    # from the last sample before the first move to the first sample after the last move
    start = max(t for t, v in samples if v == first and t < moving[0])
    seconds = moving[-1] - start
    return {"total": total, "per_s": total / seconds if seconds else 0.0, "seconds": seconds}


def wall_ms() -> float:
    return time.time() * 1000


def summary(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50": round(percentile(ordered, 50), 2),
        "p99": round(percentile(ordered, 99), 2),
        "max": round(ordered[-1], 2) if ordered else 0.0,
    }
