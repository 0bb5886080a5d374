#!/usr/bin/env bash
# Configures and builds into ./build with Ninja (-j2). Extra args: targets.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-debian.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j2 "$@"
