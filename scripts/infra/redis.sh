#!/usr/bin/env bash
# Local redis-server with AOF persistence (no Docker).
#
#   redis.sh start    install redis-server if missing, start daemonized, wait for PONG
#   redis.sh stop     SHUTDOWN via redis-cli (AOF keeps the data), wait for the pid to exit
#   redis.sh status   exit 0 if running and answering PONG, 1 otherwise
#
# Env: REDIS_PORT (6379), STOCKSYNC_STATE_DIR ($REPO/.work/local), REDIS_START_TIMEOUT (30 s),
#      REDIS_SECURITY (plaintext; tls: TLS only (no plaintext port), the default user off,
#      an ACL user for the services and an admin user for this script),
#      REDIS_USER (stocksync), REDIS_PASSWORD (random; both kept from the first tls start).
#      tls also makes one ACL user per service (stocksync-<service>) with the keys and commands
#      of deploy/redis/acl-users.txt (generated from each service's declared Redis keys), each
#      with a random password kept from the first start it was made at.
# State: $STOCKSYNC_STATE_DIR/redis/{appendonlydir/,redis.pid,redis.log}
#        tls: also credentials.env (mode 600), users.acl (hashed passwords), client.env
#        (STOCKSYNC_REDIS_URL and STOCKSYNC_REDIS_CA_FILE; the shared user), and per service
#        service-credentials.env (mode 600) and users/<service>.env (its own URL and the CA);
#        $STOCKSYNC_STATE_DIR/tls/
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
STATE_DIR="${STOCKSYNC_STATE_DIR:-$REPO/.work/local}"
RSTATE="$STATE_DIR/redis"
PID_FILE="$RSTATE/redis.pid"
LOG_FILE="$RSTATE/redis.log"
CREDENTIALS="$RSTATE/credentials.env"
ACL_FILE="$RSTATE/users.acl"
CLIENT_ENV="$RSTATE/client.env"
SERVICE_CREDENTIALS="$RSTATE/service-credentials.env"
SERVICE_ENVS="$RSTATE/users"
SERVICE_RULES="$REPO/deploy/redis/acl-users.txt"
SECURITY_MARK="$RSTATE/security"   # the mode the running server was started in
TLS_DIR="$STATE_DIR/tls"
# shellcheck source=scripts/infra/proc.sh
source "$REPO/scripts/infra/proc.sh"
# shellcheck source=scripts/infra/tls.sh
source "$REPO/scripts/infra/tls.sh"

REDIS_PORT="${REDIS_PORT:-6379}"
REDIS_SECURITY="${REDIS_SECURITY:-plaintext}"
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

# A running server is talked to the way it was started, whatever REDIS_SECURITY says now.
use_running_mode() { cat "$SECURITY_MARK" 2>/dev/null || echo plaintext; }

cli() {
  if [[ "$REDIS_SECURITY" == tls ]]; then
    # The admin password goes through the environment, never the command line.
    local password="${REDIS_ADMIN_PASSWORD:-}"
    [[ -n "$password" ]] || password="$(sed -n 's/^REDIS_ADMIN_PASSWORD=//p' "$CREDENTIALS" 2>/dev/null)"
    REDISCLI_AUTH="$password" redis-cli --tls --cacert "$TLS_DIR/ca.pem" \
      --user admin -h 127.0.0.1 -p "$REDIS_PORT" "$@"
  else
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
  fi
}

sha256_hex() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# tls: the users, made on the first start and kept (credentials.env, mode 600); the ACL file
# holds only their SHA-256 hashes. The default user is off: no command without a login.
load_credentials() {
  [[ "$REDIS_SECURITY" == tls ]] || return 0
  if [[ -s "$CREDENTIALS" ]]; then
    keep_credentials "$CREDENTIALS" REDIS_USER REDIS_PASSWORD ||
      die "REDIS_USER/REDIS_PASSWORD differ from the ones kept in $CREDENTIALS; edit or remove it (then users.acl is written anew)"
  else
    REDIS_ADMIN_PASSWORD="$(random_password)"
    REDIS_USER="${REDIS_USER:-stocksync}"
    REDIS_PASSWORD="${REDIS_PASSWORD:-$(random_password)}"
    [[ "$REDIS_USER" =~ ^[A-Za-z0-9._-]+$ && "$REDIS_USER" != admin && "$REDIS_USER" != default ]] ||
      die "REDIS_USER: letters, digits, . _ - only, and not admin or default"
    [[ "$REDIS_PASSWORD" =~ ^[A-Za-z0-9._~-]+$ ]] || die "REDIS_PASSWORD: letters, digits, . _ ~ - only"
    (umask 077; printf 'REDIS_ADMIN_PASSWORD=%s\nREDIS_USER=%s\nREDIS_PASSWORD=%s\n' \
      "$REDIS_ADMIN_PASSWORD" "$REDIS_USER" "$REDIS_PASSWORD" >"$CREDENTIALS")
  fi
  # The services' user: every key and channel, no admin or dangerous commands.
  (umask 077; cat >"$ACL_FILE" <<EOF
user default off
user admin on #$(sha256_hex "$REDIS_ADMIN_PASSWORD") ~* &* +@all
user $REDIS_USER on #$(sha256_hex "$REDIS_PASSWORD") ~* &* +@all -@admin -@dangerous
EOF
  )
  (umask 077; cat >"$CLIENT_ENV" <<EOF
STOCKSYNC_REDIS_URL=rediss://$REDIS_USER:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT/0
STOCKSYNC_REDIS_CA_FILE=$TLS_DIR/ca.pem
EOF
  )
  service_users
}

