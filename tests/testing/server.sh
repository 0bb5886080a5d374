# Sourced by the shell tests: start_server SERVER_BINARY WORK_DIR [FLAGS...]
# starts the real server (under the command in the array server_runner,
# if set: on a test host) on a free port of 127.0.0.1 with a SQLite store in
# WORK_DIR and metrics off (FLAGS come after, so they may override both:
# --store=..., --metrics-listen=127.0.0.1:0), logging to WORK_DIR/server.log;
# sets server_pid, port, grpc (host:port), metrics and http (the
# HTTP gateway's; host:port, or "off"). The caller kills $server_pid. Prunes delete at once
# (--prune-retention=0s, which FLAGS may override): these tests check what a
# client prunes; the retention has tests of its own.
start_server() {
  local bin=$1 dir=$2
  shift 2
  "${server_runner[@]}" "$bin" --listen=127.0.0.1:0 --metrics-listen= --store="sqlite://$dir/journal.db" \
    --prune-retention=0s "$@" 2>"$dir/server.log" &
  server_pid=$!
  port=
  for _ in $(seq 400); do
    grpc=$(sed -n 's/.*listening grpc=\([^ ]*\).*/\1/p' "$dir/server.log")
    port=${grpc##*:}
    [[ -n $port ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  [[ -n $port ]] || { cat "$dir/server.log" >&2; return 1; }
  metrics=$(sed -n 's/.*listening.* metrics=\([^ ]*\).*/\1/p' "$dir/server.log")
  http=$(sed -n 's/.*listening.* http=\([^ ]*\).*/\1/p' "$dir/server.log")
}
