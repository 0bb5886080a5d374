#!/usr/bin/env bash
# Sets up, builds and runs actionjournal-server on the embedded SQLite store
# (./data/actionjournal.db), listening on 127.0.0.1:7450. Flags pass through.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh actionjournal-server actionjournal-cli
exec ./build/server/actionjournal-server "$@"
