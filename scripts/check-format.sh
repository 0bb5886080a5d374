#!/usr/bin/env bash
# Fails when a C++ file of the project is not as clang-format (the repo's
# .clang-format: Google style) would write it; `--fix` rewrites them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/debian-versions.sh
format=clang-format-$AJ_CLANG_MAJOR
files=$(git ls-files '*.cc' '*.h' | grep -v '^tests/deploy/')
if [[ ${1:-} == --fix ]]; then
  "$format" -i $files
  exit
fi
"$format" --dry-run --Werror $files
