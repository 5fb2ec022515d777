#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo run against, only when something is missing.
set -euo pipefail
need=()
command -v ovs-vswitchd >/dev/null || need+=(openvswitch-switch)
command -v ethtool >/dev/null || need+=(ethtool)
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
command -v nc >/dev/null || need+=(netcat-openbsd)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v etcd >/dev/null || need+=(etcd-server)
command -v pgrep >/dev/null || need+=(procps)
command -v iptables >/dev/null || need+=(iptables)  # host access: MASQUERADE of the private subnet
command -v dockerd >/dev/null || need+=(docker.io)
command -v dnsmasq >/dev/null || need+=(dnsmasq-base)  # DNS tests' upstream and the DNS benchmark's peer
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v dig >/dev/null || need+=(bind9-dnsutils)
command -v podman >/dev/null || need+=(podman)  # CNI tests: a real runtime calling our plugin (CNI backend)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)  # podman's CNI backend and its loopback plugin
command -v go >/dev/null || need+=(golang-go)  # builds the libcni test helper (CHECK, DEL twice)
dpkg -s golang-github-appc-cni-dev >/dev/null 2>&1 || need+=(golang-github-appc-cni-dev)  # libcni sources for it
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)  # static: it is the image rootfs
command -v gobgpd >/dev/null || need+=(gobgpd)  # BGP: one speaker per host (routing mode)
[ -f /usr/share/gocode/src/github.com/osrg/gobgp/api/gobgp.proto ] || need+=(golang-github-osrg-gobgp-dev)  # gobgpd's .proto files, loaded at runtime
[ -x /usr/lib/frr/bgpd ] || need+=(frr)  # BGP tests: the ToR (zebra + bgpd)
command -v rsyslogd >/dev/null || [ -x /usr/sbin/rsyslogd ] || need+=(rsyslog)  # the daemons' syslog output, received for real
command -v docker-registry >/dev/null || need+=(docker-registry)  # v2plugin: push/install through a loopback registry
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
