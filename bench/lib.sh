# Shared setup of the bench/run_*_bench.sh scripts (source it; bash only):
#   bench_init NAME       work directory $WORK (/tmp/tg-NAME.XXXXXX), $PIDS, and an EXIT
#                         trap that stops every PID in $PIDS (TERM, then KILL after 10 s)
#                         and removes $WORK on success (keeps it, and says so, on failure)
#   free_ports N          prints N free loopback ports (bound together, so distinct)
#   write_sink_config FILE GRPC HEALTH METRICS
#                         a sink tailgate: otlp grpc -> nop, with health_check and metrics
#   start_tailgate NAME CONFIG
#                         starts $TAILGATE --config CONFIG, output to $WORK/NAME.log; its PID
#                         goes to $PIDS and to $LAST_PID
#   wait_ready NAME PID HEALTH_PORT LOG
#                         until /health/ready answers (READY_TIMEOUT s, default 20), or
#                         fails with the log's tail when the process exits or time is up
#   metric_sum PORT FAMILY
#                         the sum of all series of FAMILY on http://127.0.0.1:PORT/metrics
# Everything listens on 127.0.0.1 only.

bench_init() {
  BENCH_NAME=$1
  WORK=$(mktemp -d "/tmp/tg-$1.XXXXXX")
  PIDS=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

# shellcheck disable=SC2317  # invoked through the EXIT trap
bench_cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    echo "$BENCH_NAME: work directory kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}

free_ports() {
  python3 -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
' "$1"
}

write_sink_config() {
  cat >"$1" <<SINK
receivers: {otlp: {protocols: {grpc: {endpoint: 127.0.0.1:$2, max_recv_msg_size_mib: 64}}}}
exporters: {nop: {}}
extensions: {health_check: {endpoint: 127.0.0.1:$3}}
service:
  extensions: [health_check]
  telemetry: {metrics: {address: 127.0.0.1:$4}}
  pipelines: {traces: {receivers: [otlp], exporters: [nop]}}
SINK
}

start_tailgate() {
  "$TAILGATE" --config "$2" >"$WORK/$1.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

wait_ready() {
  local name=$1 pid=$2 port=$3 log=$4
  local deadline=$((SECONDS + ${READY_TIMEOUT:-20}))
  while [ $SECONDS -lt $deadline ]; do
    kill -0 "$pid" 2>/dev/null || { echo "$BENCH_NAME: $name exited; log:" >&2; tail -n 30 "$log" >&2; return 1; }
    curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/health/ready" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$BENCH_NAME: $name not ready after ${READY_TIMEOUT:-20}s; log:" >&2
  tail -n 30 "$log" >&2
  return 1
}

metric_sum() {
  curl -fsS --max-time 2 "http://127.0.0.1:$1/metrics" 2>/dev/null |
    awk -v m="$2" 'index($1, m) == 1 && (substr($1, length(m) + 1, 1) == "{" || $1 == m) { s += $2 } END { printf "%.0f\n", s }'
}
