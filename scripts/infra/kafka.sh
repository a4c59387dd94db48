#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft, combined broker+controller) from Maven jars.
#
#   kafka.sh fetch            copy the broker jars into $REPO/.cache/kafka/<version>/libs
#   kafka.sh start            fetch if needed, format storage once, start, wait until ready
#   kafka.sh stop             SIGTERM, wait up to KAFKA_STOP_TIMEOUT (30) s, then SIGKILL
#   kafka.sh status           exit 0 if running and answering, 1 otherwise
#   kafka.sh logs [tail args] tail the broker's server.log (e.g. `kafka.sh logs -f`)
#   kafka.sh users            sasl_ssl: create or update SCRAM users ("name password" lines
#                             on stdin), as the admin user (KafkaAccess.java)
#   kafka.sh acls             sasl_ssl: add ACLs ("principal type name operation" lines)
#
# Env: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), STOCKSYNC_STATE_DIR ($REPO/.work/local),
#      KAFKA_ADVERTISED_PORT (KAFKA_PORT; set it to put a proxy such as scripts/faults in front),
#      KAFKA_HEAP_OPTS ("-Xms256m -Xmx1g"), KAFKA_START_TIMEOUT (90, seconds),
#      KAFKA_SECURITY (plaintext; sasl_ssl: one SASL_SSL listener with SCRAM-SHA-512 users
#      made at format time, TLS from a local CA, see scripts/infra/README.md),
#      KAFKA_SCRAM_USER (stocksync), KAFKA_SCRAM_PASSWORD (random; both used at format time),
#      KAFKA_ACLS (off; on, with sasl_ssl: the broker enforces ACLs, only admin and the
#      broker itself are super users, so every other user needs `kafka.sh acls`).
#      One node of a cluster (scripts/infra/kafka-cluster.sh sets these): KAFKA_NODE_ID (1),
#      KAFKA_QUORUM_VOTERS (this node alone: "1@127.0.0.1:$KAFKA_CONTROLLER_PORT"),
#      KAFKA_CLUSTER_ID (random at the first format; every node of a cluster gets the same),
#      KAFKA_REPLICATION (1: the internal topics' replicas and default.replication.factor;
#      min.insync.replicas is one less, at least 1).
# State: $STOCKSYNC_STATE_DIR/kafka/{server.properties,cluster.id,kafka.pid,data/,logs/}
#        sasl_ssl: also credentials.env (the users, mode 600), client.env (STOCKSYNC_KAFKA_*
#        for a client), admin.properties (the admin user's client config, mode 600) and
#        $STOCKSYNC_STATE_DIR/tls/ (CA and server certificate)
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
INFRA="$REPO/scripts/infra"
POM="$INFRA/pom.xml"
LOG4J_CONF="$INFRA/log4j2.properties"

STATE_DIR="${STOCKSYNC_STATE_DIR:-$REPO/.work/local}"
KSTATE="$STATE_DIR/kafka"
DATA_DIR="$KSTATE/data"
LOG_DIR="$KSTATE/logs"
PROPS="$KSTATE/server.properties"
PID_FILE="$KSTATE/kafka.pid"
CLUSTER_ID_FILE="$KSTATE/cluster.id"
SERVER_LOG="$LOG_DIR/server.log"
OUT_LOG="$LOG_DIR/kafka.out"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_ADVERTISED_PORT="${KAFKA_ADVERTISED_PORT:-$KAFKA_PORT}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
READY_LINE="Kafka Server started"
KAFKA_SECURITY="${KAFKA_SECURITY:-plaintext}"
KAFKA_ACLS="${KAFKA_ACLS:-off}"
KAFKA_NODE_ID="${KAFKA_NODE_ID:-1}"
KAFKA_QUORUM_VOTERS="${KAFKA_QUORUM_VOTERS:-$KAFKA_NODE_ID@127.0.0.1:$KAFKA_CONTROLLER_PORT}"
KAFKA_REPLICATION="${KAFKA_REPLICATION:-1}"
KAFKA_MIN_ISR=$((KAFKA_REPLICATION > 1 ? KAFKA_REPLICATION - 1 : 1))
ADMIN_PROPERTIES="$KSTATE/admin.properties"
TLS_DIR="$STATE_DIR/tls"
CREDENTIALS="$KSTATE/credentials.env"
CLIENT_ENV="$KSTATE/client.env"
SECURITY_MARK="$KSTATE/security"   # the mode the storage was formatted for
SCRAM="SCRAM-SHA-512"
# shellcheck source=scripts/infra/proc.sh
source "$REPO/scripts/infra/proc.sh"
# shellcheck source=scripts/infra/tls.sh
source "$INFRA/tls.sh"

