#!/usr/bin/env bash
# Renders every deploy/ overlay with kubectl kustomize and validates each
# object (check.js): schemas, then agreement with the server and Dockerfile.
# usage: check.sh SOURCE_DIR WORK_DIR (npm packages are cached in WORK_DIR)
set -euo pipefail
root=$1 work=$2
mkdir -p "$work"
# The npm packages, from the lockfile, once per lockfile.
if ! cmp -s "$root/tests/deploy/package-lock.json" "$work/package-lock.json"; then
  rm -rf "$work/node_modules"
  cp "$root/tests/deploy/package.json" "$root/tests/deploy/package-lock.json" "$work/"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi
rendered=()
for overlay in "$root"/deploy/overlays/*/; do
  name=$(basename "$overlay")
  kubectl kustomize "$overlay" >"$work/$name.yaml" 2>"$work/$name.stderr" ||
    { cat "$work/$name.stderr"; exit 1; }
  rendered+=("$work/$name.yaml")
done
NODE_PATH="$work/node_modules" node "$root/tests/deploy/check.js" "$root" "${rendered[@]}"
