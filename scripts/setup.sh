#!/usr/bin/env bash
# Everything a fresh machine needs, installed by the project itself; reused when present.
#   uv and the locked Python environment, Kafka's jars (Maven; redis-server is installed from
#   Debian's packages by scripts/infra/redis.sh start when missing; promtool from Debian's
#   prometheus package),
#   and Shopify's published schema and sample webhooks (npm, into .cache, never committed).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"

say() { printf '[setup] %s\n' "$*" >&2; }

if ! command -v uv >/dev/null 2>&1; then
  say "installing uv"
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
  export PATH="$HOME/.local/bin:$PATH"
fi
if [[ "$(command -v uv)" == "$HOME/.local/bin/uv" ]]; then
  say "uv is in ~/.local/bin; in a new shell run first: export PATH=\"\$HOME/.local/bin:\$PATH\""
fi
say "python environment (uv sync --frozen)"
uv sync --frozen --quiet

if [[ ! -x /usr/bin/chromium ]]; then
  # The ops console's browser tests drive Debian's Chromium (never a downloaded browser).
  say "chromium (Debian package, for the browser tests)"
  apt_sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then apt_sudo=(sudo); fi
  "${apt_sudo[@]}" apt-get update -q >&2
  "${apt_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends chromium >&2
fi
say "kafka jars"
"$REPO/scripts/infra/kafka.sh" fetch
say "shopify packages (admin schema, sample webhooks)"
"$REPO/scripts/fetch-shopify-packages.sh" >/dev/null
if ! command -v promtool >/dev/null 2>&1; then
  # promtool checks and unit-tests the alert rules (tests/unit/deploy/test_monitoring.py).
  say "promtool missing; installing the Debian package prometheus"
  sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { say "no root and no sudo: install prometheus yourself"; exit 1; }
    sudo=(sudo)
  fi
  command -v apt-get >/dev/null 2>&1 || { say "no apt-get: install promtool (prometheus) yourself"; exit 1; }
  policy=/usr/sbin/policy-rc.d own_policy=0
  if [[ ! -e "$policy" ]]; then  # keep the package's own service from starting on :9090
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    own_policy=1
  fi
  rc=0
  "${sudo[@]}" apt-get update -q >&2 || rc=$?
  if ((rc == 0)); then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >&2 || rc=$?
  fi
  if ((own_policy)); then "${sudo[@]}" rm -f "$policy"; fi
  ((rc == 0)) || { say "apt-get could not install prometheus (exit $rc)"; exit 1; }
fi
say "ready"