log() { echo "kafka.sh: $*" >&2; }
die() { echo "kafka.sh: ERROR: $*" >&2; exit 1; }

# The Kafka version is pinned once, in pom.xml.
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)"
[[ -n "$KAFKA_VERSION" ]] || die "cannot read <kafka.version> from $POM"
CACHE_DIR="$REPO/.cache/kafka/$KAFKA_VERSION"
LIBS="$CACHE_DIR/libs"
MARKER="$LIBS/.fetched"   # written after a successful copy; holds the pom's checksum

java_bin() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    echo "$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    command -v java
  else
    die "java not found (Kafka $KAFKA_VERSION needs Java 17+)"
  fi
}

check_java() {
  local java major
  java="$(java_bin)"
  major="$("$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
  [[ -n "$major" && "$major" -ge 17 ]] || die "Kafka $KAFKA_VERSION needs Java 17+, found: $("$java" -version 2>&1 | head -n1)"
}

pom_sum() { sha256sum "$POM" | cut -d' ' -f1; }

libs_ok() { [[ -d "$LIBS" && -f "$MARKER" && "$(cat "$MARKER")" == "$(pom_sum)" ]]; }

cmd_fetch() {
  if libs_ok; then
    log "jars for Kafka $KAFKA_VERSION already in $LIBS"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found (needed once to fetch the Kafka jars)"
  mkdir -p "$CACHE_DIR"
  # Serialise concurrent fetches (e.g. dev and test instances starting together).
  exec 8>"$CACHE_DIR/.lock"
  if command -v flock >/dev/null 2>&1; then flock 8; fi
  if libs_ok; then
    exec 8>&-
    log "jars for Kafka $KAFKA_VERSION already in $LIBS"
    return 0
  fi
  local tmp="$CACHE_DIR/libs.tmp.$$" t0=$SECONDS
  rm -rf "$tmp"
  log "fetching Kafka $KAFKA_VERSION jars with Maven into $LIBS ..."
  if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
      -DoutputDirectory="$tmp" >"$CACHE_DIR/fetch.log" 2>&1; then
    tail -n 40 "$CACHE_DIR/fetch.log" >&2
    rm -rf "$tmp"
    die "Maven failed to fetch the Kafka jars (full output: $CACHE_DIR/fetch.log)"
  fi
  compgen -G "$tmp/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null || { rm -rf "$tmp"; die "kafka_2.13-$KAFKA_VERSION.jar missing after fetch"; }
  pom_sum >"$tmp/.fetched"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  exec 8>&-
  log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - t0)) s"
}


# Is the pid in the pid file alive and our broker (right server.properties)?
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid cmd
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  # Guard against pid reuse: the process must be kafka.Kafka with our config.
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmd" == *"kafka.Kafka $PROPS"* ]] || return 1
  echo "$pid"
}

port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

show_logs() {
  local f
  for f in "$SERVER_LOG" "$OUT_LOG"; do
    if [[ -s "$f" ]]; then
      echo "---- last lines of $f ----" >&2
      tail -n 30 "$f" >&2
    fi
  done
}

