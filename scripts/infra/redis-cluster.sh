#!/usr/bin/env bash
# A local Redis Cluster: three masters with one replica each on 127.0.0.1, every node a
# `redis-server --cluster-enabled yes` with AOF on, joined once by
# `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes` (ADR 0029).
#
#   redis-cluster.sh start        start the nodes that are not running, create the cluster on
#                                 the first start (later starts rejoin from nodes.conf), wait
#                                 until every slot is served (cluster_state:ok)
#   redis-cluster.sh stop [N]     SHUTDOWN node N (the AOF keeps its data); without N every node
#   redis-cluster.sh kill N       SIGKILL node N (a crash: what it had not replicated is lost);
#                                 prints its pid
#   redis-cluster.sh restart N    stop node N, start it again, wait until the cluster is ok
#   redis-cluster.sh pause N      SIGSTOP node N (it holds its connections but reads nothing:
#                                 a replica so paused acknowledges nothing more); prints its pid
#   redis-cluster.sh resume N     SIGCONT node N
#   redis-cluster.sh status       exit 0 when every node runs and the cluster state is ok
#   redis-cluster.sh url          print the services' URL (redis+cluster://127.0.0.1:<first>/0)
#   redis-cluster.sh pid N        print node N's pid (exit 1 when it is not running)
#   redis-cluster.sh masters      print the master nodes' ports, one a line
#   redis-cluster.sh ok N         print "ok" and exit 0 when node N says every slot is served
#   redis-cluster.sh slots N      print the slot ranges node N serves ("0-5460,..."), as
#                                 stocksync-inventory-rebuild --slots takes them
#   redis-cluster.sh replica N    print the port of master N's replica (exit 1 when it has none)
#
# Env: REDIS_CLUSTER_PORT (7001): node N (1-6) listens on REDIS_CLUSTER_PORT+N-1 (its cluster
#      bus on that port + 10000); STOCKSYNC_STATE_DIR ($REPO/.work/local),
#      REDIS_START_TIMEOUT (30 s). Plaintext only (the TLS/ACL set-up is redis.sh's).
# State: $STOCKSYNC_STATE_DIR/redis-cluster/N/{appendonlydir/,nodes.conf,redis.pid,redis.log}
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
STATE_DIR="${STOCKSYNC_STATE_DIR:-$REPO/.work/local}"
CSTATE="$STATE_DIR/redis-cluster"
NODES=(1 2 3 4 5 6)
BASE_PORT="${REDIS_CLUSTER_PORT:-7001}"
START_TIMEOUT="${REDIS_START_TIMEOUT:-30}"
STOP_TIMEOUT=30
# shellcheck source=scripts/infra/proc.sh
source "$REPO/scripts/infra/proc.sh"

log() { echo "redis-cluster.sh: $*" >&2; }
die() { echo "redis-cluster.sh: ERROR: $*" >&2; exit 1; }

port() { echo $((BASE_PORT + $1 - 1)); }
cli() { local n="$1"; shift; redis-cli -h 127.0.0.1 -p "$(port "$n")" "$@"; }

