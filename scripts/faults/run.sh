#!/usr/bin/env bash
# Run the fault suite on its own: it starts its own Kafka broker, redis-server, fault proxy
# and stack (ports 32100-32126 plus STOCKSYNC_TEST_PORT_SHIFT), then writes the figures to
# .work/faults/latest.json. FAULTS_SCALE multiplies the workload (here 3: 30 orders per
# fault; 1 in CI); FAULTS_SET=ci runs only the bounded subset scripts/test.sh runs (default
# here: all). Extra args go to pytest.
#   scripts/faults/run.sh && python scripts/faults/report.py   # refresh docs/reliability.md
# --cluster runs tests/cluster instead, every case (CLUSTER_SET=all; ci: the happy path and
# the one broker kill scripts/test.sh runs): its own three-broker cluster (ports 22100-22105,
# or from STOCKSYNC_TEST_CLUSTER_PORT), its own Redis Cluster (22300-22305, or from
# STOCKSYNC_TEST_CLUSTER_REDIS_PORT; ADR 0029) and stack (22110-22122),
# figures in .work/faults/cluster-latest.json, FAULTS_SCALE 1 here.
#   scripts/faults/run.sh --cluster && python scripts/faults/report.py --cluster
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"
export PATH="$HOME/.local/bin:$PATH"
if [[ "${1:-}" == --cluster ]]; then
  shift
  export CLUSTER_SET="${CLUSTER_SET:-all}"
  if [[ -z "${STOCKSYNC_TEST_REDIS:-}" ]]; then  # the tests' Redis, started when it is not
    export REDIS_PORT="${REDIS_PORT:-16379}" STOCKSYNC_STATE_DIR="${STOCKSYNC_STATE_DIR:-$REPO/.work/test}"
    scripts/infra/redis.sh start
    # stopped when the run ends: left on 16379 it would keep scripts/test.sh from starting
    trap 'scripts/infra/redis.sh stop >/dev/null 2>&1 || true' EXIT
    export STOCKSYNC_TEST_REDIS="redis://127.0.0.1:$REDIS_PORT/0"
  fi
  uv run --frozen pytest tests/cluster -m cluster "$@"
  exit
fi
export FAULTS_SET="${FAULTS_SET:-all}"
export FAULTS_SCALE="${FAULTS_SCALE:-3}"
exec uv run --frozen pytest tests/faults -m faults "$@"
