#!/usr/bin/env bash
# Fails when a C++ file of the project is not as clang-format (the repo's
# .clang-format: Google style) would write it; `--fix` rewrites them.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cc' '*.h' | grep -v '^tests/deploy/')
if [[ ${1:-} == --fix ]]; then
  clang-format-14 -i $files
  exit
fi
clang-format-14 --dry-run --Werror $files