check_node() {
  [[ "${1:-}" =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= ${#NODES[@]})) ||
    die "node must be one of ${NODES[*]}, not '${1:-}'"
}

node_pid() {
  local file="$CSTATE/$1/redis.pid" pid cmd
  [[ -f "$file" ]] || return 1
  pid="$(cat "$file" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  # Guard against pid reuse: redis-server retitles itself "redis-server 127.0.0.1:<port> [cluster]".
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmd" =~ redis-server.*:$(port "$1")( |$) ]] || return 1
  echo "$pid"
}

pong() { [[ "$(cli "$1" ping 2>/dev/null)" == "PONG" ]]; }

wait_until() {  # wait_until <what> <command...>: poll with a deadline
  local what="$1" deadline=$((SECONDS + START_TIMEOUT))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || die "$what not within ${START_TIMEOUT} s (logs: $CSTATE/<n>/redis.log)"
    sleep 0.1
  done
}

start_node() {
  local n="$1" dir="$CSTATE/$1"
  node_pid "$n" >/dev/null && return 0
  mkdir -p "$dir"
  rm -f "$dir/redis.pid"
  # cluster-replica-validity-factor stays at its default (10: a replica whose master link is
  # older than 10 x node-timeout + the 10 s ping period refuses to fail over). A replica paused
  # (tests/cluster's forced loss) while its master is SIGKILLed reads the closed link as soon
  # as it resumes: its link's age starts then, and it was promoted after a 70 s pause in a
  # trial (2026-12-07), so nothing needs changing here for it.
  redis-server --daemonize yes --port "$(port "$n")" --bind 127.0.0.1 \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
    --appendonly yes --appendfsync everysec --save '' \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" ||
    die "node $n did not start (log: $dir/redis.log)"
  wait_until "node $n answering PONG" pong "$n"
}

cluster_ok() {
  local n
  for n in "${NODES[@]}"; do
    node_pid "$n" >/dev/null || continue
    cli "$n" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  done
}

created() { [[ "$(cli 1 cluster info 2>/dev/null | sed -n 's/^cluster_known_nodes:\([0-9]*\).*/\1/p')" -gt 1 ]]; }

cmd_start() {
  local n t0=$SECONDS addresses=()
  command -v redis-server >/dev/null 2>&1 || die "redis-server is missing (scripts/infra/redis.sh start installs it)"
  for n in "${NODES[@]}"; do
    node_pid "$n" >/dev/null && continue
    if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$(port "$n")" 2>/dev/null; then
      die "port $(port "$n") is already in use by another process (set REDIS_CLUSTER_PORT)"
    fi
    start_node "$n"
  done
  if ! created; then
    for n in "${NODES[@]}"; do addresses+=("127.0.0.1:$(port "$n")"); done
    log "creating the cluster (${addresses[*]}, one replica per master)"
    redis-cli --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes >"$CSTATE/create.log" 2>&1 ||
      { cat "$CSTATE/create.log" >&2; die "redis-cli --cluster create failed"; }
  fi
  wait_until "cluster_state:ok on every node" cluster_ok
  log "cluster ready in $((SECONDS - t0)) s ($(url))"
}

stop_node() {
  local n="$1" pid deadline
  pid="$(node_pid "$n")" || { log "node $n not running"; return 0; }
  cli "$n" shutdown >/dev/null 2>&1 || true
  deadline=$((SECONDS + STOP_TIMEOUT))
  while alive "$pid"; do
    if ((SECONDS >= deadline)); then
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  rm -f "$CSTATE/$n/redis.pid"
  log "node $n stopped"
}

cmd_stop() {
  local n
  if [[ -n "${1:-}" ]]; then
    check_node "$1"
    stop_node "$1"
    return 0
  fi
  for n in "${NODES[@]}"; do stop_node "$n"; done
}

cmd_kill() {
  local pid
  check_node "${1:-}"
  pid="$(node_pid "$1")" || die "node $1 is not running"
  sigkill_wait "$pid" "node $1"
  rm -f "$CSTATE/$1/redis.pid"
  log "node $1 (pid $pid) killed"
  echo "$pid"
}

signal_node() {  # signal_node <SIGSTOP|SIGCONT> N
  local pid
  check_node "${2:-}"
  pid="$(node_pid "$2")" || die "node $2 is not running"
  kill -s "$1" "$pid"
  log "node $2 (pid $pid) sent $1"
  echo "$pid"
}

replica() {  # the port of master N's replica, from the master's INFO replication
  local out
  out="$(cli "$1" info replication 2>/dev/null | sed -n 's/^slave0:.*port=\([0-9]*\).*/\1/p')"
  [[ -n "$out" ]] && echo "$out"
}

cmd_status() {
  local n down=0
  for n in "${NODES[@]}"; do
    if node_pid "$n" >/dev/null && pong "$n"; then
      log "node $n running (127.0.0.1:$(port "$n"), $(cli "$n" role | head -1))"
    else
      log "node $n not running (127.0.0.1:$(port "$n"))"
      down=$((down + 1))
    fi
  done
  ((down == 0)) && cluster_ok
}

slots() {  # the slot ranges node N serves, comma-separated (what a failover may have lost)
  cli "$1" cluster nodes | awk '/myself/ { out = ""; for (i = 9; i <= NF; i++)
    if ($i !~ /^\[/) out = out (out == "" ? "" : ",") $i; print out }'
}

masters() {
  local n
  for n in "${NODES[@]}"; do
    node_pid "$n" >/dev/null || continue
    [[ "$(cli "$n" role 2>/dev/null | head -1)" == master ]] && port "$n"
  done
  return 0
}

url() { echo "redis+cluster://127.0.0.1:$(port 1)/0"; }

usage() {
  echo "usage: $0 start|stop [N]|kill N|restart N|pause N|resume N|status|url|pid N|masters|ok N|slots N|replica N" >&2
  exit 2
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop "${2:-}" ;;
  kill) cmd_kill "${2:-}" ;;
  restart) check_node "${2:-}"; stop_node "$2"; start_node "$2"; wait_until "cluster_state:ok" cluster_ok ;;
  status) cmd_status ;;
  url) url ;;
  pid) check_node "${2:-}"; node_pid "$2" ;;
  masters) masters ;;
  ok) check_node "${2:-}"; cli "$2" cluster info 2>/dev/null | grep -q '^cluster_state:ok' && echo ok ;;
  slots) check_node "${2:-}"; slots "$2" ;;
  pause) signal_node SIGSTOP "${2:-}" ;;
  resume) signal_node SIGCONT "${2:-}" ;;
  replica) check_node "${2:-}"; replica "$2" ;;
  *) usage ;;
esac
