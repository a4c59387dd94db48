#!/usr/bin/env bash
# Installs vegeta, the open-loop HTTP load generator bench.webhook_ack drives, from its Go
# module with `go install` (pinned version), into .work/tools/bin. Idempotent: an installed
# binary of the pinned version is kept. Prints the binary's path on stdout.
#
#   scripts/tools/vegeta.sh            # install if missing, print the path
#   VEGETA_VERSION=v12.12.0 scripts/tools/vegeta.sh
#
# Needs a Go toolchain (1.22+) and the Go module proxy; nothing is committed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VERSION="${VEGETA_VERSION:-v12.12.0}"
BIN_DIR="${STOCKSYNC_TOOLS_DIR:-$ROOT/.work/tools}/bin"
BIN="$BIN_DIR/vegeta"
STAMP="$BIN_DIR/.vegeta-version"

if [[ -x "$BIN" && -f "$STAMP" && "$(cat "$STAMP")" == "$VERSION" ]]; then
  echo "$BIN"
  exit 0
fi

GO="$(command -v go || true)"
if [[ -z "$GO" && -x /usr/local/go/bin/go ]]; then
  GO=/usr/local/go/bin/go
fi
if [[ -z "$GO" ]]; then
  echo "vegeta.sh: no Go toolchain (install golang-go); bench.webhook_ack falls back to its asyncio generator" >&2
  exit 1
fi

mkdir -p "$BIN_DIR"
echo "vegeta.sh: go install github.com/tsenart/vegeta/v12@$VERSION" >&2
GOBIN="$BIN_DIR" GOFLAGS="-trimpath" CGO_ENABLED=0 \
  "$GO" install "github.com/tsenart/vegeta/v12@$VERSION" >&2
echo "$VERSION" >"$STAMP"
echo "$BIN"