listener_props() {
  # sasl_ssl: clients and the broker itself authenticate with SCRAM over TLS; the controller
  # listener takes TLS with a client certificate signed by the local CA (the broker's own),
  # so no port answers without credentials.
  local name=PLAINTEXT controller=PLAINTEXT
  if [[ "$KAFKA_SECURITY" == sasl_ssl ]]; then name=SASL_SSL controller=SSL; fi
  cat <<EOF
listeners=$name://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=$name://127.0.0.1:$KAFKA_ADVERTISED_PORT
inter.broker.listener.name=$name
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:$controller,$name:$name
EOF
  [[ "$KAFKA_SECURITY" == sasl_ssl ]] || return 0
  cat <<EOF
sasl.enabled.mechanisms=$SCRAM
sasl.mechanism.inter.broker.protocol=$SCRAM
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD";
ssl.keystore.type=PEM
ssl.keystore.location=$TLS_DIR/server-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.pem
listener.name.controller.ssl.client.auth=required
EOF
  [[ "$KAFKA_ACLS" == on ]] || return 0
  # The broker reaches its controller with its certificate (CN=localhost).
  cat <<EOF
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:CN=localhost
EOF
}

# sasl_ssl: the users, made once (format time) and kept in credentials.env (mode 600).
load_credentials() {
  [[ "$KAFKA_SECURITY" == sasl_ssl ]] || return 0
  if [[ -s "$CREDENTIALS" ]]; then
    keep_credentials "$CREDENTIALS" KAFKA_SCRAM_USER KAFKA_SCRAM_PASSWORD ||
      die "KAFKA_SCRAM_USER/KAFKA_SCRAM_PASSWORD differ from the users this storage was formatted with ($CREDENTIALS); stop, remove $KSTATE and start again"
    return 0
  fi
  KAFKA_ADMIN_PASSWORD="$(random_password)"
  KAFKA_SCRAM_USER="${KAFKA_SCRAM_USER:-stocksync}"
  KAFKA_SCRAM_PASSWORD="${KAFKA_SCRAM_PASSWORD:-$(random_password)}"
  [[ "$KAFKA_SCRAM_USER" =~ ^[A-Za-z0-9._-]+$ ]] || die "KAFKA_SCRAM_USER: letters, digits, . _ - only"
  [[ "$KAFKA_SCRAM_PASSWORD" =~ ^[A-Za-z0-9._~-]+$ ]] || die "KAFKA_SCRAM_PASSWORD: letters, digits, . _ ~ - only"
  (umask 077; printf 'KAFKA_ADMIN_PASSWORD=%s\nKAFKA_SCRAM_USER=%s\nKAFKA_SCRAM_PASSWORD=%s\n' \
    "$KAFKA_ADMIN_PASSWORD" "$KAFKA_SCRAM_USER" "$KAFKA_SCRAM_PASSWORD" >"$CREDENTIALS")
}

# sasl_ssl: what a client sets to reach this broker (sourced by tests, pasted by people),
# and the admin user's client config for `kafka.sh users` and `kafka.sh acls`.
write_client_env() {
  [[ "$KAFKA_SECURITY" == sasl_ssl ]] || { rm -f "$CLIENT_ENV" "$ADMIN_PROPERTIES"; return 0; }
  (umask 077; cat >"$ADMIN_PROPERTIES" <<EOF
bootstrap.servers=127.0.0.1:$KAFKA_PORT
security.protocol=SASL_SSL
sasl.mechanism=$SCRAM
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD";
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.pem
EOF
  )
  (umask 077; cat >"$CLIENT_ENV" <<EOF
STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_ADVERTISED_PORT
STOCKSYNC_KAFKA_SECURITY_PROTOCOL=SASL_SSL
STOCKSYNC_KAFKA_SASL_MECHANISM=$SCRAM
STOCKSYNC_KAFKA_USERNAME=$KAFKA_SCRAM_USER
STOCKSYNC_KAFKA_PASSWORD=$KAFKA_SCRAM_PASSWORD
STOCKSYNC_KAFKA_CA_FILE=$TLS_DIR/ca.pem
EOF
  )
}

