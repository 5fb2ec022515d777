#!/usr/bin/env bash
# The all-in-one demo host (for now: the OpenFlow controller): a private userspace OVS, two
# namespace "containers" on one bridge, our controller installing an L2 + stateful policy pipeline,
# then real traffic through it. Everything is removed on exit. DEMO_HOLD=1 keeps it up until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
D=$(mktemp -d /tmp/contiv-ts-demo.XXXXXX)
export OVS_RUNDIR=$D OVS_LOGDIR=$D OVS_DBDIR=$D
BR=ctsdemo$$; BR=${BR:0:15}
NSA=ctsdemo-a-$$; NSB=ctsdemo-b-$$
CTL_PID=
cleanup() {
  set +e
  [ -n "$CTL_PID" ] && kill "$CTL_PID" 2>/dev/null && wait "$CTL_PID" 2>/dev/null
  for ns in "$NSA" "$NSB"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  for p in vsd ovsdb; do [ -f "$D/$p.pid" ] && kill "$(cat "$D/$p.pid")" 2>/dev/null; done
  sleep 0.3
  ip link del "$BR" 2>/dev/null
  ip link del "${NSA:0:12}h" 2>/dev/null; ip link del "${NSB:0:12}h" 2>/dev/null
  rm -rf "$D"
}
trap cleanup EXIT INT TERM

echo "== private Open vSwitch in $D"
ovsdb-tool create "$D/conf.db" /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server --remote=punix:"$D/db.sock" --pidfile="$D/ovsdb.pid" --detach --log-file="$D/ovsdb.log" -vconsole:off "$D/conf.db"
VSCTL="ovs-vsctl --db=unix:$D/db.sock"
$VSCTL --no-wait init
ovs-vswitchd unix:"$D/db.sock" --disable-system --pidfile="$D/vsd.pid" --detach --log-file="$D/vsd.log" -vconsole:off
$VSCTL add-br "$BR" -- set bridge "$BR" datapath_type=netdev fail_mode=secure protocols=OpenFlow13

add_container() { # ns ofport ip
  local ns=$1 port=$2 ip=$3 host="${1:0:12}h"
  ip netns add "$ns"
  ip link add "$host" type veth peer name eth0 netns "$ns"
  ip link set "$host" up
  ip netns exec "$ns" ip addr add "$ip/24" dev eth0
  ip netns exec "$ns" ip link set eth0 up
  ip netns exec "$ns" ip link set lo up
  # Userspace datapath: TCP through conntrack needs checksum offload off on both veth ends.
  ethtool -K "$host" tx off >/dev/null
  ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null
  $VSCTL add-port "$BR" "$host" -- set interface "$host" ofport_request="$port"
  echo "$port=$ip=$(ip netns exec "$ns" cat /sys/class/net/eth0/address)"
}
EPA=$(add_container "$NSA" 1 10.9.0.1)
EPB=$(add_container "$NSB" 2 10.9.0.2)

echo "== controller (contiv-ts) for endpoints $EPA (client) and $EPB (server, tcp/80 allowed)"
LOG=$D/controller.log
node dist/cli/demo.js --switch "unix:$D/$BR.mgmt" --endpoint "$EPA" --endpoint "$EPB" --allow-port 80 >"$LOG" 2>&1 &
CTL_PID=$!
for _ in $(seq 100); do grep -q '^converged' "$LOG" && break; sleep 0.1; done
cat "$LOG"
grep -q '^converged' "$LOG" || { echo "controller did not converge"; exit 1; }

echo "== ovs-ofctl's view of the same flows"
ovs-ofctl -O OpenFlow13 dump-flows "unix:$D/$BR.mgmt" --no-stats

echo "== traffic"
check() { if "${@:2}" >/dev/null 2>&1; then echo "  $1: passes"; else echo "  $1: blocked"; fi; }
ip netns exec "$NSB" nc -l -k -p 80 >/dev/null 2>&1 &
ip netns exec "$NSB" nc -l -k -p 22 >/dev/null 2>&1 &
ip netns exec "$NSA" nc -l -k -p 22 >/dev/null 2>&1 &
sleep 0.3
check "ping 10.9.0.2 (icmp allowed)" ip netns exec "$NSA" ping -c 2 -W 2 10.9.0.2
check "tcp 10.9.0.2:80 (allowed, stateful)" ip netns exec "$NSA" nc -z -w 2 10.9.0.2 80
check "tcp 10.9.0.2:22 (denied)" ip netns exec "$NSA" nc -z -w 2 10.9.0.2 22
check "tcp 10.9.0.1:22 from the server (denied)" ip netns exec "$NSB" nc -z -w 2 10.9.0.1 22

if [ "${DEMO_HOLD:-}" = 1 ]; then
  echo "== holding; management socket unix:$D/$BR.mgmt; Ctrl-C to stop and clean up"
  wait "$CTL_PID"
fi
