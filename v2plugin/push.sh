#!/usr/bin/env bash
# Pushes the plugin to REGISTRY (host:port) as REGISTRY/contiv/v2plugin:<version>, so that
# `docker plugin install REGISTRY/contiv/v2plugin:<version> KEY=VALUE …` (add `--alias
# contiv/v2plugin:<version>` to keep the seeds' name) works on any host that reaches it.
# Docker pushes a plugin under its own name: this creates a registry-named copy (its own build,
# as a byte-identical rootfs cannot be created twice), pushes it and removes the copy.
set -euo pipefail
REGISTRY=${1:?usage: push.sh host:port}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(node -p "require('$ROOT/package.json').version")
NAME=$REGISTRY/${V2PLUGIN_NAME:-contiv/v2plugin:$VERSION}
V2PLUGIN_NAME=$NAME V2PLUGIN_DIR=$ROOT/dist/v2plugin-push bash "$ROOT/v2plugin/build.sh"
trap 'docker plugin rm -f "$NAME" >/dev/null 2>&1 || true; rm -rf "$ROOT/dist/v2plugin-push"' EXIT
docker plugin push "$NAME"
