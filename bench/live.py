"""The running system for the live benches (flash sale, knee, DLQ recovery).

Kafka and Redis are given (``--bootstrap``, ``--redis-url``); the simulators and the six
services run as processes through ``scripts/stack.py`` on ports shifted by
``--port-offset``, with a Redis database of the bench's own (flushed first, never 0).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import yaml
from redis import Redis

from bench.report import ROOT, percentile, with_db

sys.path.insert(0, str(ROOT / "scripts"))
from stack import EXAMPLE_STORES, SERVICES, Ports, Stack  # noqa: E402

__all__ = ["Stack"]

ADMIN = {"Authorization": "Bearer dev-admin-token"}  # scripts/stack.py DEMO_ENV
LOCATION = "wh-1"
QUIET_LOG = {"STOCKSYNC_LOG_LEVEL": "WARNING"}
SIM_RETRY_WINDOW_S = 60
# The simulators and the six services of the architecture (not the operator tools).
SYSTEM = [
    "shopify-sim", "sink", "webhook-receiver", "order-consumer", "inventory-adjuster",
    "shopify-sync", "wms-connector", "notifier",
]  # fmt: skip


@dataclass(frozen=True)
class Infra:
    bootstrap: str = "127.0.0.1:9092"
    redis_url: str = "redis://127.0.0.1:6379"
    port_offset: int = 30000


def add_infra_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap", default=Infra.bootstrap, help="Kafka host:port")
    parser.add_argument("--redis-url", default=Infra.redis_url)
    parser.add_argument(
        "--port-offset",
        type=int,
        default=Infra.port_offset,
        help="added to the local ports 8080-8092 of services and simulators",
    )


def infra_of(args: argparse.Namespace) -> Infra:
    return Infra(args.bootstrap, args.redis_url, args.port_offset)


def store_gids() -> dict[str, str]:
    """Shop -> the Shopify location gid of the one internal location, from the example file."""
    doc = yaml.safe_load(EXAMPLE_STORES.read_text())
    return {s["shop"]: s["locations"][LOCATION] for s in doc["stores"]}


def _port(host_port: str) -> int:
    return int(host_port.rsplit(":", 1)[1].split("/", 1)[0])


@contextmanager
def running_stack(
    infra: Infra,
    name: str,
    redis_db: int,
    names: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """Start the simulators and services (or only ``names``); stop them all afterwards."""
    if redis_db == 0:
        raise ValueError("the benches never use Redis database 0")
    redis_url = with_db(infra.redis_url, redis_db)
    with Redis.from_url(redis_url) as r:
        r.flushdb()
    ports = dataclasses.replace(
        Ports().shifted(infra.port_offset),
        kafka=_port(infra.bootstrap),
        redis=_port(infra.redis_url.split("//", 1)[1]),
    )
    env = {"STOCKSYNC_REDIS_URL": redis_url, **QUIET_LOG, **(extra_env or {})}
    stack = Stack(ports, ROOT / ".work" / "bench" / name, extra_env=env)
    stack.state_dir.mkdir(parents=True, exist_ok=True)
    stack.create_topics()
    start(stack, names or SYSTEM)
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


def start(stack: Stack, names: list[str]) -> None:
    """Start ``names``. The Shopify simulator retries webhooks over a minute, not 3 s, so a
    receiver slowed by a busy machine is measured as slow rather than as losing events, and
    skips validating documents against Shopify's schema (a test-time check whose CPU cost
    would be charged to whatever the bench measures)."""
    stack.log_dir.mkdir(parents=True, exist_ok=True)
    stack.write_stores_file()
    for name in names:
        cmd = stack.commands()[name] if name in stack.commands() else None
        if name == "shopify-sim" and cmd:
            cmd = [*cmd, "--webhook-retry-window", str(SIM_RETRY_WINDOW_S), "--validate", "off"]
        stack.start_one(name, cmd)


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
