#!/usr/bin/env bash
# Jaeger benchmarks (issue 6). Everything on 127.0.0.1, ports picked at run time, every
# process started here stopped by PID on exit.
#
#   udp:  tg_jaeger_udpgen → tailgate (jaeger thrift_compact|thrift_binary → batch → nop)
#         at each offered rate: spans accepted, datagrams dropped (tailgate's counters by
#         reason, and the kernel's UDP receive-buffer errors), tailgate CPU, spans/s per
#         core (accepted spans / tailgate CPU seconds).
#   grpc: tg_loadgen (OTLP gRPC) → tailgate A (otlp → batch → jaeger exporter) →
#         tailgate B (jaeger grpc receiver → nop): spans delivered to B, A's CPU, spans/s
#         per core of A (conversion OTLP → api_v2 and PostSpans over gRPC C core).
#
# usage: bench/run_jaeger_bench.sh [udp|grpc|all] [--duration S] [--rates "R1 R2 ..."]
#        [--protocol compact|binary] [--workers N] [--spans-per-datagram N]
#        [--grpc-rate REQUESTS_PER_S]   (grpc: pace the loadgen, 100 spans a request;
#                                        default unpaced, i.e. overload with back-pressure)
# PERF_OUT=FILE: also `perf record -g` the exporting tailgate during the grpc load.
# Binaries: build/tailgate, build/bench/tg_jaeger_udpgen, build/bench/tg_loadgen
# (override with TAILGATE=, UDPGEN=, LOADGEN=).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODE=${1:-all}
[ $# -gt 0 ] && shift
DURATION=10
RATES="50000 100000 150000 200000"
PROTOCOL=compact
WORKERS=1
PER=50
GRPC_RATE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --rates) RATES=$2; shift 2 ;;
    --protocol) PROTOCOL=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --spans-per-datagram) PER=$2; shift 2 ;;
    --grpc-rate) GRPC_RATE=$2; shift 2 ;;
    *) echo "run_jaeger_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
TAILGATE=${TAILGATE:-$ROOT/build/tailgate}
UDPGEN=${UDPGEN:-$ROOT/build/bench/tg_jaeger_udpgen}
LOADGEN=${LOADGEN:-$ROOT/build/bench/tg_loadgen}
CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d /tmp/tg-jaeger-bench.XXXXXX)
PIDS=()

