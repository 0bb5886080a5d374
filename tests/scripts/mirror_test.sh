#!/usr/bin/env bash
# The container check takes Debian's mirrors only from apt's configuration or
# AJ_DEBIAN_MIRROR / AJ_DEBIAN_SECURITY_MIRROR, and fails clearly with
# neither (scripts/debian-mirrors.sh against fake apt configurations); and no
# script, test or document names a package mirror's host.
# usage: mirror_test.sh SOURCE_DIR
set -euo pipefail
src=$(realpath "$1")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/aj-mirror-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
unset AJ_DEBIAN_MIRROR AJ_DEBIAN_SECURITY_MIRROR
source "$src/scripts/debian-mirrors.sh"
failures=0
expect() {  # expect WHAT GOT WANT
  if [[ $2 == "$3" ]]; then echo "ok: $1"; else echo "FAIL: $1: got '$2', want '$3'"; failures=$((failures + 1)); fi
}

# deb822, as Debian 12 installs it: comments inside stanzas, a disabled
# stanza and a third-party source that must not be taken.
mkdir -p "$tmp/deb822/sources.list.d"
cat >"$tmp/deb822/sources.list.d/other.sources" <<'SRC'
Types: deb
URIs: http://other.example/node_20.x
Suites: nodistro
Components: main
SRC
cat >"$tmp/deb822/sources.list.d/debian.sources" <<'SRC'
Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb deb-src
# a comment line inside the stanza
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
SRC
mirror= security=
debian_mirrors "$tmp/deb822" 2>"$tmp/err" || true
expect "deb822 archive" "$mirror" http://mirror.example/debian
expect "deb822 security" "$security" http://mirror.example/debian-security

# One-line sources.list with options and a commented-out line first.
mkdir -p "$tmp/oneline/sources.list.d"
cat >"$tmp/oneline/sources.list" <<'SRC'
# deb http://commented.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://one.example/debian bookworm main contrib
deb-src http://src.example/debian bookworm main
deb http://one.example/debian-security bookworm-security main
SRC
mirror= security=
debian_mirrors "$tmp/oneline" 2>"$tmp/err" || true
expect "sources.list archive" "$mirror" http://one.example/debian
expect "sources.list security" "$security" http://one.example/debian-security

# The variables win over apt's configuration, and stand in for a missing one.
mirror= security=
AJ_DEBIAN_MIRROR=http://var.example/debian AJ_DEBIAN_SECURITY_MIRROR=http://var.example/sec \
  debian_mirrors "$tmp/oneline" 2>"$tmp/err" || true
expect "AJ_DEBIAN_MIRROR wins" "$mirror" http://var.example/debian
expect "AJ_DEBIAN_SECURITY_MIRROR wins" "$security" http://var.example/sec
mkdir -p "$tmp/empty"
rc=0
AJ_DEBIAN_MIRROR=http://var.example/debian AJ_DEBIAN_SECURITY_MIRROR=http://var.example/sec \
  debian_mirrors "$tmp/empty" 2>"$tmp/err" || rc=$?
expect "variables alone suffice" "$rc $mirror $security" "0 http://var.example/debian http://var.example/sec"

# Neither: a clear failure naming what to set, and no guessed host.
rc=0
mirror= security=
debian_mirrors "$tmp/empty" 2>"$tmp/err" || rc=$?
expect "no source: exit code" "$rc" 1
expect "no source: no archive guessed" "$mirror$security" ""
expect "no source: message names both variables" \
  "$(grep -c '(set AJ_DEBIAN_MIRROR,' "$tmp/err") $(grep -c '(set AJ_DEBIAN_SECURITY_MIRROR,' "$tmp/err")" "1 1"
# An archive without a security source fails too, naming only what is missing.
rc=0
printf 'deb http://one.example/debian bookworm main\n' >"$tmp/oneline/sources.list"
debian_mirrors "$tmp/oneline" 2>"$tmp/err" || rc=$?
expect "no security source: exit code" "$rc" 1
expect "no security source: names its variable only" \
  "$(grep -c '(set AJ_DEBIAN_SECURITY_MIRROR,' "$tmp/err") $(grep -c '(set AJ_DEBIAN_MIRROR,' "$tmp/err")" "1 0"

# container-test.sh takes its mirror from this function and nowhere else.
expect "container-test.sh sources debian-mirrors.sh" \
  "$(grep -c 'source "$root/scripts/debian-mirrors.sh"' "$src/scripts/container-test.sh")" 1
expect "container-test.sh stops when there is no mirror" \
  "$(grep -c 'debian_mirrors || exit 1' "$src/scripts/container-test.sh")" 1


# The patterns are built from parts so that this file does not name them.
d=debian o=org u=ubuntu c=com m=mirrors
patterns=(
  "(deb|ftp(\\.[a-z]{2})?|security|httpredir|snapshot|archive|cdn-[a-z]+)\\.$d\\.$o"
  "(archive|security|ports|[a-z]{2}\\.archive)\\.$u\\.$c"
  "mirrors?\\.[a-z0-9-]+(\\.[a-z0-9-]+)*\\.[a-z]{2,}"
)
# Reserved example names (RFC 2606) are not hosts.
allowed='\.(example|invalid|test|localhost)([^a-z0-9.-]|$)|example\.(com|org|net)'
paths=()
for p in scripts tests docs deploy examples bench .ci README.md Dockerfile; do
  [[ -e $src/$p ]] && paths+=("$src/$p")
done
find_hosts() {
  grep -rInEo --exclude-dir=node_modules --exclude-dir=build \
    "$(IFS='|'; echo "${patterns[*]}")" "$@" | grep -vE "$allowed"
}
hits=$(find_hosts "${paths[@]}" || true)
if [[ -n $hits ]]; then
  echo "FAIL: package mirror hosts named (take them from apt or AJ_DEBIAN_MIRROR instead):"
  echo "$hits"
  failures=$((failures + 1))
fi
# The check can fail: planted hosts are found, a reserved example name is not.
printf '%s\n' "url=http://deb.$d.$o/$d" "http://ftp.de.$d.$o/$d" \
  "http://$m.edge.kernel.$o/$d" "http://mirror.example/$d" >"$tmp/planted.sh"
expect "the host check finds planted hosts" "$(find_hosts "$tmp/planted.sh" | wc -l)" 3
expect "no package mirror host in ${paths[*]#$src/}" "$hits" ""

((failures == 0)) || { echo "$failures failure(s)"; exit 1; }
echo "mirror_test: ok"
