# Sourced: debian_mirrors [APT_DIR] sets `mirror` and `security`, the Debian
# and Debian security archives to build images from: AJ_DEBIAN_MIRROR and
# AJ_DEBIAN_SECURITY_MIRROR when set, else the ones this machine's apt uses
# (APT_DIR, default /etc/apt: sources.list, sources.list.d/*.list and deb822
# *.sources). No host is assumed: with neither, it fails saying so.
debian_mirrors() {
  local apt_dir=${1:-/etc/apt} sources
  sources=$(cat "$apt_dir/sources.list" "$apt_dir"/sources.list.d/*.list \
    "$apt_dir"/sources.list.d/*.sources 2>/dev/null || true)
  mirror=$(sed -n -e 's%^URIs: *\(https\?://[^ ]*/debian\)/\?$%\1%p' \
    -e 's%^deb \(\[[^]]*\] \)\?\(https\?://[^ ]*/debian\)/\? bookworm .*%\2%p' <<<"$sources")
  security=$(sed -n -e 's%^URIs: *\(https\?://[^ ]*/debian-security\)/\?$%\1%p' \
    -e 's%^deb \(\[[^]]*\] \)\?\(https\?://[^ ]*/debian-security\)/\? .*%\2%p' <<<"$sources")
  mirror=${AJ_DEBIAN_MIRROR:-${mirror%%$'\n'*}}
  security=${AJ_DEBIAN_SECURITY_MIRROR:-${security%%$'\n'*}}
  if [[ -z $mirror || -z $security ]]; then
    echo "debian_mirrors: no Debian ${mirror:+security }archive in $apt_dir's sources;" \
      "set AJ_DEBIAN_MIRROR and AJ_DEBIAN_SECURITY_MIRROR" \
      "(for example to the URLs your apt uses)" >&2
    return 1
  fi
}