write_props() {
  (umask 077; cat >"$PROPS" <<EOF
# Written by scripts/infra/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=$KAFKA_NODE_ID
controller.quorum.voters=$KAFKA_QUORUM_VOTERS
$(listener_props)
log.dirs=$DATA_DIR

# KAFKA_REPLICATION replicas of every internal topic (1: one node); with more, a write to
# them survives one node down (min.insync.replicas one less).
default.replication.factor=$KAFKA_REPLICATION
min.insync.replicas=$KAFKA_MIN_ISR
offsets.topic.replication.factor=$KAFKA_REPLICATION
transaction.state.log.replication.factor=$KAFKA_REPLICATION
transaction.state.log.min.isr=$KAFKA_MIN_ISR
share.coordinator.state.topic.replication.factor=$KAFKA_REPLICATION
share.coordinator.state.topic.min.isr=$KAFKA_MIN_ISR

# Topics are created explicitly by the services' setup code.
auto.create.topics.enable=false
num.partitions=12
delete.topic.enable=true

# Fast start and fast first use: no rebalance delay, smaller internal topics
# (the first consumer group / transactional producer creates them), parallel log recovery.
group.initial.rebalance.delay.ms=0
offsets.topic.num.partitions=12
transaction.state.log.num.partitions=12
share.coordinator.state.topic.num.partitions=12
num.recovery.threads.per.data.dir=4

# Dev retention: a day, at most 256 MiB per partition, 64 MiB segments.
log.retention.hours=24
log.retention.bytes=268435456
log.segment.bytes=67108864
log.retention.check.interval.ms=60000
EOF
  )
}

format_storage() {
  local java cp="$LIBS/*"
  java="$(java_bin)"
  if [[ -f "$DATA_DIR/meta.properties" ]]; then
    local formatted
    formatted="$(cat "$SECURITY_MARK" 2>/dev/null || echo plaintext)"
    [[ "$formatted" == "$KAFKA_SECURITY" ]] || die "storage in $DATA_DIR was formatted for KAFKA_SECURITY=$formatted, not $KAFKA_SECURITY; use another STOCKSYNC_STATE_DIR or stop, remove $KSTATE and start again"
    return 0
  fi
  local scram=()
  if [[ "$KAFKA_SECURITY" == sasl_ssl ]]; then
    scram=(--add-scram "$SCRAM=[name=admin,password=$KAFKA_ADMIN_PASSWORD]"
           --add-scram "$SCRAM=[name=$KAFKA_SCRAM_USER,password=$KAFKA_SCRAM_PASSWORD]")
  fi
  if [[ ! -s "$CLUSTER_ID_FILE" && -n "${KAFKA_CLUSTER_ID:-}" ]]; then
    echo "$KAFKA_CLUSTER_ID" >"$CLUSTER_ID_FILE"
  fi
  if [[ ! -s "$CLUSTER_ID_FILE" ]]; then
    "$java" -cp "$cp" -Dlog4j2.configurationFile="$LOG4J_CONF" -Dkafka.logs.dir="$LOG_DIR" \
      kafka.tools.StorageTool random-uuid 2>>"$OUT_LOG" | tr -d '[:space:]' >"$CLUSTER_ID_FILE.tmp"
    [[ -s "$CLUSTER_ID_FILE.tmp" ]] || die "could not generate a cluster id (see $OUT_LOG)"
    mv "$CLUSTER_ID_FILE.tmp" "$CLUSTER_ID_FILE"
  fi
  log "formatting storage in $DATA_DIR (cluster id $(cat "$CLUSTER_ID_FILE"))"
  if ! "$java" -cp "$cp" -Dlog4j2.configurationFile="$LOG4J_CONF" -Dkafka.logs.dir="$LOG_DIR" \
      kafka.tools.StorageTool format -t "$(cat "$CLUSTER_ID_FILE")" -c "$PROPS" "${scram[@]}" >>"$OUT_LOG" 2>&1; then
    tail -n 20 "$OUT_LOG" >&2
    die "storage format failed"
  fi
  echo "$KAFKA_SECURITY" >"$SECURITY_MARK"
}

wait_ready() {
  local pid="$1" deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    if ! alive "$pid"; then
      show_logs
      rm -f "$PID_FILE"
      die "broker (pid $pid) exited during startup"
    fi
    if port_open "$KAFKA_PORT" && grep -q "$READY_LINE" "$SERVER_LOG" 2>/dev/null; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      show_logs
      log "broker (pid $pid) not ready after ${START_TIMEOUT} s; stopping it"
      cmd_stop
      die "broker did not become ready within ${START_TIMEOUT} s (KAFKA_START_TIMEOUT)"
    fi
    sleep 0.3
  done
}

