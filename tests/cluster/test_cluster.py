"""Broker loss on a three-broker cluster (#24), with the fault suite's oracle: a seeded order
stream while a broker is SIGKILLed and restarted, or while every broker is restarted in turn,
then quiescence and every accepted webhook applied once, truth and the stores equal to the
model. Redis is a Redis Cluster of three masters with one replica each (ADR 0029); the
happy path (the stream with no fault) checks the same oracle on it. Only correctness is
asserted; the figures (election, 503 window, catch-up, recovery) are recorded in
.work/faults/cluster-latest.json (``scripts/faults/report.py --cluster`` writes them into
docs/reliability.md).

CI runs the topic check and one broker kill (the node leading most of the receiver's
partitions; its stream runs on the Redis Cluster and meets the same oracle, so the happy path
adds nothing CI needs for its 75 s); ``CLUSTER_SET=all`` (``scripts/faults/run.sh --cluster``)
adds the happy path, the active controller's kill, the rolling restart and a Redis master's
SIGKILL (then what its failover lost is detected on its slots and rebuilt per SKU, ADR
0029)."""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from faults.cluster import (
    MIN_INSYNC,
    NODES,
    REPLICAS,
    ClusterWorld,
    accepted_between,
    all_in_sync,
    leaders_elected,
    led_by,
    most_leaderships,
    outage,
    timed,
)
from faults.harness import (
    Sender,
    judge,
    oracle_failures,
    poll,
    progress,
    redeliver_failed_wms,
    run_rebuild,
    seed,
)
from faults.kafka_view import TOPIC_OVERRIDE, dlq_records, partitions, topic_config
from faults.workload import generate

from stocksync_common.topics import WEBHOOKS_SHOPIFY

pytestmark = pytest.mark.cluster
SCALE = float(os.environ.get("FAULTS_SCALE", "1"))
FULL = os.environ.get("CLUSTER_SET", "ci") == "all"
# The stream: a delivery every PACE_S, WARMUP of them before the fault, TAIL after it ends
# (the sender stops there: the workload is sized to outlast any fault, the model counts only
# what was accepted). FAULTS_SCALE stretches both ends.
PACE_S = 0.2
WARMUP, TAIL = max(10, int(20 * SCALE)), max(10, int(20 * SCALE))
N_ORDERS = 400  # ~700 deliveries, over two minutes of stream at PACE_S
N_SKUS = 8  # ~1,200 units if all of it were sent, over 8 SKUs of 500: never out of stock


def test_every_topic_has_three_replicas_and_two_in_sync(cworld: ClusterWorld) -> None:
    """The settings alone (STOCKSYNC_TOPIC_REPLICATION_FACTOR=3,
    STOCKSYNC_TOPIC_MIN_INSYNC_REPLICAS=2) give every StockSync topic 3 replicas and
    min.insync.replicas=2 set on the topic itself; the broker's internal topics have 3."""
    parts = partitions(cworld.bootstrap)
    ours = sorted(t for t in parts if not t.startswith("__"))
    assert WEBHOOKS_SHOPIFY in ours and any(".dlq." in t for t in ours)
    thin = {t: p["replicas"] for t, ps in parts.items() for p in ps if len(p["replicas"]) < 3}
    assert not thin
    configs = topic_config(cworld.bootstrap, ours, "min.insync.replicas")
    assert {t: configs.get(t) for t in ours if configs.get(t) != ("2", TOPIC_OVERRIDE)} == {}
    assert (REPLICAS, MIN_INSYNC) == (3, 2)


Fault = Callable[[ClusterWorld, Sender], dict[str, Any]]


def kill_and_restart(pick: Callable[[ClusterWorld], int]) -> Fault:
    """SIGKILL the node ``pick`` names, wait until every partition it led has a new leader,
    restart it (the stream goes on while it starts) and wait until every replica is in
    sync."""

    def fault(w: ClusterWorld, _s: Sender) -> dict[str, Any]:
        node = pick(w)
        controller, led = w.cluster.quorum_leader(), led_by(w.bootstrap, node)
        killed_at = time.monotonic()
        pid = w.cluster.kill(node)
        elected = poll("new leaders", leaders_elected(w.bootstrap, node), 90)
        restart_s = timed(lambda: w.cluster.restart(node))
        in_sync = poll("every replica in sync", all_in_sync(w.bootstrap), 120)
        return {
            "node": node,
            "active_controller": node == controller,
            "killed_pid": pid,
            "new_pid": w.cluster.pid(node),
            "partitions_led": len(led),
            "election_s": round(elected, 2),
            "restart_s": restart_s,
            "in_sync_s": round(in_sync, 2),
            "since": killed_at,
        }

    return fault


def rolling_restart(w: ClusterWorld, s: Sender) -> dict[str, Any]:
    """Each node in turn: a controlled shutdown (SIGTERM), start, and every replica back in
    sync before the next, as an operator rolls a cluster."""
    since, steps = time.monotonic(), []
    for node in NODES:
        pid, t0 = w.cluster.pid(node), time.monotonic()
        restart_s = timed(lambda n=node: w.cluster.restart(n))  # type: ignore[misc]
        in_sync = poll("every replica in sync", all_in_sync(w.bootstrap), 120)
        steps.append(
            {
                "node": node,
                "old_pid": pid,
                "new_pid": w.cluster.pid(node),
                "restart_s": restart_s,
                "in_sync_s": round(in_sync, 2),
                "accepted_during": accepted_between(s, t0, time.monotonic()),
            }
        )
    return {"steps": steps, "since": since}


