# Sourced: debian_mirrors [APT_ETC] sets `mirror` and `security` to the
# Debian 12 (bookworm) archive and security archive this machine's apt uses
# (APT_ETC, default /etc/apt: sources.list, sources.list.d/*.list and deb822
# sources.list.d/*.sources), AJ_DEBIAN_MIRROR and AJ_DEBIAN_SECURITY_MIRROR
# winning over them. No host is built in: where neither names one, it says
# so and returns 1, since a guessed public mirror may be unreachable or
# forbidden from where this runs.

# Prints "mirror URI" and "security URI" lines for apt's bookworm sources.
_debian_mirror_candidates() {
  local etc=$1 f
  local -a lists=() sources=()
  [[ -f $etc/sources.list ]] && lists+=("$etc/sources.list")
  for f in "$etc"/sources.list.d/*.list; do [[ -f $f ]] && lists+=("$f"); done
  for f in "$etc"/sources.list.d/*.sources; do [[ -f $f ]] && sources+=("$f"); done
  # One-line style: deb [options] URI SUITE COMPONENT...
  if ((${#lists[@]})); then
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "${lists[@]}" | awk '
      $1 == "deb" && NF >= 3 {
        uri = $2; sub(/\/+$/, "", uri)
        if ($3 == "bookworm") print "mirror", uri
        if ($3 == "bookworm-security" || $3 == "bookworm/updates") print "security", uri
      }'
  fi
  # deb822 style: stanzas of Types/URIs/Suites/Enabled fields.
  if ((${#sources[@]})); then
    local s
    for s in "${sources[@]}"; do grep -v '^[[:space:]]*#' "$s"; echo; done | awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled !~ /^(no|false)$/ && uri != "") {
          n = split(suites, su, " ")
          for (i = 1; i <= n; i++) {
            if (su[i] == "bookworm") print "mirror", uri
            if (su[i] == "bookworm-security" || su[i] == "bookworm/updates") print "security", uri
          }
        }
        types = uri = suites = enabled = ""
      }
      /^[[:space:]]*$/ { flush(); next }
      {
        key = tolower($1); val = $0; sub(/^[^:]*:[[:space:]]*/, "", val)
        if (key == "types:") types = val
        else if (key == "uris:") { split(val, u, " "); uri = u[1]; sub(/\/+$/, "", uri) }
        else if (key == "suites:") suites = val
        else if (key == "enabled:") enabled = tolower(val)
      }
      END { flush() }'
  fi
}

debian_mirrors() {
  local etc=${1:-/etc/apt} found
  found=$(_debian_mirror_candidates "$etc")
  mirror=${AJ_DEBIAN_MIRROR:-$(awk '$1 == "mirror" { print $2; exit }' <<<"$found")}
  security=${AJ_DEBIAN_SECURITY_MIRROR:-$(awk '$1 == "security" { print $2; exit }' <<<"$found")}
  local missing=()
  [[ -n $mirror ]] || missing+=("the Debian archive (set AJ_DEBIAN_MIRROR, e.g. http://<your mirror>/debian)")
  [[ -n $security ]] || missing+=("the Debian security archive (set AJ_DEBIAN_SECURITY_MIRROR, e.g. http://<your mirror>/debian-security)")
  if ((${#missing[@]})); then
    local m
    echo "debian_mirrors: no bookworm source for the following; set AJ_DEBIAN_MIRROR and AJ_DEBIAN_SECURITY_MIRROR, or add it to apt's sources:" >&2
    for m in "${missing[@]}"; do echo "  - $m" >&2; done
    echo "  (looked in $etc/sources.list, $etc/sources.list.d/*.list and *.sources)" >&2
    return 1
  fi
}
