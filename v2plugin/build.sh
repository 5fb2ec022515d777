#!/usr/bin/env bash
# Builds the managed plugin directory (config.json + rootfs/) from this checkout's dist and the
# host's node, OVS and network tools (each with the libraries ldd lists), then creates it in the
# dockerd that DOCKER_HOST names as NAME (default contiv/v2plugin:<package version>).
# Usage: v2plugin/build.sh [--no-create]   env: V2PLUGIN_NAME, V2PLUGIN_DIR, V2PLUGIN_DRIVER.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(node -p "require('$ROOT/package.json').version")
NAME=${V2PLUGIN_NAME:-contiv/v2plugin:$VERSION}
OUT=${V2PLUGIN_DIR:-$ROOT/dist/v2plugin}
# The driver name the plugin answers to: its name as installed, without a registry host
# (pushed as host:port/contiv/v2plugin:T, installed as contiv/v2plugin:T).
first=${NAME%%/*}
if [[ $NAME == */* && $first == *[.:]* ]]; then DRIVER=${V2PLUGIN_DRIVER:-${NAME#*/}}; else DRIVER=${V2PLUGIN_DRIVER:-$NAME}; fi
FS=$OUT/rootfs
[ -f "$ROOT/dist/cli/netplugin.js" ] || { echo "build first (npx tsc -p tsconfig.json)" >&2; exit 1; }

rm -rf "$OUT"
mkdir -p "$FS"/{bin,usr/bin,usr/sbin,sbin,run/docker/plugins,run/contiv,tmp,etc,var/log/contiv,var/lib,host/run,contiv}
ln -s ../run "$FS/var/run"

# Copies a file to the same path in the rootfs (dereferenced), once.
put() {
  local src=$1 dst=$FS${2:-$1}
  [ -e "$dst" ] && return 0
  mkdir -p "$(dirname "$dst")"
  cp -L "$src" "$dst"
}
# A program under PATH or by path: to DEST (default its own path), with its libraries.
bin() {
  local p; p=$(command -v "$1") || { echo "missing: $1" >&2; exit 1; }
  put "$(readlink -f "$p")" "${2:-$p}"
  ldd "$p" 2>/dev/null | awk '/=> \// {print $3} /^[ \t]*\// {print $1}' | while read -r lib; do put "$lib"; done
}

bin node /usr/bin/node
for b in ovsdb-server ovs-vswitchd ovs-vsctl ovs-ofctl ovs-appctl ovsdb-tool; do bin "$b" "/usr/sbin/$b"; done
put /usr/share/openvswitch/vswitch.ovsschema
for b in ip ethtool nsenter sysctl; do bin "$b" "/usr/sbin/$b"; done
# iptables: the multi-call binary picks its variant from argv[0], so a copy named iptables works.
bin iptables /usr/sbin/iptables
# ... and its match/target extensions (comment, MASQUERADE), loaded at run time.
XT=/usr/lib/x86_64-linux-gnu/xtables
for so in "$XT"/*.so; do put "$(readlink -f "$so")" "/usr/lib/x86_64-linux-gnu/xtables/$(basename "$so")"; done
# sh: dash, as the driver runs `sh -c 'ip …; ethtool …'` (busybox-static's sh would run its own
# ip applet instead of iproute2). busybox: mount (remount /proc/sys) and a debugging toolbox.
bin dash /bin/sh
put /bin/busybox
printf 'root:x:0:0:root:/:/bin/sh\n' >"$FS/etc/passwd"
printf 'hosts: files dns\n' >"$FS/etc/nsswitch.conf"

# The compiled program without tests and benchmarks, and the runtime node_modules only.
mkdir -p "$FS/contiv/dist"
for d in api cli controller datapath dns lib policy state; do cp -a "$ROOT/dist/$d" "$FS/contiv/dist/"; done
find "$FS/contiv/dist" -name '*.map' -delete
cp "$ROOT/package.json" "$ROOT/package-lock.json" "$FS/contiv/"
cp -a "$ROOT/node_modules" "$FS/contiv/"
(cd "$FS/contiv" && npm prune --omit=dev --offline --no-audit --no-fund >/dev/null 2>&1)
mkdir -p "$FS/contiv/v2plugin"
cp "$ROOT/v2plugin/entrypoint.mjs" "$ROOT/v2plugin/config.mjs" "$FS/contiv/v2plugin/"
# The build stamp keeps two builds' rootfs apart ("content already exists" on a byte-identical one).
date -u +%FT%TZ >"$FS/contiv/BUILD"

node "$ROOT/v2plugin/config.mjs" "$DRIVER" >"$OUT/config.json"
echo "v2plugin: $OUT ($(du -sh "$FS" | cut -f1))"
if [ "${1:-}" != --no-create ]; then
  docker plugin rm -f "$NAME" >/dev/null 2>&1 || true
  docker plugin create "$NAME" "$OUT"
fi