# shellcheck disable=SC2317  # via the EXIT trap
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# N free ports of a kind (tcp|udp), held open together while chosen.
free_ports() {
  /usr/bin/python3 - "$1" "$2" <<'EOF'
import socket, sys
kind, n = sys.argv[1], int(sys.argv[2])
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# metric NAME LABEL-SUBSTRING... from a metrics port: sum of matching series
metric() {
  local port=$1 name=$2
  shift 2
  curl -s "http://127.0.0.1:$port/metrics" | awk -v n="$name" -v f="$*" '
    index($0, n "{") == 1 { ok = 1; split(f, parts, " ");
      for (i in parts) if (index($0, parts[i]) == 0) ok = 0;
      if (ok) s += $NF }
    END { printf "%d\n", s }'
}

wait_ready() {
  local port=$1 pid=$2
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { echo "tailgate exited early" >&2; return 1; }
    sleep 0.05
  done
  echo "tailgate not ready" >&2
  return 1
}

start_tailgate() { # config-file log-file → echoes pid
  "$TAILGATE" --config "$1" >"$2" 2>&1 &
  echo $!
}

udp_errors() { awk '/^Udp: [0-9]/ {print $4 + $6}' /proc/net/snmp; } # InErrors + RcvbufErrors

bench_udp() {
  read -r health metrics <<<"$(free_ports tcp 2)"
  read -r uport <<<"$(free_ports udp 1)"
  cat >"$WORK/udp.yaml" <<EOF
receivers:
  jaeger:
    protocols:
      thrift_$PROTOCOL:
        endpoint: 127.0.0.1:$uport
        workers: $WORKERS
        queue_size: 1000
        socket_buffer_size: 8MiB
processors:
  batch:
exporters:
  nop:
extensions:
  health_check:
    endpoint: 127.0.0.1:$health
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: 127.0.0.1:$metrics
  pipelines:
    traces:
      receivers: [jaeger]
      processors: [batch]
      exporters: [nop]
EOF
  local pid
  pid=$(start_tailgate "$WORK/udp.yaml" "$WORK/udp.log")
  PIDS+=("$pid")
  wait_ready "$health" "$pid"
  echo "== udp: thrift_$PROTOCOL, $PER spans/datagram, $WORKERS decoder thread(s), ${DURATION}s per rate"
  printf '%-10s %-10s %-10s %-8s %-9s %-9s %-9s %-8s %-12s\n' offered sent accepted loss% \
    q_full undecod kern_err cpu_s spans/s/core
  for rate in $RATES; do
    local acc0 drop0 und0 k0 c0 acc1 drop1 und1 k1 c1 out sent
    acc0=$(metric "$metrics" tailgate_receiver_accepted_spans_total "transport=\"thrift_$PROTOCOL\"")
    drop0=$(metric "$metrics" tailgate_receiver_dropped_datagrams_total 'reason="queue_full"')
    und0=$(metric "$metrics" tailgate_receiver_dropped_datagrams_total 'reason="undecodable"')
    k0=$(udp_errors)
    c0=$(cpu_ticks "$pid")
    out=$("$UDPGEN" --target "127.0.0.1:$uport" --protocol "$PROTOCOL" --rate "$rate" \
      --duration "$DURATION" --spans-per-datagram "$PER")
    # let the queues drain (bounded): until the accepted count stops moving
    local last=-1 now
    for _ in $(seq 40); do
      now=$(metric "$metrics" tailgate_receiver_accepted_spans_total "transport=\"thrift_$PROTOCOL\"")
      [ "$now" = "$last" ] && break
      last=$now
      sleep 0.25
    done
    c1=$(cpu_ticks "$pid")
    k1=$(udp_errors)
    acc1=$(metric "$metrics" tailgate_receiver_accepted_spans_total "transport=\"thrift_$PROTOCOL\"")
    drop1=$(metric "$metrics" tailgate_receiver_dropped_datagrams_total 'reason="queue_full"')
    und1=$(metric "$metrics" tailgate_receiver_dropped_datagrams_total 'reason="undecodable"')
    sent=$(sed -n 's/.*"spans_sent":\([0-9]*\).*/\1/p' <<<"$out")
    local acc=$((acc1 - acc0)) cpu
    cpu=$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')
    printf '%-10s %-10s %-10s %-8s %-9s %-9s %-9s %-8s %-12s\n' "$rate" "$sent" "$acc" \
      "$(awk -v s="$sent" -v a="$acc" 'BEGIN { printf "%.3f", (s ? 100 * (s - a) / s : 0) }')" \
      "$((drop1 - drop0))" "$((und1 - und0))" "$((k1 - k0))" "$cpu" \
      "$(awk -v a="$acc" -v c="$cpu" 'BEGIN { printf "%d", (c > 0 ? a / c : 0) }')"
  done
}

bench_grpc() {
  read -r bgrpc bh bm agrpc ah am <<<"$(free_ports tcp 6)"
  cat >"$WORK/b.yaml" <<EOF
receivers:
  jaeger:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$bgrpc
exporters:
  nop:
extensions:
  health_check:
    endpoint: 127.0.0.1:$bh
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: 127.0.0.1:$bm
  pipelines:
    traces:
      receivers: [jaeger]
      exporters: [nop]
EOF
  cat >"$WORK/a.yaml" <<EOF
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$agrpc
processors:
  batch:
exporters:
  jaeger:
    endpoint: 127.0.0.1:$bgrpc
    tls:
      insecure: true
    sending_queue:
      num_consumers: 2
extensions:
  health_check:
    endpoint: 127.0.0.1:$ah
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: 127.0.0.1:$am
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger]
EOF
  local bpid apid
  bpid=$(start_tailgate "$WORK/b.yaml" "$WORK/b.log")
  PIDS+=("$bpid")
  wait_ready "$bh" "$bpid"
  apid=$(start_tailgate "$WORK/a.yaml" "$WORK/a.log")
  PIDS+=("$apid")
  wait_ready "$ah" "$apid"
  echo "== grpc: OTLP in → jaeger exporter (api_v2 PostSpans) → a second tailgate, ${DURATION}s"
  local c0 c1 b0 b1 out
  b0=$(metric "$bm" tailgate_receiver_accepted_spans_total 'transport="grpc"')
  c0=$(cpu_ticks "$apid")
  local perf_pid=
  if [ -n "${PERF_OUT:-}" ]; then # profile the exporting tailgate during the load
    perf record -F 499 -g -o "$PERF_OUT" -p "$apid" -- sleep "$DURATION" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  out=$("$LOADGEN" --target "grpc://127.0.0.1:$agrpc" --duration "$DURATION" --connections 2 \
    --spans-per-request 100 --rate "$GRPC_RATE" --quiet | tail -1) || true # refusals (back-pressure) exit 1
  local last=-1 now
  for _ in $(seq 40); do
    now=$(metric "$bm" tailgate_receiver_accepted_spans_total 'transport="grpc"')
    [ "$now" = "$last" ] && break
    last=$now
    sleep 0.25
  done
  [ -n "$perf_pid" ] && wait "$perf_pid"
  c1=$(cpu_ticks "$apid")
  b1=$(metric "$bm" tailgate_receiver_accepted_spans_total 'transport="grpc"')
  local failed
  failed=$(metric "$am" tailgate_exporter_send_failed_spans_total)
  local cpu delivered=$((b1 - b0))
  cpu=$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')
  echo "loadgen: $out"
  echo "delivered to the Jaeger side: $delivered spans; export failures: $failed"
  echo "exporting tailgate CPU: ${cpu}s → $(awk -v d="$delivered" -v c="$cpu" 'BEGIN { printf "%d", (c > 0 ? d / c : 0) }') spans/s per core" \
    "($(awk -v d="$delivered" -v s="$DURATION" 'BEGIN { printf "%d", d / s }') spans/s wall)"
}

case "$MODE" in
  udp) bench_udp ;;
  grpc) bench_grpc ;;
  all) bench_udp; bench_grpc ;;
  *) echo "run_jaeger_bench: mode is udp, grpc or all" >&2; exit 2 ;;
esac
