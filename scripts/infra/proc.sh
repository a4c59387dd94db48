# Process helpers sourced by the infra scripts (kafka.sh, redis.sh, kafka-cluster.sh,
# redis-cluster.sh); they call die() and log() of the sourcing script.

# Alive and not a zombie: orphans are reparented to pid 1, which may reap them late.
alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)"
  [[ -n "$state" && "$state" != Z ]]
}

# sigkill_wait <pid> <what>: SIGKILL the process (a crash) and wait up to 30 s until it is gone.
sigkill_wait() {
  local deadline=$((SECONDS + 30))
  kill -KILL "$1"
  while alive "$1"; do
    ((SECONDS < deadline)) || die "$2 (pid $1) still alive 30 s after SIGKILL"
    sleep 0.05
  done
}
