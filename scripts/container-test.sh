#!/usr/bin/env bash
# Builds the Dockerfile unchanged with podman (no Docker engine needed) and
# runs the image: gRPC health and /metrics are checked from outside, then
# SIGTERM must stop it with exit code 0.
#
# There is no registry here, so the base image the FROM lines name
# (debian:bookworm) is made locally with debootstrap first. Podman's storage,
# configuration and that base image live under $AJ_CONTAINER_DIR (default
# ./.cache/container), never in the machine's own podman set-up.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
state=${AJ_CONTAINER_DIR:-$root/.cache/container}
image=actionjournal:$(sed -n 's/^project(actionjournal VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
start=$(date +%s)
log() { echo "container-test [$(($(date +%s) - start))s]: $*" >&2; }
source "$root/scripts/debian-mirrors.sh"

# Tools: Debian's podman, buildah, runc (crun fails on these machines' mixed
# cgroup set-up) and debootstrap; the host's CLI checks health from outside.
needed=(podman buildah runc debootstrap curl uidmap)
missing=()
for p in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi
./scripts/build.sh actionjournal-cli >/dev/null

# Podman confined to $state.
mkdir -p "$state"/{storage,run,tmp}
cat >"$state/storage.conf" <<CONF
[storage]
driver = "${AJ_STORAGE_DRIVER:-overlay}"
graphroot = "$state/storage"
runroot = "$state/run"
CONF
cat >"$state/containers.conf" <<CONF
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$state/events.log"
tmp_dir = "$state/tmp"
[containers]
log_driver = "k8s-file"
CONF
cat >"$state/registries.conf" <<CONF
unqualified-search-registries = ["docker.io"]
CONF
export CONTAINERS_STORAGE_CONF=$state/storage.conf
export CONTAINERS_CONF=$state/containers.conf
export CONTAINERS_REGISTRIES_CONF=$state/registries.conf
export TMPDIR=$state/tmp
ulimits=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)

# The base image, made once: a minimal Debian 12 from Debian's mirror, under
# the exact name FROM resolves debian:bookworm to.
if ! podman image exists docker.io/library/debian:bookworm; then
  tarball=$state/debian-bookworm.tar
  if [[ ! -s $tarball ]]; then
    # The mirrors this machine's apt uses, or AJ_DEBIAN_MIRROR and
    # AJ_DEBIAN_SECURITY_MIRROR; no host is assumed.
    debian_mirrors || exit 1
    log "debootstrap bookworm (minbase) from $mirror (security: $security)"
    rm -rf "$state/rootfs"
    debootstrap --variant=minbase bookworm "$state/rootfs" "$mirror" >"$state/debootstrap.log" 2>&1 ||
      { tail -20 "$state/debootstrap.log"; exit 1; }
    # Apt sources as in Debian's own image: updates and security too, so that
    # the Dockerfile's apt-get gets the same packages as on Docker Hub's.
    rm -f "$state/rootfs/etc/apt/sources.list"
    cat >"$state/rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    rm -rf "$state/rootfs"/var/cache/apt/archives/*.deb "$state/rootfs"/var/lib/apt/lists/*
    tar -C "$state/rootfs" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
    rm -rf "$state/rootfs"
  fi
  log "importing the base image"
  podman import --change 'CMD ["bash"]' "$tarball" docker.io/library/debian:bookworm >/dev/null
fi

log "building $image from the Dockerfile"
podman build --pull=never --network=host "${ulimits[@]}" -t "$image" -f Dockerfile . \
  >"$state/build.log" 2>&1 || { tail -40 "$state/build.log"; exit 1; }
log "built; $(podman image inspect "$image" --format '{{.Size}}') bytes"
[[ $(podman image inspect "$image" --format '{{.Config.User}}') == 10001:10001 ]] ||
  { echo "the image must run as the non-root user 10001" >&2; exit 1; }

source "$(dirname "${BASH_SOURCE[0]}")/free-port.sh"
grpc_port=$(free_port)
metrics_port=$(free_port)
name=actionjournal-test-$$
cleanup() { podman rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
log "running $image (gRPC on 127.0.0.1:$grpc_port, metrics on 127.0.0.1:$metrics_port)"
# Published on 127.0.0.1 only, so the image's 0.0.0.0 may go without tokens.
podman run -d --name "$name" "${ulimits[@]}" \
  -e ACTIONJOURNAL_INSECURE_ALLOW_UNAUTHENTICATED=true \
  -p "127.0.0.1:$grpc_port:7450" -p "127.0.0.1:$metrics_port:9450" "$image" >/dev/null

cli=(./build/client/actionjournal-cli --target "127.0.0.1:$grpc_port" --deadline 2s)
for _ in $(seq 60); do
  "${cli[@]}" health >/dev/null 2>&1 && break
  sleep 0.5
done
"${cli[@]}" health || { podman logs "$name"; exit 1; }
"${cli[@]}" health --service liveness
"${cli[@]}" append --job container --key k --seq 1 --action a --completion done
metrics=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics")
grep -q '^actionjournal_appends_total{outcome="appended"} 1$' <<<"$metrics" ||
  { echo "/metrics did not count the append:" >&2; grep '^actionjournal_appends' <<<"$metrics" >&2; exit 1; }
grep -q '^actionjournal_build_info{.*store="sqlite"' <<<"$metrics"
log "health SERVING and /metrics counted the append, from outside the container"

podman stop -t 30 "$name" >/dev/null
code=$(podman inspect "$name" --format '{{.State.ExitCode}}')
podman logs "$name" 2>&1 | tail -3
[[ $code == 0 ]] || { echo "exit code $code after SIGTERM, expected 0" >&2; exit 1; }
log "SIGTERM: exit code 0. passed"