# tls: a user per service from the generated rules (least privilege: its own keys only), its
# password made once and kept in service-credentials.env (user=password lines, mode 600).
service_users() {
  [[ -s "$SERVICE_RULES" ]] || die "missing $SERVICE_RULES (uv run python deploy/k8s/generate_topics.py)"
  (umask 077; touch "$SERVICE_CREDENTIALS"; mkdir -p "$SERVICE_ENVS")
  local user rules password
  while read -r user rules; do
    [[ -z "$user" || "$user" == \#* ]] && continue
    password="$(sed -n "s/^$user=//p" "$SERVICE_CREDENTIALS")"
    if [[ -z "$password" ]]; then
      password="$(random_password)"
      (umask 077; printf '%s=%s\n' "$user" "$password" >>"$SERVICE_CREDENTIALS")
    fi
    printf 'user %s on #%s %s\n' "$user" "$(sha256_hex "$password")" "$rules" >>"$ACL_FILE"
    (umask 077; cat >"$SERVICE_ENVS/${user#stocksync-}.env" <<EOF
STOCKSYNC_REDIS_URL=rediss://$user:$password@127.0.0.1:$REDIS_PORT/0
STOCKSYNC_REDIS_CA_FILE=$TLS_DIR/ca.pem
EOF
    )
  done <"$SERVICE_RULES"
}

# The listening options: a plaintext port, or TLS only with the ACL file.
listen_args() {
  if [[ "$REDIS_SECURITY" == tls ]]; then
    printf '%s\n' --port 0 --tls-port "$REDIS_PORT" \
      --tls-cert-file "$TLS_DIR/server.crt" --tls-key-file "$TLS_DIR/server.key" \
      --tls-ca-cert-file "$TLS_DIR/ca.pem" --tls-auth-clients no --aclfile "$ACL_FILE"
  else
    printf '%s\n' --port "$REDIS_PORT"
  fi
}

pong() { [[ "$(cli ping 2>/dev/null)" == "PONG" ]]; }


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
  local pid t0=$SECONDS wanted="$REDIS_SECURITY"
  if pid="$(running_pid)"; then
    REDIS_SECURITY="$(use_running_mode)"
    [[ "$REDIS_SECURITY" == "$wanted" ]] || die "already running with REDIS_SECURITY=$REDIS_SECURITY (stop it first)"
    wait_ready
    log "already running (pid $pid, 127.0.0.1:$REDIS_PORT)"
    return 0
  fi
  if port_open "$REDIS_PORT"; then
    die "port $REDIS_PORT is already in use by another process (a system redis-server service? set REDIS_PORT)"
  fi
  ensure_installed
  case "$REDIS_SECURITY" in
    plaintext) rm -f "$CLIENT_ENV" ;;
    tls) ensure_tls "$TLS_DIR" || die "could not make the TLS certificates" ;;
    *) die "REDIS_SECURITY must be plaintext or tls, not $REDIS_SECURITY" ;;
  esac
  mkdir -p "$RSTATE"
  rm -f "$PID_FILE"
  load_credentials
  echo "$REDIS_SECURITY" >"$SECURITY_MARK"
  local listen=()
  mapfile -t listen < <(listen_args)
  log "starting redis-server ($REDIS_SECURITY) on 127.0.0.1:$REDIS_PORT (AOF, state in $RSTATE)"
  if ! redis-server --daemonize yes \
      "${listen[@]}" --bind 127.0.0.1 \
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
  REDIS_SECURITY="$(use_running_mode)"
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
  REDIS_SECURITY="$(use_running_mode)"
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
