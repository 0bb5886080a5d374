# Sourced: the versions of Debian's packages this release ships, so that the
# scripts work on Debian 12 (bookworm: PostgreSQL 15, clang 14) and Debian 13
# (trixie: PostgreSQL 17, clang 19). Sets AJ_PG_MAJOR, AJ_CLANG_MAJOR and
# PGBIN; AJ_PG_MAJOR may be set by hand to another installed major.
case $(cut -d. -f1 /etc/debian_version 2>/dev/null) in
  13 | trixie*) : "${AJ_PG_MAJOR:=17}" "${AJ_CLANG_MAJOR:=19}" ;;
  *) : "${AJ_PG_MAJOR:=15}" "${AJ_CLANG_MAJOR:=14}" ;;
esac
PGBIN=/usr/lib/postgresql/$AJ_PG_MAJOR/bin
