#!/usr/bin/env bash
# Removes what `make v2plugin` made: the plugin in the local dockerd (disabled first, with -f) and
# the plugin directories. Harmless when there is nothing to remove.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(node -p "require('$ROOT/package.json').version")
NAME=${V2PLUGIN_NAME:-contiv/v2plugin:$VERSION}
if docker plugin inspect "$NAME" >/dev/null 2>&1; then docker plugin rm -f "$NAME"; fi
rm -rf "$ROOT/dist/v2plugin" "$ROOT/dist/v2plugin-push"
