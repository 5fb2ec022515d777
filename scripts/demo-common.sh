# Sourced by demo.sh and demo-v2plugin.sh: the demo's state dir, its dockerd (the system's when one
# answers, else a private one in $S/docker) and the busybox image, started only when missing.
S=${CONTIV_DEMO_DIR:-/run/contiv-ts-demo}
mkdir -p "$S"
# Debian's CLI matches its dockerd (20.10); a newer one earlier on the PATH may not.
docker() { if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else command docker "$@"; fi; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Sets DOCKER_SOCK and exports DOCKER_HOST.
demo_dockerd() {
  if docker -H unix:///var/run/docker.sock version >/dev/null 2>&1; then
    DOCKER_SOCK=/var/run/docker.sock
  else
    DOCKER_SOCK=$S/docker/docker.sock
    if ! alive "$S/docker/docker.pid"; then
      mkdir -p "$S/docker"
      setsid dockerd --storage-driver=vfs --iptables=false --ip-masq=false --bridge=none \
        --data-root="$S/docker/root" --exec-root="$S/docker/exec" -H unix://"$DOCKER_SOCK" \
        --pidfile="$S/docker/docker.pid" >>"$S/docker/dockerd.log" 2>&1 &
      for _ in $(seq 100); do docker -H unix://"$DOCKER_SOCK" version >/dev/null 2>&1 && break; sleep 0.2; done
    fi
  fi
  export DOCKER_HOST=unix://$DOCKER_SOCK
  docker version --format 'dockerd {{.Server.Version}}' || { echo "dockerd did not answer on $DOCKER_SOCK"; exit 1; }
  echo "== Docker: $DOCKER_HOST"
}

# A tiny image from busybox-static: there is no registry to pull from.
demo_image() {
  docker image inspect bbox:latest >/dev/null 2>&1 && return 0
  local R=$S/rootfs
  rm -rf "$R"; mkdir -p "$R/bin" "$R/etc"
  cp /bin/busybox "$R/bin/busybox"
  for a in sh ping ip nc nslookup wget cat sleep ifconfig hostname; do ln -sf busybox "$R/bin/$a"; done
  echo 'root:x:0:0:root:/:/bin/sh' > "$R/etc/passwd"
  tar -C "$R" -c . | docker import - bbox:latest >/dev/null
}
