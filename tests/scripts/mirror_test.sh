#!/usr/bin/env bash
# The container check takes Debian's mirrors only from apt's configuration or
# AJ_DEBIAN_MIRROR / AJ_DEBIAN_SECURITY_MIRROR, and fails clearly with
# neither; and no script, test or document names a package mirror's host.
# usage: mirror_test.sh SOURCE_DIR
set -euo pipefail
src=$(realpath "$1")
source "$src/scripts/debian-mirrors.sh"
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/aj-mirror.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
unset AJ_DEBIAN_MIRROR AJ_DEBIAN_SECURITY_MIRROR

# deb822 sources, with another distribution's stanza beside them.
mkdir -p "$work/a/sources.list.d"
cat >"$work/a/sources.list.d/debian.sources" <<'SRC'
Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
SRC
cat >"$work/a/sources.list.d/other.sources" <<'SRC'
Types: deb
URIs: https://other.example/node_20.x
Suites: nodistro
SRC
debian_mirrors "$work/a" || fail "deb822 sources not read"
[[ $mirror == http://mirror.example/debian ]] || fail "mirror from deb822: '$mirror'"
[[ $security == http://mirror.example/debian-security ]] || fail "security from deb822: '$security'"

# One-line sources.list.
mkdir -p "$work/b"
cat >"$work/b/sources.list" <<'SRC'
deb [arch=amd64] https://one.example/debian bookworm main
deb https://one.example/debian-security bookworm-security main
SRC
debian_mirrors "$work/b" || fail "sources.list not read"
[[ $mirror == https://one.example/debian && $security == https://one.example/debian-security ]] ||
  fail "sources.list: '$mirror' '$security'"

# The variables win.
AJ_DEBIAN_MIRROR=http://var.example/debian AJ_DEBIAN_SECURITY_MIRROR=http://var.example/sec \
  debian_mirrors "$work/b" || fail "variables refused"
[[ $mirror == http://var.example/debian && $security == http://var.example/sec ]] ||
  fail "variables did not win: '$mirror' '$security'"

# Neither: a clear failure, and no host made up.
mkdir -p "$work/empty"
if debian_mirrors "$work/empty" 2>"$work/err"; then fail "no sources, yet mirrors: '$mirror'"; fi
grep -q "set AJ_DEBIAN_MIRROR and AJ_DEBIAN_SECURITY_MIRROR" "$work/err" ||
  fail "unclear message: $(cat "$work/err")"

# No package mirror's host named anywhere in what the project ships (the
# patterns are built from parts, so that this file does not name one).
d=debian
hosts=("deb\.$d\.org" "security\.$d\.org" "ftp\.[a-z]*\.$d\.org" "httpredir\.$d\.org"
  "cdn-fastly\.deb\.$d\.org" "archive\.ubuntu\.com" "mirrors\.[a-z0-9.-]*\.(com|org|net)")
pattern=$(IFS='|'; echo "${hosts[*]}")
if grep -rInE "$pattern" "$src/scripts" "$src/tests" "$src/docs" "$src/README.md" \
  "$src/Dockerfile" "$src/deploy" "$src/.ci" --exclude-dir=node_modules 2>/dev/null; then
  fail "a package mirror's host is named above"
fi
echo "mirror_test: ok"