# One start/stop at a time per state dir (the broker itself does not inherit the lock).
lock_state() {
  mkdir -p "$KSTATE"
  exec 9>"$KSTATE/.script.lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
}

cmd_start() {
  local pid t0=$SECONDS
  lock_state
  if pid="$(running_pid)"; then
    wait_ready "$pid"   # returns at once when it is already up
    log "already running (pid $pid, bootstrap 127.0.0.1:$KAFKA_PORT)"
    return 0
  fi
  rm -f "$PID_FILE"
  local p
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    if port_open "$p"; then
      die "port $p is already in use by another process (set KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
    fi
  done
  check_java
  cmd_fetch
  case "$KAFKA_SECURITY" in
    plaintext) ;;
    sasl_ssl) ensure_tls "$TLS_DIR" || die "could not make the TLS certificates" ;;
    *) die "KAFKA_SECURITY must be plaintext or sasl_ssl, not $KAFKA_SECURITY" ;;
  esac
  [[ "$KAFKA_ACLS" == off || ( "$KAFKA_ACLS" == on && "$KAFKA_SECURITY" == sasl_ssl ) ]] ||
    die "KAFKA_ACLS must be off, or on with KAFKA_SECURITY=sasl_ssl"
  mkdir -p "$DATA_DIR" "$LOG_DIR"
  load_credentials
  write_props
  format_storage
  write_client_env

  # Fresh server.log per run, so the readiness grep only sees this run.
  if [[ -f "$SERVER_LOG" ]]; then mv -f "$SERVER_LOG" "$LOG_DIR/server.log.prev"; fi
  if [[ -f "$OUT_LOG" ]]; then mv -f "$OUT_LOG" "$LOG_DIR/kafka.out.prev"; fi

  local java
  java="$(java_bin)"
  log "starting Kafka $KAFKA_VERSION ($KAFKA_SECURITY) on 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT), state in $KSTATE"
  # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS is a list of JVM flags
  nohup "$java" $KAFKA_HEAP_OPTS \
    -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true \
    -Dkafka.logs.dir="$LOG_DIR" \
    -Dlog4j2.configurationFile="$LOG4J_CONF" \
    -cp "$LIBS/*" kafka.Kafka "$PROPS" \
    >>"$OUT_LOG" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  wait_ready "$pid"
  log "ready in $((SECONDS - t0)) s (pid $pid, bootstrap 127.0.0.1:$KAFKA_PORT)"
}

cmd_stop() {
  local pid
  lock_state
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping pid $pid ..."
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while alive "$pid"; do
    if ((SECONDS >= deadline)); then
      log "still alive after ${STOP_TIMEOUT} s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  local pid
  if pid="$(running_pid)" && port_open "$KAFKA_PORT"; then
    log "running (pid $pid, Kafka $KAFKA_VERSION, 127.0.0.1:$KAFKA_PORT, state $KSTATE)"
    return 0
  fi
  if [[ -n "${pid:-}" ]]; then
    log "pid $pid alive but 127.0.0.1:$KAFKA_PORT not answering (starting or stuck)"
  else
    log "not running (state $KSTATE)"
  fi
  return 1
}

cmd_logs() {
  [[ -f "$SERVER_LOG" ]] || die "no log yet at $SERVER_LOG"
  if (($# == 0)); then set -- -n 100; fi
  exec tail "$@" "$SERVER_LOG"
}

# users|acls: lines on stdin, applied as the admin user through the Admin API.
cmd_access() {
  [[ -s "$ADMIN_PROPERTIES" ]] || die "no $ADMIN_PROPERTIES: start the broker with KAFKA_SECURITY=sasl_ssl first"
  running_pid >/dev/null || die "the broker is not running"
  local java
  java="$(java_bin)"
  # No log4j configuration: the Admin client's own default prints errors only.
  "$java" -cp "$LIBS/*" "$INFRA/KafkaAccess.java" "$1" "$ADMIN_PROPERTIES"
}

usage() { echo "usage: $0 start|stop|status|fetch|logs [tail args]|users|acls" >&2; exit 2; }

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  fetch) cmd_fetch ;;
  logs) shift; cmd_logs "$@" ;;
  users|acls) cmd_access "$1" ;;
  *) usage ;;
esac
