#!/usr/bin/env bash
# Set everything up and run every check: ruff, mypy (strict), and the tests (unit,
# integration and end to end) against a real Kafka broker and a real Redis that this script
# starts on their own ports and state directory, and stops at the end. The bounded fault and
# cluster suites (tests/faults, tests/cluster) start their own broker or three-broker cluster;
# FAULTS_SET=all and CLUSTER_SET=all run every case (scripts/faults/run.sh [--cluster]).
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -k hmac).
# STOCKSYNC_TEST_REDIS_CLUSTER=1: the Redis-facing tests run on a local Redis Cluster (three
# masters, one replica each: scripts/infra/redis-cluster.sh, base port REDIS_CLUSTER_PORT,
# 16381) instead of the single Redis; tests of what only one Redis runs (kit.lua itself: a
# cluster runs kits in phases) and the benches' own tests but the knee's (a bench of one
# Redis: tests/support/infra.py one_redis_bench) are skipped there (docs/decisions/0029, 0034).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
export PATH="$HOME/.local/bin:$PATH"

"$REPO/scripts/setup.sh"

export STOCKSYNC_STATE_DIR="$REPO/.work/test"
export KAFKA_PORT=19092 KAFKA_CONTROLLER_PORT=19093 REDIS_PORT=16379
export STOCKSYNC_TEST_KAFKA="127.0.0.1:$KAFKA_PORT" STOCKSYNC_TEST_REDIS="redis://127.0.0.1:$REDIS_PORT/0"
export STOCKSYNC_TEST_STATE_DIR="$STOCKSYNC_STATE_DIR"
REDIS_CLUSTER="${STOCKSYNC_TEST_REDIS_CLUSTER:-0}"
export REDIS_CLUSTER_PORT="${REDIS_CLUSTER_PORT:-16381}"

echo "[test] ruff (${SECONDS} s in)" >&2
uv run --frozen ruff check .
uv run --frozen ruff format --check .
echo "[test] mypy --strict (${SECONDS} s in)" >&2
uv run --frozen mypy libs/common/src services/*/src simulators/src scripts tests bench deploy/k8s/generate_topics.py

cleanup() {
  "$REPO/scripts/infra/kafka.sh" stop || true
  "$REPO/scripts/infra/redis.sh" stop || true
  if [[ "$REDIS_CLUSTER" == 1 ]]; then "$REPO/scripts/infra/redis-cluster.sh" stop || true; fi
}
trap cleanup EXIT
# A clean slate each run: the tests own this state directory.
"$REPO/scripts/infra/kafka.sh" stop >/dev/null 2>&1 || true
"$REPO/scripts/infra/redis.sh" stop >/dev/null 2>&1 || true
"$REPO/scripts/infra/redis-cluster.sh" stop >/dev/null 2>&1 || true
rm -rf "$STOCKSYNC_STATE_DIR"
"$REPO/scripts/infra/redis.sh" start
"$REPO/scripts/infra/kafka.sh" start
if [[ "$REDIS_CLUSTER" == 1 ]]; then
  "$REPO/scripts/infra/redis-cluster.sh" start
  STOCKSYNC_TEST_REDIS="$("$REPO/scripts/infra/redis-cluster.sh" url)"
  echo "[test] Redis Cluster: $STOCKSYNC_TEST_REDIS" >&2
fi

echo "[test] pytest (${SECONDS} s in)" >&2
# the slowest tests listed at the end: where a CI run's minutes go
uv run --frozen pytest --durations=30 "$@"
