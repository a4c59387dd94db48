#!/usr/bin/env bash
# Local redis-server with AOF persistence (no Docker).
#
#   redis.sh start    install redis-server if missing, start daemonized, wait for PONG
#   redis.sh stop     SHUTDOWN via redis-cli (AOF keeps the data), wait for the pid to exit
#   redis.sh status   exit 0 if running and answering PONG, 1 otherwise
#
# Env: REDIS_PORT (6379), STOCKSYNC_STATE_DIR ($REPO/.work/local), REDIS_START_TIMEOUT (30 s).
# State: $STOCKSYNC_STATE_DIR/redis/{appendonlydir/,redis.pid,redis.log}
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
STATE_DIR="${STOCKSYNC_STATE_DIR:-$REPO/.work/local}"
RSTATE="$STATE_DIR/redis"
PID_FILE="$RSTATE/redis.pid"
LOG_FILE="$RSTATE/redis.log"

REDIS_PORT="${REDIS_PORT:-6379}"
START_TIMEOUT="${REDIS_START_TIMEOUT:-30}"
STOP_TIMEOUT=30

log() { echo "redis.sh: $*" >&2; }
die() { echo "redis.sh: ERROR: $*" >&2; exit 1; }

ensure_installed() {
  if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
    return 0
  fi
  local sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "redis-server is missing; install the Debian package redis-server (needs root or sudo)"
    sudo=(sudo)
  fi
  command -v apt-get >/dev/null 2>&1 || die "redis-server is missing and apt-get is not available; install Redis 7 yourself"
  log "redis-server not found; installing the Debian package redis-server ..."
  # Keep the package's system service from starting (it would take port 6379):
  # a temporary policy-rc.d, unless the machine already has one.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    own_policy=1
  fi
  local rc=0
  "${sudo[@]}" apt-get update -q >&2 || rc=$?
  if ((rc == 0)); then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >&2 || rc=$?
  fi
  if ((own_policy)); then "${sudo[@]}" rm -f "$policy"; fi
  ((rc == 0)) || die "apt-get failed to install redis-server (exit $rc)"
  command -v redis-server >/dev/null 2>&1 || die "redis-server still missing after apt-get install"
}

cli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

pong() { [[ "$(cli ping 2>/dev/null)" == "PONG" ]]; }

# Alive and not a zombie: orphans are reparented to pid 1, which may reap them late.
alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)"
  [[ -n "$state" && "$state" != Z ]]
}

# Is the pid in our pid file alive and a redis-server on our port?
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid cmd
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  # Guard against pid reuse: redis-server retitles itself "redis-server 127.0.0.1:<port>".
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmd" =~ redis-server.*:${REDIS_PORT}( |$) ]] || return 1
  echo "$pid"
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

wait_ready() {
  local deadline=$((SECONDS + START_TIMEOUT)) pid
  while :; do
    if pong; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      [[ -s "$LOG_FILE" ]] && tail -n 20 "$LOG_FILE" >&2
      die "redis did not answer PONG on 127.0.0.1:$REDIS_PORT within ${START_TIMEOUT} s"
    fi
    # pid file appears once daemonized; if it is there and the process is gone, stop waiting.
    if [[ -s "$PID_FILE" ]]; then
      pid="$(cat "$PID_FILE")"
      if ! alive "$pid"; then
        [[ -s "$LOG_FILE" ]] && tail -n 20 "$LOG_FILE" >&2
        die "redis-server (pid $pid) exited during startup"
      fi
    fi
    sleep 0.1
  done
}

cmd_start() {
  local pid t0=$SECONDS
  if pid="$(running_pid)"; then
    wait_ready
    log "already running (pid $pid, 127.0.0.1:$REDIS_PORT)"
    return 0
  fi
  if port_open "$REDIS_PORT"; then
    die "port $REDIS_PORT is already in use by another process (a system redis-server service? set REDIS_PORT)"
  fi
  ensure_installed
  mkdir -p "$RSTATE"
  rm -f "$PID_FILE"
  log "starting redis-server on 127.0.0.1:$REDIS_PORT (AOF, state in $RSTATE)"
  if ! redis-server --daemonize yes \
      --port "$REDIS_PORT" --bind 127.0.0.1 \
      --appendonly yes --appendfsync everysec --save '' \
      --dir "$RSTATE" --pidfile "$PID_FILE" --logfile "$LOG_FILE"; then
    [[ -s "$LOG_FILE" ]] && tail -n 20 "$LOG_FILE" >&2
    die "redis-server failed to start"
  fi
  wait_ready
  log "ready in $((SECONDS - t0)) s (pid $(cat "$PID_FILE" 2>/dev/null || echo '?'), 127.0.0.1:$REDIS_PORT)"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping pid $pid ..."
  # SHUTDOWN flushes the AOF; the connection closing is expected, so ignore the exit code.
  cli shutdown >/dev/null 2>&1 || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while alive "$pid"; do
    if ((SECONDS >= deadline)); then
      log "still alive after ${STOP_TIMEOUT} s; sending SIGTERM, then SIGKILL"
      kill -TERM "$pid" 2>/dev/null || true
      sleep 5
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  local pid
  if pid="$(running_pid)" && pong; then
    log "running (pid $pid, 127.0.0.1:$REDIS_PORT, state $RSTATE)"
    return 0
  fi
  log "not running (127.0.0.1:$REDIS_PORT, state $RSTATE)"
  return 1
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
