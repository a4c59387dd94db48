"""The cluster suite's world (tests/cluster): a three-node Kafka cluster of its own
(``scripts/infra/kafka-cluster.sh``), a Redis Cluster of its own (three masters with one
replica each, ``scripts/infra/redis-cluster.sh``; docs/decisions/0029-redis-cluster.md), and the
whole stack on them with every topic at 3 replicas and ``min.insync.replicas=2`` through the
settings (as production runs it), plus what the cluster's faults need: kill and restart a
node, and the partitions' leaders and in-sync replicas to tell when an election or a
catch-up is done.

Ports: the cluster's six from ``kafka_port`` (clients ``kafka_port`` + 0..2, controllers + 3..5),
the stack's from ``base`` + 10 (as the fault suite's world).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from redis import Redis
from redis.crc import key_slot

from faults.harness import Sender
from faults.kafka_view import partitions
from faults.procs import alive
from faults.world import running
from stack import Ports, Stack

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "infra" / "kafka-cluster.sh"
REDIS_SCRIPT = ROOT / "scripts" / "infra" / "redis-cluster.sh"
NODES = (1, 2, 3)
REPLICAS, MIN_INSYNC = 3, 2


@dataclasses.dataclass
class Cluster:
    """The three nodes, driven through kafka-cluster.sh with their own ports and state."""

    port: int  # node N's client port is port + N - 1
    state_dir: Path

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "KAFKA_CLUSTER_PORT": str(self.port),
                "STOCKSYNC_STATE_DIR": str(self.state_dir),
                # A start on a loaded machine can take minutes; failing it breaks the run.
                "KAFKA_START_TIMEOUT": os.environ.get("KAFKA_START_TIMEOUT", "300"),
            }
        )
        env.pop("KAFKA_CLUSTER_CONTROLLER_PORT", None)  # derived from the port: ours alone
        return env

    def run(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603 - our own infra script, fixed argv
            [str(SCRIPT), *args],
            env=self.env(), check=True, timeout=420, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        return done.stdout.strip()

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.port + n - 1}" for n in NODES)

    def pid(self, node: int) -> int | None:
        path = self.state_dir / "kafka-cluster" / str(node) / "kafka" / "kafka.pid"
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return None

    def kill(self, node: int) -> int:
        """SIGKILL the node (no controlled shutdown); returns its pid once it is gone."""
        return int(self.run("kill", str(node)))

    def restart(self, node: int) -> None:
        """Stop the node (SIGTERM: a controlled shutdown when it runs) and start it again."""
        self.run("restart", str(node))

    def quorum_leader(self) -> int | None:
        """The active controller (the KRaft quorum's leader) as the nodes last wrote it."""
        seen: list[tuple[int, int]] = []
        for node in NODES:
            path = self.state_dir / "kafka-cluster" / str(node) / "kafka" / "data"
            try:
                doc = json.loads((path / "__cluster_metadata-0" / "quorum-state").read_text())
            except (OSError, ValueError):
                continue
            if doc.get("leaderId", -1) >= 0:
                seen.append((int(doc.get("leaderEpoch", -1)), int(doc["leaderId"])))
        return max(seen)[1] if seen else None


@dataclasses.dataclass
class RedisCluster:
    """Three Redis masters with one replica each, driven through redis-cluster.sh with their
    own ports (node N on ``port + N - 1``) and state."""

    port: int
    state_dir: Path

    def run(self, *args: str, check: bool = True) -> str:
        env = dict(os.environ)
        env.update(
            {"REDIS_CLUSTER_PORT": str(self.port), "STOCKSYNC_STATE_DIR": str(self.state_dir)}
        )
        done = subprocess.run(  # noqa: S603 - our own infra script, fixed argv
            [str(REDIS_SCRIPT), *args],
            env=env, check=check, timeout=120, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        return done.stdout.strip() if done.returncode == 0 else ""

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """A fresh cluster: whatever ran from this state directory stopped, its data gone."""
        self.run("stop")
        shutil.rmtree(self.state_dir / "redis-cluster", ignore_errors=True)
        self.run("start")

    def masters(self) -> list[int]:
        """The running masters, by node number."""
        return [int(p) - self.port + 1 for p in self.run("masters").split()]

    def slots(self, node: int) -> str:
        """The hash slots node ``node`` serves, as ``--slots`` takes them ("0-5460,...")."""
        return self.run("slots", str(node))

    def serving(self, via: int) -> bool:
        """Whether node ``via`` says every slot is served (``cluster_state:ok``)."""
        return self.run("ok", str(via), check=False) == "ok"

    def replica_of(self, node: int) -> int | None:
        """Master ``node``'s replica, by node number (None when it has none)."""
        port = self.run("replica", str(node), check=False)
        return int(port) - self.port + 1 if port else None

    def pause(self, node: int) -> int:
        """SIGSTOP the node: it keeps its connections and reads nothing; returns its pid."""
        return int(self.run("pause", str(node)))

    def resume(self, node: int) -> None:
        """SIGCONT the node."""
        self.run("resume", str(node))

    def client(self, node: int) -> Redis:
        """A plain client of node ``node`` alone (no redirects followed)."""
        return Redis(host="127.0.0.1", port=self.port + node - 1, socket_timeout=10)


def replica_link(master: Redis) -> dict[str, Any]:
    """The master's view of its replica (``INFO replication``'s ``slave0``: state, offset)."""
    link = master.info("replication").get("slave0")
    return link if isinstance(link, dict) else {}


def repl_offset(master: Redis) -> int:
    """How far the master's replication stream has gone (bytes)."""
    return int(master.info("replication")["master_repl_offset"])


def unsent_to_replica(master: Redis) -> int:
    """Bytes of the replication stream the master holds for its replica and has not yet
    written to the replica's socket (``CLIENT LIST``'s ``omem`` of the replica connection)."""
    return sum(int(c["omem"]) for c in master.client_list(_type="replica"))


def key_in(slots: Collection[int], prefix: str) -> str:
    """A key whose hash slot is one of ``slots`` (a hash tag tried in turn)."""
    for i in range(100_000):
        key = f"{prefix}{{{i}}}"
        if key_slot(key.encode()) in slots:
            return key
    raise ValueError("no key found in those slots")


@dataclasses.dataclass
class ClusterWorld:
    cluster: Cluster
    stack: Stack
    redis: RedisCluster
    results: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return self.cluster.bootstrap


@contextmanager
def open_cluster_world(
    state: Path, base: int, kafka_port: int, redis_port: int
) -> Iterator[ClusterWorld]:
    """The Kafka cluster, a fresh Redis Cluster (nodes on ``redis_port`` + 0..5) and the stack
    started, stopped at the end."""
    shutil.rmtree(state, ignore_errors=True)
    (state / "stack").mkdir(parents=True)
    cluster = Cluster(kafka_port, state)
    rcluster = RedisCluster(redis_port, state.with_name(state.name + "-redis"))
    redis_url = rcluster.url
    ports = dataclasses.replace(
        Ports().shifted(base + 10 - 8080), kafka=kafka_port, redis=redis_port
    )
    stack = Stack(ports, state / "stack")
    stack.extra_env.update(
        {
            "STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap,
            "STOCKSYNC_REDIS_URL": redis_url,
            # 3 partitions (the fault suite's world has 6): each node leads one of every
            # topic, and a restarting node has half as many to recover
            "STOCKSYNC_TOPIC_PARTITIONS": "3",
            "STOCKSYNC_TOPIC_REPLICATION_FACTOR": str(REPLICAS),
            "STOCKSYNC_TOPIC_MIN_INSYNC_REPLICAS": str(MIN_INSYNC),
        }
    )
    try:
        rcluster.start()
        cluster.run("start")
        with running(stack):
            yield ClusterWorld(cluster, stack, rcluster)
    finally:
        rcluster.run("stop")
        # Killed, not stopped: the next run starts from an empty state directory, and a
        # stop of all would wait for controlled shutdowns that cannot finish.
        for node in NODES:
            pid = cluster.pid(node)
            if pid is not None and alive(pid):
                cluster.kill(node)
        cluster.run("stop")


def most_leaderships(bootstrap: str, topic: str) -> int:
    """The node leading the most partitions of ``topic``."""
    leaders = Counter(p["leader"] for p in partitions(bootstrap)[topic])
    return int(leaders.most_common(1)[0][0])


def led_by(bootstrap: str, node: int) -> list[str]:
    """``topic:partition`` of every partition ``node`` leads (internal topics included)."""
    return [
        f"{topic}:{p['partition']}"
        for topic, parts in partitions(bootstrap).items()
        for p in parts
        if p["leader"] == node
    ]


def leaders_elected(bootstrap: str, down: int) -> Callable[[], bool]:
    """True once every partition has a leader other than the node ``down``."""

    def check() -> bool:
        try:
            parts = partitions(bootstrap)
        except Exception:  # noqa: BLE001 - the metadata may be in flux
            return False
        return all(p["leader"] not in (-1, down) for ps in parts.values() for p in ps)

    return check


def all_in_sync(bootstrap: str) -> Callable[[], bool]:
    """True once every partition's replicas are all in sync again (none under-replicated)."""

    def check() -> bool:
        try:
            parts = partitions(bootstrap)
        except Exception:  # noqa: BLE001 - the metadata may be in flux
            return False
        return all(set(p["isr"]) == set(p["replicas"]) for ps in parts.values() for p in ps)

    return check


def accepted_between(sender: Sender, since: float, until: float) -> int:
    """Deliveries the sender had accepted between two ``time.monotonic()`` marks."""
    return sum(1 for t in sender.accepted_at if since <= t <= until)


def outage(sender: Sender, since: float, until: float) -> dict[str, Any]:
    """How the webhook sender saw the fault from ``since`` to ``until`` (monotonic): the
    deliveries accepted meanwhile, its refused or failed attempts (by reason) from ``since``
    on, the first and last of them and the window from the first until the first delivery
    accepted after the last (None when nothing failed)."""
    during = accepted_between(sender, since, until)
    failed = [(t, why) for t, why in sender.failures if t >= since]
    if not failed:
        return {"accepted_during": during, "refused": 0, "reasons": {}, "window_s": None}
    first, last = failed[0][0], failed[-1][0]
    back = next((t for t in sender.accepted_at if t > last), None)
    return {
        "accepted_during": during,
        "refused": len(failed),
        "reasons": dict(Counter(why for _, why in failed)),
        "first_s": round(first - since, 2),
        "last_s": round(last - since, 2),
        "window_s": round((back or last) - first, 2),
    }


def timed(fn: Callable[[], object]) -> float:
    """Seconds ``fn`` took."""
    t0 = time.monotonic()
    fn()
    return round(time.monotonic() - t0, 2)
