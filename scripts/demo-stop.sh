#!/usr/bin/env bash
# Ends what `make demo` or `make demo-v2plugin` started: containers, services and networks,
# netplugin or the managed plugin and the swarm, a private dockerd, the private Open vSwitch, and
# the demo's state. A system dockerd is left running (but leaves the demo's swarm).
set -uo pipefail
S=${CONTIV_DEMO_DIR:-/run/contiv-ts-demo}
[ -d "$S" ] || { echo "no demo running ($S absent)"; exit 0; }
docker() { if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else command docker "$@"; fi; }
stop() { # pidfile
  [ -f "$1" ] || return 0
  local pid; pid=$(cat "$1")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
}
if [ -S "$S/docker/docker.sock" ]; then export DOCKER_HOST=unix://$S/docker/docker.sock; fi
if docker version >/dev/null 2>&1; then
  docker rm -f web1 web2 web3 >/dev/null 2>&1
  # The networks netmaster made (labelled as ours).
  if [ -f "$S/v2plugin/demo" ]; then
    docker service rm my-db my-policy-db >/dev/null 2>&1
    for _ in $(seq 100); do
      [ -z "$(docker ps -aq --filter label=com.docker.swarm.service.name)" ] && break; sleep 0.2
    done
    docker network rm svc-net1 svc-net2 >/dev/null 2>&1
  fi
  docker network ls -q --filter label=io.contiv.managed-by | xargs -r docker network rm >/dev/null 2>&1
  if [ -f "$S/v2plugin/demo" ]; then
    P=$(cat "$S/v2plugin/demo")
    # Its SIGTERM handling stops netplugin and its OVS and removes the taps it made.
    docker plugin disable -f "$P" >/dev/null 2>&1
    docker plugin rm -f "$P" >/dev/null 2>&1
    docker swarm leave --force >/dev/null 2>&1
  fi
fi
stop "$S/netplugin.pid"
if [ -f "$S/docker/docker.pid" ]; then
  stop "$S/docker/docker.pid"
  stop "$S/docker/exec/containerd/containerd.pid"
  grep " $(realpath "$S")/docker" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  # Swarm's bridge for its ingress sandbox outlives the private dockerd.
  ip link del docker_gwbridge 2>/dev/null
fi
if [ -f "$S/ovs/vswitchd.pid" ]; then
  stop "$S/ovs/vswitchd.pid"
  # The userspace datapath's tap outlives a stopped ovs-vswitchd.
  ip link del ovs-netdev 2>/dev/null
fi
stop "$S/ovs/ovsdb.pid"
ip link del contivbr 2>/dev/null
ip link del contivh0 2>/dev/null
# netplugin's host-access MASQUERADE rule(s), found by their comment.
iptables -w 5 -t nat -S POSTROUTING 2>/dev/null | grep -- '--comment "contiv-ts host access"' | sed 's/^-A /-D /' |
  while read -r rule; do eval "iptables -w 5 -t nat $rule"; done
rm -f /run/docker/plugins/netplugin.sock
rm -rf "$S"
echo "demo stopped"
