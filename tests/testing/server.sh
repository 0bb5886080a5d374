# Sourced by the shell tests: start_server SERVER_BINARY WORK_DIR starts the
# real server on a free port with a SQLite store in WORK_DIR, and sets
# server_pid and port (the caller kills $server_pid). Prunes delete at once
# (--prune-retention=0s): these tests check what a client prunes; the
# retention has tests of its own.
start_server() {
  "$1" --listen=127.0.0.1:0 --metrics-listen= --store="sqlite://$2/journal.db" \
    --prune-retention=0s 2>"$2/server.log" &
  server_pid=$!
  port=
  for _ in $(seq 200); do
    port=$(grep -o 'listening grpc=127.0.0.1:[0-9]*' "$2/server.log" | cut -d: -f2 || true)
    [[ -n $port ]] && return 0
    sleep 0.05
  done
  cat "$2/server.log" >&2
  return 1
}
