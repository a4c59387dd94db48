#!/usr/bin/env bash
# The whole system on this machine: Kafka, Redis, the simulators and all six services.
# Runs a short scenario that shows an order flowing through every service, then stays up
# until Ctrl-C, and stops everything it started.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
export PATH="$HOME/.local/bin:$PATH"

"$REPO/scripts/setup.sh"
export STOCKSYNC_STATE_DIR="${STOCKSYNC_STATE_DIR:-$REPO/.work/local}"
export KAFKA_PORT="${KAFKA_PORT:-9092}" KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
export REDIS_PORT="${REDIS_PORT:-6379}"

cleanup() {
  "$REPO/scripts/infra/kafka.sh" stop || true
  "$REPO/scripts/infra/redis.sh" stop || true
}
trap cleanup EXIT
"$REPO/scripts/infra/redis.sh" start
"$REPO/scripts/infra/kafka.sh" start
uv run --frozen python scripts/run_local.py "$@"