def redis_master_kill(w: ClusterWorld, _s: Sender) -> dict[str, Any]:
    """SIGKILL a Redis master under the stream, wait until its replica serves its slots,
    restart it (it rejoins as a replica). Then the runbook of ADR 0029: detect, on the failed
    master's slots, the SKUs whose state is behind their latest levels record (what
    asynchronous replication lost); if any, stop inventory-adjuster, rebuild those SKUs alone
    from Kafka, start it again. The oracle then counts anything still lost."""
    node = w.redis.masters()[0]
    slots = w.redis.slots(node)
    other = next(n for n in range(1, 7) if n != node)
    killed_at = time.monotonic()
    pid = int(w.redis.run("kill", str(node)))
    promoted = poll("a replica promoted", lambda: node not in w.redis.masters()
                    and len(w.redis.masters()) == 3 and w.redis.serving(other), 60)  # fmt: skip
    restart_s = timed(lambda: w.redis.run("restart", str(node)))
    bootstrap = ["--bootstrap", w.bootstrap]
    detected = run_rebuild(w.stack, w.redis.url, *bootstrap, "--detect", "--slots", slots)
    assert detected["rc"] == 0, detected["stderr"][-2000:]
    found = detected["report"]["detection"]
    repair: dict[str, Any] = {}
    if found["lost"]:
        w.stack.stop_one("inventory-adjuster")
        skus = ",".join(found["lost"])
        done = run_rebuild(w.stack, w.redis.url, *bootstrap, "--skus", skus)
        assert done["rc"] == 0, done["stderr"][-2000:]
        w.stack.start_one("inventory-adjuster")
        w.stack.wait_healthy(90, path="/readyz", names=("inventory-adjuster",))
        repair = {k: done["report"].get(k) for k in ("skus", "commands_replayed", "keys_remarked")}
    return {
        "node": node,
        "slots": slots,
        "killed_pid": pid,
        "new_pid": int(w.redis.run("pid", str(node))),
        "promoted_s": round(promoted, 2),
        "restart_s": restart_s,
        "detected": {"checked": found["checked"], "lost": found["lost"], "s": found["seconds"]},
        "repair": repair,
        "since": killed_at,
    }


def no_fault(_w: ClusterWorld, _s: Sender) -> dict[str, Any]:
    """The happy path: the stream goes on untouched."""
    return {"since": time.monotonic()}


@dataclass(frozen=True)
class Case:
    name: str
    fault: Fault
    ci: bool = False


CASES = [
    Case("no fault: the happy path on the Redis Cluster", no_fault),
    Case(
        "SIGKILL the broker leading most receiver partitions, restart",
        kill_and_restart(lambda w: most_leaderships(w.bootstrap, WEBHOOKS_SHOPIFY)),
        ci=True,
    ),
    Case(
        "SIGKILL the active controller, restart",
        kill_and_restart(lambda w: w.cluster.quorum_leader() or NODES[0]),
    ),
    Case("rolling restart of the three brokers", rolling_restart),
    Case("SIGKILL a Redis master, its replica takes over, restart", redis_master_kill),
]
if not FULL:
    CASES = [c for c in CASES if c.ci]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_broker_loss_loses_nothing_and_applies_nothing_twice(
    cworld: ClusterWorld, case: Case
) -> None:
    w = cworld
    wl = generate(zlib.crc32(case.name.encode()), N_ORDERS, n_skus=N_SKUS, n_receipts=4)
    with httpx.Client(timeout=10) as http:
        seed(http, w.stack, wl.skus)
        dlq_before = len(dlq_records(w.bootstrap))
        sender = Sender(w.stack, wl, pace_s=PACE_S)
        sender.start()
        poll("the warm-up sent", progress(sender, WARMUP / len(wl.deliveries)), 120)
        load = os.getloadavg()[0]  # the machine is shared: the figures depend on it
        fired = case.fault(w, sender)
        healed_at = time.monotonic()
        sender.until = sender.sent + TAIL
        assert sender.until < len(wl.deliveries), "the stream ended before the fault did"
        sender.join(240)
        wms_redelivered = redeliver_failed_wms(http, w.stack)
        outcome = judge(
            case.name, http, w.stack, w.bootstrap, sender, healed_at,
            fired={"injected": fired, "healed": {}}, dlq_before=dlq_before, quiesce_s=120,
        )  # fmt: skip
    since = fired.pop("since")
    outcome.detail["outage"] = outage(sender, since, healed_at)
    outcome.detail["wms_redelivered"] = wms_redelivered
    outcome.detail["load_avg_1m"] = round(load, 1)
    w.results.append(outcome.to_json())
    assert not fired or fired.get("new_pid") != fired.get("killed_pid") or "steps" in fired, fired
    assert not (found := oracle_failures(outcome, sender)), found
