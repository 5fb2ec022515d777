#!/usr/bin/env bash
# The managed-plugin demo (the seed's `make demo-v2plugin`): builds contiv/v2plugin, makes the
# demo's dockerd a single-node swarm, installs the plugin there with plugin_role=master (netmaster
# + netplugin, embedded store, its own userspace OVS) in swarm-mode, runs the seed's two swarm
# workflows (Contiv policy through contiv-tag; the plain Docker one) with dnsrr services, and leaves
# everything running. Running it again is harmless: what exists is kept. `make demo-stop` ends it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
. scripts/demo-common.sh
if alive "$S/netplugin.pid"; then
  echo "the all-in-one demo (make demo) runs in $S: make demo-stop first"; exit 1
fi
P=${V2PLUGIN_NAME:-contiv/v2plugin:$(node -p "require('./package.json').version")}
LOGS=$S/v2plugin/log
mkdir -p "$LOGS"
# The marker demo-stop and demo.sh look for.
echo "$P" > "$S/v2plugin/demo"

demo_dockerd
demo_image

# ---- swarm mode first, as the seed does (the plugin then runs in swarm-mode)
if [ "$(docker info -f '{{.Swarm.LocalNodeState}}')" != active ]; then
  echo "\$ docker swarm init --advertise-addr 127.0.0.1"
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null
fi
echo "== swarm: $(docker node ls --format '{{.Hostname}} {{.ManagerStatus}}')"

# ---- the plugin: built and created here (there is no registry to `docker plugin install` from)
if ! docker plugin inspect "$P" >/dev/null 2>&1; then
  V2PLUGIN_NAME=$P V2PLUGIN_DIR=$S/v2plugin/build bash v2plugin/build.sh
  rm -rf "$S/v2plugin/build"
  echo "\$ docker plugin set $P plugin_role=master CONTIV_NETPLUGIN_MODE=swarm-mode …"
  docker plugin set "$P" plugin_role=master CONTIV_NETPLUGIN_ETCD_ENDPOINTS= \
    CONTIV_NETPLUGIN_MODE=swarm-mode CONTIV_NETMASTER_MODE=swarm-mode CONTIV_OVS=own \
    CONTIV_NETPLUGIN_VTEP_IP=127.0.0.1 CONTIV_NETMASTER_EXTERNAL_ADDRESS=127.0.0.1:9999 \
    log_dir.source="$LOGS" docker_dir.source="$(dirname "$DOCKER_SOCK")"
fi
if [ "$(docker plugin inspect -f '{{.Enabled}}' "$P")" != true ]; then
  echo "\$ docker plugin enable $P"
  docker plugin enable "$P" >/dev/null || { tail -5 "$LOGS/plugin_bootup.log"; exit 1; }
fi
docker plugin ls
# TLS with netmaster's own CA; the plugin writes the local admin credential to the host's /run/contiv.
export NETMASTER=https://127.0.0.1:9999 CONTIV_ADMIN_CONF=/run/contiv/admin.conf
NETCTL="node $ROOT/dist/cli/netctl/main.js"
for _ in $(seq 150); do $NETCTL version >/dev/null 2>&1 && break; sleep 0.2; done
$NETCTL version >/dev/null || { echo "netmaster did not answer; see $LOGS"; tail -5 "$LOGS/plugin_bootup.log"; exit 1; }
echo "== netmaster $NETMASTER (in the plugin), logs in $LOGS"

# Today's dockerd makes a plugin's network a swarm network only when told so: the seed's line
# first, then with --scope swarm --attachable.
network() { # name, then the seed's create arguments
  local n=$1; shift
  docker network inspect "$n" >/dev/null 2>&1 && return 0
  echo "\$ docker network create $n $*"
  docker network create "$n" "$@" >/dev/null 2>&1 ||
    { echo "  (again with --scope swarm --attachable)"; docker network create "$n" "$@" --scope swarm --attachable >/dev/null; }
}
# A dnsrr service (no IPVS in this kernel for service virtual IPs) of 3 busybox replicas.
service() { # name, network
  docker service inspect "$1" >/dev/null 2>&1 && return 0
  echo "\$ docker service create --name $1 --replicas 3 --network $2 --endpoint-mode dnsrr bbox sleep 1d"
  docker service create --name "$1" --replicas 3 --network "$2" --endpoint-mode dnsrr \
    --no-resolve-image --detach bbox sleep 1d >/dev/null
}
tasks() { docker ps -q --filter "label=com.docker.swarm.service.name=$1"; }
ip_of() { docker inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1"; }
# Waits for the replicas, shows their addresses, pings the others from the first.
show() { # service, network
  local n
  for _ in $(seq 150); do n=$(tasks "$1" | wc -l); [ "$n" -ge 3 ] && break; sleep 0.2; done
  if [ "$n" -lt 3 ]; then
    echo "  $1: $n of 3 replicas running"; docker service ps --no-trunc "$1" | sed 's/^/  /'; return 1
  fi
  local ids first ip
  ids=$(tasks "$1"); first=$(echo "$ids" | head -1)
  for id in $ids; do echo "  $1 task ${id:0:12}: $(ip_of "$id" "$2")"; done
  for id in $(echo "$ids" | tail -n +2); do
    ip=$(ip_of "$id" "$2")
    if docker exec "$first" ping -c1 -W2 "$ip" >/dev/null 2>&1; then echo "  ${first:0:12} → $ip: reached"; else echo "  ${first:0:12} → $ip: NOT reached"; exit 1; fi
  done
  docker exec "$first" nslookup "tasks.$1" 2>/dev/null | grep -A1 '^Name' | sed 's/^/  /' || true
}
step() { echo "\$ netctl $*"; $NETCTL "$@" 2>&1 | sed 's/^/  /'; }

# ---- 5.2: Contiv policy, the Docker network mapped to group1 by its tag
echo "== the seed's swarm workflow with Contiv policy (contiv-tag)"
$NETCTL net inspect contiv-net-1 >/dev/null 2>&1 || step network create contiv-net-1 -s 200.1.1.1/24 -g 200.1.1.200
$NETCTL policy inspect p1 >/dev/null 2>&1 || step policy create p1
$NETCTL group inspect group1 >/dev/null 2>&1 || step group create -p p1 -tag policylabel contiv-net-1 group1
network svc-net2 -o contiv-tag=policylabel -d "$P" --ipam-opt contiv-tag=policylabel --ipam-driver "$P"
service my-policy-db svc-net2
show my-policy-db svc-net2

# ---- 5.1: a Docker network of the plugin without Contiv objects (no multi-tenancy or policy)
echo "== the seed's plain swarm workflow"
network svc-net1 --subnet 100.1.1.0/24 --gateway 100.1.1.254 -d "$P" --ipam-driver "$P"
service my-db svc-net1
show my-db svc-net1

cat <<EOF

contiv-ts runs as the managed plugin $P on a single-node swarm (state in $S). Try:
  export NETMASTER=$NETMASTER CONTIV_ADMIN_CONF=$CONTIV_ADMIN_CONF DOCKER_HOST=$DOCKER_HOST
  docker plugin ls; docker service ls; docker service ps my-policy-db
  docker service scale my-policy-db=5
  $NETCTL policy rule-add p1 1 -direction=in -protocol=icmp -action=deny
  docker exec \$(docker ps -q -f label=com.docker.swarm.service.name=my-policy-db | head -1) ping -c2 tasks.my-policy-db
  $NETCTL endpoint inspect <container id>; cat $LOGS/plugin_bootup.log
Stop everything with: make demo-stop
EOF
