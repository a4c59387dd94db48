#!/usr/bin/env bash
# Run the fault suite on its own: it starts its own Kafka broker, redis-server, fault proxy
# and stack (ports 32100-32126 plus STOCKSYNC_TEST_PORT_SHIFT), then writes the figures to
# .work/faults/latest.json. FAULTS_SCALE (1) multiplies the workload; FAULTS_SET=ci runs only
# the bounded subset scripts/test.sh runs (default here: all). Extra args go to pytest.
#   scripts/faults/run.sh && python scripts/faults/report.py   # refresh docs/reliability.md
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"
export PATH="$HOME/.local/bin:$PATH"
export FAULTS_SET="${FAULTS_SET:-all}"
exec uv run --frozen pytest tests/faults -m faults "$@"
