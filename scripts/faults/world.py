"""The fault suite's own world: a Kafka broker and a redis-server it may kill, the fault
proxy in front of Kafka, Redis and the Shopify simulator, and the whole stack behind it.

Ports: 32100-32126 plus ``port_shift``; nothing here touches another run's instances.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from faults.procs import Infra, ProxyClient, start_proxy
from stack import SERVICES, Ports, Stack
from stocksync_common.consumer import FAULTS_HOLD_ENV

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = ROOT / ".work" / "faults"


@dataclasses.dataclass
class World:
    infra: Infra
    stack: Stack
    proxy: ProxyClient
    proxy_proc: subprocess.Popen[bytes]
    base: int
    results: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.infra.kafka_port}"  # the oracle's reads bypass the proxy

    @property
    def hold_dir(self) -> Path:
        """Where a fault asks a consumer group to hold its fetched records before handling
        (``<group>.hold``; see ``stocksync_common.consumer``)."""
        return self.infra.state_dir / "holds"

    @property
    def extra_port(self) -> int:
        """First port for second instances of consumers (rebalances)."""
        return self.base + 25


def write_results(results: list[dict[str, Any]], scale: float, name: str = "") -> Path:
    """The run's figures as ``[<name>-]latest.json`` (and a dated copy) in RESULTS_DIR."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    doc = {
        "run_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scale": scale,
        "machine": {"cpus": os.cpu_count(), "uname": " ".join(os.uname())},
        "faults": results,
    }
    text = json.dumps(doc, indent=2)
    (RESULTS_DIR / f"{name or 'results'}-{int(time.time())}.json").write_text(text)
    latest = RESULTS_DIR / f"{name}{'-' if name else ''}latest.json"
    latest.write_text(text)
    return latest


@contextmanager
def open_world(state: Path, port_shift: int) -> Iterator[World]:
    base = 32100 + port_shift
    kafka, kafka_ctl, redis, control = base, base + 1, base + 2, base + 3
    via = {"kafka": base + 4, "redis": base + 5, "shopify-sim": base + 6, "wms-sim": base + 7}
    shutil.rmtree(state, ignore_errors=True)
    (state / "stack").mkdir(parents=True)
    infra = Infra(kafka, kafka_ctl, redis, state, kafka_advertised_port=via["kafka"])
    ports = dataclasses.replace(Ports().shifted(base + 10 - 8080), kafka=kafka, redis=redis)
    routes = {
        "kafka": (via["kafka"], kafka),
        "redis": (via["redis"], redis),
        "shopify-sim": (via["shopify-sim"], ports.shopify_sim),
        "wms-sim": (via["wms-sim"], ports.wms_sim),
    }
    proxy_proc = start_proxy(control, routes, state / "proxy.log")
    stack = Stack(ports, state / "stack", via=via)
    stack.extra_env["STOCKSYNC_TOPIC_PARTITIONS"] = "6"
    stack.extra_env["STOCKSYNC_WMS_URL"] = f"http://127.0.0.1:{via['wms-sim']}"
    (state / "holds").mkdir()
    stack.extra_env[FAULTS_HOLD_ENV] = str(state / "holds")  # World.hold_dir
    try:
        infra.run("redis", "start")
        infra.run("kafka", "start")
        with running(stack):
            yield World(infra, stack, ProxyClient(f"http://127.0.0.1:{control}"), proxy_proc, base)
    finally:
        proxy_proc.terminate()
        proxy_proc.wait(10)
        infra.run("kafka", "stop")
        infra.run("redis", "stop")


@contextmanager
def running(stack: Stack) -> Iterator[Stack]:
    """The topics created, every process of ``stack`` started and ready; stopped at the
    end. A failure on the way (or in the body) prints the end of every process's log."""
    try:
        stack.create_topics()
        stack.start()
        stack.wait_healthy(120)
        stack.wait_healthy(90, path="/readyz", names=SERVICES)
        yield stack
    except BaseException:
        for name in stack.procs:
            print(f"--- {name} ---\n{stack.tail(name)}")  # noqa: T201 - shown on failure
        raise
    finally:
        stack.stop()
