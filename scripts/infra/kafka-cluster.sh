#!/usr/bin/env bash
# A local three-node Apache Kafka cluster (KRaft, each node a combined broker+controller, one
# controller quorum of three) on 127.0.0.1, from the same jars as kafka.sh: each node is a
# kafka.sh instance with its own state directory, ports and node id, so starting, stopping,
# readiness and logs are kafka.sh's own.
#
#   kafka-cluster.sh start        start the nodes that are not running (together: a node
#                                 waits for a quorum), wait until each is ready
#   kafka-cluster.sh stop [N]     stop node N with SIGTERM (a controlled shutdown: its
#                                 leaderships move first), SIGKILL after 30 s; without N
#                                 every node at once, SIGKILL after KAFKA_STOP_TIMEOUT (5) s
#   kafka-cluster.sh kill N       SIGKILL node N (a crash: no controlled shutdown); prints its pid
#   kafka-cluster.sh restart N    stop node N, start it again, wait until it is ready
#   kafka-cluster.sh status       exit 0 when every node runs and answers
#   kafka-cluster.sh bootstrap    print the bootstrap servers (every node's client port)
#   kafka-cluster.sh pid N        print node N's pid (exit 1 when it is not running)
#   kafka-cluster.sh logs N [tail args]
#
# Env: KAFKA_CLUSTER_PORT (9192): node N (1-3) takes client port KAFKA_CLUSTER_PORT+N-1 and
#      controller port KAFKA_CLUSTER_CONTROLLER_PORT+N-1 (default KAFKA_CLUSTER_PORT+3), so
#      one base port keeps a cluster's six ports apart from another's;
#      KAFKA_CLUSTER_HEAP_OPTS ("-Xms128m -Xmx512m", each node), STOCKSYNC_STATE_DIR,
#      KAFKA_START_TIMEOUT (kafka.sh's).
# Replication: every internal topic has 3 replicas and min.insync.replicas=2, and so does a
# topic created without its own settings; StockSync's topics take theirs from
# STOCKSYNC_TOPIC_REPLICATION_FACTOR and STOCKSYNC_TOPIC_MIN_INSYNC_REPLICAS.
# State: $STOCKSYNC_STATE_DIR/kafka-cluster/{cluster.id,1,2,3}; node N's kafka.sh state is
#        $STOCKSYNC_STATE_DIR/kafka-cluster/N/kafka (server.properties, data/, logs/).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
KAFKA_SH="$REPO/scripts/infra/kafka.sh"
STATE_DIR="${STOCKSYNC_STATE_DIR:-$REPO/.work/local}"
CSTATE="$STATE_DIR/kafka-cluster"
NODES=(1 2 3)
BASE_PORT="${KAFKA_CLUSTER_PORT:-9192}"
CONTROLLER_BASE="${KAFKA_CLUSTER_CONTROLLER_PORT:-$((BASE_PORT + 3))}"
HEAP_OPTS="${KAFKA_CLUSTER_HEAP_OPTS:--Xms128m -Xmx512m}"
# shellcheck source=scripts/infra/proc.sh
source "$REPO/scripts/infra/proc.sh"

log() { echo "kafka-cluster.sh: $*" >&2; }
die() { echo "kafka-cluster.sh: ERROR: $*" >&2; exit 1; }

client_port() { echo $((BASE_PORT + $1 - 1)); }
controller_port() { echo $((CONTROLLER_BASE + $1 - 1)); }

voters() {
  local n out=()
  for n in "${NODES[@]}"; do out+=("$n@127.0.0.1:$(controller_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

bootstrap() {
  local n out=()
  for n in "${NODES[@]}"; do out+=("127.0.0.1:$(client_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

check_node() {
  [[ "${1:-}" =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= ${#NODES[@]})) ||
    die "node must be one of ${NODES[*]}, not '${1:-}'"
}

# One cluster id for every node, made once: the nodes are formatted with it.
cluster_id() {
  mkdir -p "$CSTATE"
  if [[ ! -s "$CSTATE/cluster.id" ]]; then
    local id="-"
    # Kafka's ids: 16 random bytes, URL-safe base64 without padding, never starting with "-".
    while [[ "$id" == -* ]]; do
      id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    done
    echo "$id" >"$CSTATE/cluster.id"
  fi
  cat "$CSTATE/cluster.id"
}

# kafka.sh for node N: its own state directory, ports and node id, the cluster's quorum.
node() {
  local n="$1"
  shift
  STOCKSYNC_STATE_DIR="$CSTATE/$n" KAFKA_PORT="$(client_port "$n")" \
    KAFKA_CONTROLLER_PORT="$(controller_port "$n")" KAFKA_ADVERTISED_PORT="$(client_port "$n")" \
    KAFKA_NODE_ID="$n" KAFKA_QUORUM_VOTERS="$(voters)" KAFKA_CLUSTER_ID="$(cluster_id)" \
    KAFKA_REPLICATION="${#NODES[@]}" KAFKA_HEAP_OPTS="$HEAP_OPTS" KAFKA_SECURITY=plaintext \
    "$KAFKA_SH" "$@"
}

node_pid() {
  local file="$CSTATE/$1/kafka/kafka.pid"
  node "$1" status >/dev/null 2>&1 || return 1
  cat "$file"
}

cmd_start() {
  local n pids=() failed=0 t0=$SECONDS
  cluster_id >/dev/null
  log "starting nodes ${NODES[*]} (bootstrap $(bootstrap))"
  # Together: a node's start-up waits for a quorum of controllers.
  for n in "${NODES[@]}"; do
    (node "$n" start 2>&1 | sed -u "s/^/[node $n] /" >&2) &
    pids+=($!)
  done
  for n in "${!pids[@]}"; do
    wait "${pids[$n]}" || failed=$((failed + 1))
  done
  ((failed == 0)) || die "$failed node(s) did not start (logs: $CSTATE/<n>/kafka/logs/)"
  log "cluster ready in $((SECONDS - t0)) s (bootstrap $(bootstrap))"
}

cmd_stop() {
  local n
  if [[ -n "${1:-}" ]]; then
    check_node "$1"
    node "$1" stop
    return 0
  fi
  # All together, and not waiting long: the last nodes' controlled shutdown cannot finish
  # without a quorum of controllers, and there is no other broker to hand leaderships to.
  for n in "${NODES[@]}"; do
    (KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-5}" node "$n" stop 2>&1 | sed -u "s/^/[node $n] /" >&2) &
  done
  wait
}

cmd_kill() {
  local pid
  check_node "${1:-}"
  pid="$(node_pid "$1")" || die "node $1 is not running"
  sigkill_wait "$pid" "node $1"
  log "node $1 (pid $pid) killed"
  echo "$pid"
}

cmd_status() {
  local n down=0
  for n in "${NODES[@]}"; do
    (node "$n" status 2>&1 | sed -u "s/^/[node $n] /" >&2) || down=$((down + 1))
  done
  ((down == 0))
}

usage() {
  echo "usage: $0 start|stop [N]|kill N|restart N|status|bootstrap|pid N|logs N [tail args]" >&2
  exit 2
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop "${2:-}" ;;
  kill) cmd_kill "${2:-}" ;;
  restart) check_node "${2:-}"; node "$2" stop; node "$2" start ;;
  status) cmd_status ;;
  bootstrap) bootstrap ;;
  pid) check_node "${2:-}"; node_pid "$2" ;;
  logs) check_node "${2:-}"; n="$2"; shift 2; node "$n" logs "$@" ;;
  *) usage ;;
esac
