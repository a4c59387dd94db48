"""The cluster suite's session: a three-node Kafka cluster of its own, a Redis Cluster of its
own (three masters, one replica each; ADR 0029), and the whole stack on them (faults.cluster),
for this package only (stopped before the fault suite starts its world)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults.cluster import ClusterWorld, open_cluster_world
from faults.world import write_results

from support.directory_scope import closed_after
from support.infra import PORT_SHIFT

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cworld() -> Iterator[ClusterWorld]:
    # below the ephemeral port range (32768-60999 here): a port in it, or a cluster bus at
    # port + 10000, can be held by any outgoing connection (33302's bus once was, in CI)
    base = 22100 + PORT_SHIFT
    # the cluster's six ports from one (clients + 0..2, controllers + 3..5)
    kafka_port = int(os.environ.get("STOCKSYNC_TEST_CLUSTER_PORT", str(base)))
    state = Path(os.environ.get("STOCKSYNC_TEST_STATE_DIR") or ROOT / ".work" / "test")
    # the Redis Cluster's six nodes (their cluster buses on + 10000)
    redis_port = int(os.environ.get("STOCKSYNC_TEST_CLUSTER_REDIS_PORT", str(base + 200)))
    # closed after the last cluster test, not at the session's end
    with closed_after(Path(__file__).parent) as exits:
        w = exits.enter_context(open_cluster_world(state / "cluster", base, kafka_port, redis_port))

        @exits.callback
        def results() -> None:  # before the world closes (an exit stack unwinds backwards)
            if w.results:
                write_results(w.results, float(os.environ.get("FAULTS_SCALE", "1")), "cluster")

        yield w
