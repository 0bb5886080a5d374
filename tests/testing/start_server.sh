# Sourced by the tests' shell scripts.
# start_server BINARY LOG [FLAGS...]: starts the server on free ports of
# 127.0.0.1 (FLAGS may override them) and waits up to 30 s for it to log
# them; sets server_pid, grpc (host:port) and metrics (host:port, or "off").
# Shows the log and returns 1 when it does not start.
start_server() {
  local bin=$1 log=$2
  shift 2
  "$bin" --listen=127.0.0.1:0 --metrics-listen=127.0.0.1:0 "$@" 2>"$log" &
  server_pid=$!
  for _ in $(seq 300); do
    grep -qs 'listening grpc=' "$log" && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  grpc=$(sed -n 's/.*listening grpc=\([^ ]*\).*/\1/p' "$log")
  metrics=$(sed -n 's/.*listening.* metrics=\([^ ]*\).*/\1/p' "$log")
  [[ -n $grpc ]] || { cat "$log" >&2; return 1; }
}
