#!/usr/bin/env bash
# Installs the Debian 12 or 13 packages the build and the tests need, if
# missing (scripts/debian-versions.sh picks PostgreSQL's and clang's majors).
# The Java side's dependencies come from Maven Central (scripts/setup-java.sh).
set -euo pipefail
source "$(dirname "$0")/debian-versions.sh"
packages=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libsqlite3-dev libpqxx-dev libgtest-dev libgmock-dev libzstd-dev
  prometheus-cpp-dev libcivetweb-dev libssl-dev openssl curl chromium
  openjdk-17-jdk-headless maven git
  "postgresql-$AJ_PG_MAJOR"
  pgbouncer prometheus iproute2 iptables procps
  "clang-$AJ_CLANG_MAJOR" "libclang-rt-$AJ_CLANG_MAJOR-dev" "clang-format-$AJ_CLANG_MAJOR"
)
# kubectl and node for the manifest checks: whatever the machine has, else
# Debian's.
command -v kubectl >/dev/null || packages+=(kubernetes-client)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
    --no-install-recommends "${missing[@]}"
fi
