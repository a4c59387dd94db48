#!/usr/bin/env bash
# Run the fault suite on its own: it starts its own Kafka broker, redis-server, fault proxy
# and stack (ports 32100-32126 plus STOCKSYNC_TEST_PORT_SHIFT), then writes the figures to
# .work/faults/latest.json. FAULTS_SCALE multiplies the workload (here 3: 30 orders per
# fault; 1 in CI); FAULTS_SET=ci runs only the bounded subset scripts/test.sh runs (default
# here: all). Extra args go to pytest.
#   scripts/faults/run.sh && python scripts/faults/report.py   # refresh docs/reliability.md
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"
export PATH="$HOME/.local/bin:$PATH"
export FAULTS_SET="${FAULTS_SET:-all}"
export FAULTS_SCALE="${FAULTS_SCALE:-3}"
exec uv run --frozen pytest tests/faults -m faults "$@"
