#!/usr/bin/env bash
# The all-in-one host: the embedded store, netmaster and netplugin in one process (CONTIV_ROLE=
# netmaster), a private userspace Open vSwitch, and a dockerd (the system's when one answers, else a
# private one). Creates the seed's network, policy and group, runs two containers in `web`, shows
# them reaching each other and the policy at work, and leaves everything running.
# Running it again is harmless: what runs is kept, what is missing is started. `make demo-stop` ends it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
. scripts/demo-common.sh
OVS=$S/ovs
BR=contivbr
if [ -f "$S/v2plugin/demo" ]; then
  echo "the managed-plugin demo (make demo-v2plugin) runs in $S: make demo-stop first"; exit 1
fi

# ---- Open vSwitch (private, userspace)
mkdir -p "$OVS"
if ! alive "$OVS/ovsdb.pid"; then
  [ -f "$OVS/conf.db" ] || ovsdb-tool create "$OVS/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  OVS_RUNDIR=$OVS ovsdb-server --remote=punix:"$OVS/db.sock" --pidfile="$OVS/ovsdb.pid" --detach \
    --log-file="$OVS/ovsdb.log" -vconsole:off "$OVS/conf.db"
  ovs-vsctl --db=unix:"$OVS/db.sock" --no-wait init
fi
if ! alive "$OVS/vswitchd.pid"; then
  OVS_RUNDIR=$OVS ovs-vswitchd unix:"$OVS/db.sock" --pidfile="$OVS/vswitchd.pid" --detach \
    --log-file="$OVS/vswitchd.log" -vconsole:off
fi
echo "== Open vSwitch: $OVS (db.sock, $BR.mgmt)"

# ---- dockerd: the system's if it answers, else our own
demo_dockerd
demo_image

# ---- netplugin + netmaster, one process, embedded store
if ! alive "$S/netplugin.pid"; then
  CONTIV_ROLE=netmaster setsid node "$ROOT/dist/cli/netplugin.js" \
    --data-dir "$S/state" --ovs-rundir "$OVS" --datapath netdev --bridge "$BR" \
    --vtep-ip 127.0.0.1 --host "$(hostname)" --listen-url 127.0.0.1:9999 \
    --docker-socket "$DOCKER_SOCK" --admin-conf "$S/admin.conf" >>"$S/netplugin.log" 2>&1 &
  echo $! > "$S/netplugin.pid"
fi
# TLS with netmaster's own CA; netctl signs in with the local admin credential netmaster wrote.
export NETMASTER=https://127.0.0.1:9999 CONTIV_ADMIN_CONF=$S/admin.conf
NETCTL="node $ROOT/dist/cli/netctl/main.js"
for _ in $(seq 150); do $NETCTL version >/dev/null 2>&1 && [ -S /run/docker/plugins/netplugin.sock ] && break; sleep 0.2; done
$NETCTL version >/dev/null || { echo "netmaster did not start; see $S/netplugin.log"; tail -20 "$S/netplugin.log"; exit 1; }
echo "== netmaster $NETMASTER, netplugin log $S/netplugin.log"

# ---- the seed's intent (existing objects are left as they are)
# A step that fails ends the demo with its error (set -e and pipefail see netctl's status).
step() { echo "\$ netctl $*"; $NETCTL "$@" 2>&1 | sed 's/^/  /'; }
$NETCTL net inspect contiv-net >/dev/null 2>&1 || step net create contiv-net --subnet=20.1.1.0/24 --gateway=20.1.1.254 --pkt-tag=1001
$NETCTL policy inspect prod_web >/dev/null 2>&1 || {
  step policy create prod_web
  step policy rule-add prod_web 1 -direction=in -protocol=tcp -action=deny
  step policy rule-add prod_web 2 -direction=in -protocol=tcp -port=80 -action=allow -priority=10
}
$NETCTL group inspect web >/dev/null 2>&1 || step group create contiv-net web -policy=prod_web
$NETCTL net ls
for _ in $(seq 50); do docker network inspect web.contiv-net >/dev/null 2>&1 && break; sleep 0.2; done
docker network inspect web.contiv-net >/dev/null || { echo "Docker network web.contiv-net did not appear; see $S/netplugin.log"; exit 1; }

# ---- two containers in web
for c in web1 web2; do
  docker rm -f "$c" >/dev/null 2>&1 || true
  echo "\$ docker run -itd --net web.contiv-net --name $c bbox sh"
  docker run -itd --net web.contiv-net --name "$c" bbox sh >/dev/null
done
ip_of() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
W1=$(ip_of web1); W2=$(ip_of web2)
echo "== web1 $W1, web2 $W2"
# busybox nc: -ll keeps listening; a client with stdin closed connects and leaves.
docker exec -d web1 nc -ll -p 80 -e cat
docker exec -d web1 nc -ll -p 22 -e cat
sleep 0.5
# check WHAT EXPECTED COMMAND...: says what happened, and ends the demo when the policy did otherwise.
check() {
  local got=blocked
  if "${@:3}" >/dev/null 2>&1; then got=passes; fi
  echo "  $1: $got"
  [ "$got" = "$2" ] || { echo "expected $1 to be $2; see $S/netplugin.log"; exit 1; }
}
echo "== traffic"
check "web2 → web1 ping" passes docker exec web2 ping -c 2 -W 2 "$W1"
check "web2 → web1 tcp/80 (rule 2 allows)" passes docker exec web2 nc -w 2 "$W1" 80 </dev/null
check "web2 → web1 tcp/22 (rule 1 denies)" blocked docker exec web2 nc -w 2 "$W1" 22 </dev/null

cat <<EOF

contiv-ts is running (state in $S). Try:
  export NETMASTER=$NETMASTER CONTIV_ADMIN_CONF=$CONTIV_ADMIN_CONF DOCKER_HOST=$DOCKER_HOST
  $NETCTL net ls
  $NETCTL group ls
  docker run -itd --net web.contiv-net --name web3 bbox sh
  ovs-ofctl -O OpenFlow13 dump-flows unix:$OVS/$BR.mgmt
The admin's password was printed once in $S/netplugin.log ("netctl login -u admin" with it, and
--insecure or the CA in $S/admin.conf, for a token of your own).
Stop everything with: make demo-stop
EOF
