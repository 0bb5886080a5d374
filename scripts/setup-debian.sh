#!/usr/bin/env bash
# Installs the Debian 12 packages the build and the tests need, if missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libsqlite3-dev libpqxx-dev libgtest-dev libgmock-dev libzstd-dev
  prometheus-cpp-dev libssl-dev openssl curl
  openjdk-17-jdk-headless libprotobuf-java
  libgrpc-java protobuf-compiler-grpc-java-plugin libnetty-java libguava-java
  libperfmark-java libgoogle-gson-java libgeronimo-annotation-1.3-spec-java
  libnetty-tcnative-java libnetty-tcnative-jni
  postgresql-15
  pgbouncer prometheus
  clang-14 libclang-rt-14-dev clang-format-14
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
