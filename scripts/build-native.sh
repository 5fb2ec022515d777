#!/usr/bin/env bash
# Builds the native DNS UDP hot path (dns/native/udp-fastpath.cc) into dist/, against the Node
# headers of the node on PATH (N-API: one build serves every later Node). Only g++ is needed;
# libstdc++ is linked in, so the addon also loads in the v2plugin's rootfs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=$ROOT/dns/native/udp-fastpath.cc
OUT=$ROOT/dist/dns/native/udp-fastpath.node
[ "$OUT" -nt "$SRC" ] && [ "$OUT" -nt "$0" ] && exit 0
inc=""
for d in "$(node -p "require('path').resolve(process.execPath, '../../include/node')")" /usr/include/node /usr/local/include/node; do
  if [ -f "$d/node_api.h" ]; then inc=$d; break; fi
done
[ -n "$inc" ] || { echo "build-native: Node's headers (node_api.h) not found" >&2; exit 1; }
command -v g++ >/dev/null || { echo "build-native: g++ is needed" >&2; exit 1; }
mkdir -p "$(dirname "$OUT")"
g++ -std=c++20 -O2 -Wall -Wextra -fPIC -shared -pthread -fvisibility=hidden \
  -static-libstdc++ -static-libgcc -DNODE_GYP_MODULE_NAME=udp_fastpath \
  -I"$inc" "$SRC" -o "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
