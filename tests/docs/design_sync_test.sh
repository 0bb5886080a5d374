#!/usr/bin/env bash
# docs/DESIGN.md is the team's contract, kept as an exact copy of the shared
# one. Compares it with the file named by the first argument or, by default,
# ../shared/DESIGN.md beside the repository: exit 0 when identical, 1 (with
# the diff) when not, 77 (skipped) when the shared file does not exist, as
# in a clone made elsewhere.
# usage: design_sync_test.sh [SHARED_DESIGN_MD]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=${1:-$root/../shared/DESIGN.md}
ours=$root/docs/DESIGN.md
if [[ ! -f $shared ]]; then
  echo "SKIP: no shared design at $shared"
  exit 77
fi
if diff -u "$shared" "$ours"; then
  echo "docs/DESIGN.md is identical to $shared"
  exit 0
fi
echo "FAIL: docs/DESIGN.md differs from $shared (the diff above, from the shared" \
  "file to ours); copy it over: cp '$shared' docs/DESIGN.md"
exit 1
