#!/usr/bin/env bash
# Everything a fresh machine needs, installed by the project itself; reused when present.
#   uv and the locked Python environment, Kafka's jars (Maven; redis-server is installed from
#   Debian's packages by scripts/infra/redis.sh start when missing),
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
say "python environment (uv sync --frozen)"
uv sync --frozen --quiet

say "kafka jars"
"$REPO/scripts/infra/kafka.sh" fetch
say "shopify packages (admin schema, sample webhooks)"
"$REPO/scripts/fetch-shopify-packages.sh" >/dev/null
say "ready"
