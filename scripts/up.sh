#!/usr/bin/env bash
# The whole system on this machine: Kafka, Redis, the simulators and all six services.
# Runs a short scenario that shows an order flowing through every service, then stays up
# (restarting a service that exits) until Ctrl-C, SIGTERM or SIGHUP, and stops everything
# it started: also when its output is piped (`| tee up.log`: the same Ctrl-C kills tee) or
# it runs in the background.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
export PATH="$HOME/.local/bin:$PATH"

"$REPO/scripts/setup.sh"
export STOCKSYNC_STATE_DIR="${STOCKSYNC_STATE_DIR:-$REPO/.work/local}"
export KAFKA_PORT="${KAFKA_PORT:-9092}" KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
export REDIS_PORT="${REDIS_PORT:-6379}"
mkdir -p "$STOCKSYNC_STATE_DIR"

run=""
cleanup() {
  # Quietly into a file: stdout may be a pipe whose reader is gone, and a write to it
  # must not end this function before Kafka and Redis are stopped.
  trap '' INT TERM HUP PIPE
  if [ -n "$run" ]; then
    kill -TERM "$run" 2>/dev/null || true
    wait "$run" 2>/dev/null || true
  fi
  {
    "$REPO/scripts/infra/kafka.sh" stop || true
    "$REPO/scripts/infra/redis.sh" stop || true
  } >>"$STOCKSYNC_STATE_DIR/stop.log" 2>&1
}
trap cleanup EXIT
# A signal to this shell goes to the run too; the run stops the services, then the EXIT
# trap stops Kafka and Redis.
trap 'kill -TERM "$run" 2>/dev/null || true' INT TERM HUP
"$REPO/scripts/infra/redis.sh" start
"$REPO/scripts/infra/kafka.sh" start
# In the background and waited for: a trapped signal interrupts `wait` at once, where a
# foreground child would delay the trap until it ended by itself.
"$REPO/.venv/bin/python" scripts/run_local.py "$@" &
run=$!
status=0
while :; do
  wait "$run" && status=0 || status=$?
  kill -0 "$run" 2>/dev/null || break  # interrupted by a trap while it still runs: wait on
done
run=""
exit "$status"
