#!/usr/bin/env bash
# Self-metrics overhead (issue 11): what tailgate's own /metrics costs a gateway running
# the whole default pipeline (redaction -> spanmetrics -> tail_sampling -> batch -> otlp)
# at 100k spans/s while a Prometheus-style scraper reads /metrics every second.
#   1. service.telemetry.metrics.level: detailed (every family, the latency histograms too;
#      what the compose and Kubernetes configs run), /metrics scraped every 1 s during the load:
#      gateway CPU and RSS; then, right after the load (every series populated), N
#      back-to-back scrapes on one keep-alive connection: gateway CPU per scrape, from
#      /proc/PID/stat ticks around the burst, and the RSS before/after the burst.
#   2. the same load with metrics level none (no self-metrics listener, no scrapes).
# Overhead = CPU per scrape x 1 scrape/s / gateway CPU per second under load (the precise
# figure: the load's own run-to-run noise on a shared VM is larger than 1 %); memory =
# idle and under-load RSS, detailed minus none, and the RSS growth over the burst.
# Every process is started here on 127.0.0.1 ports picked at run time and stopped by PID.
#
# usage: bench/run_selfmetrics_bench.sh [--duration S] [--rate REQ_PER_S] [--scrapes N]
#                                       [--tailgate BIN] [--loadgen BIN]
#   defaults: 15 s, 1000 requests/s of 100 spans (100k spans/s, 2 connections), 1000 scrapes
# Environment: NONE_FIRST=1 runs the baseline gateway first; LEVEL (detailed) and BASELINE
# (none) choose the two levels compared (BASELINE=detailed measures run-to-run noise).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=15
RATE=1000
SCRAPES=1000
TAILGATE=$ROOT/build/tailgate
LOADGEN=$ROOT/build/bench/tg_loadgen
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --scrapes) SCRAPES=$2; shift 2 ;;
    --tailgate) TAILGATE=$2; shift 2 ;;
    --loadgen) LOADGEN=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "run_selfmetrics_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ ! -x "$TAILGATE" ] || [ ! -x "$LOADGEN" ]; then
  echo "run_selfmetrics_bench: need $TAILGATE and $LOADGEN" >&2
  exit 2
fi
CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d /tmp/tg-smbench.XXXXXX)
PIDS=()
# shellcheck disable=SC2317  # invoked through the EXIT trap
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" -eq 0 ]; then rm -rf "$WORK"; else echo "run_selfmetrics_bench: work directory kept: $WORK" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export TAILGATE_PSEUDONYM_KEY=bench-pseudonym-key-0123456789abcdef

ports() { # N distinct free loopback ports, held open together while chosen
  python3 -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}
cpu_ticks() { local s; s=$(cat "/proc/$1/stat"); s=${s##*) }; set -- $s; echo $(( ${12} + ${13} )); }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
wait_ready() {
  for _ in $(seq 200); do
    curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$1/health/ready" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "run_selfmetrics_bench: not ready on port $1" >&2
  return 1
}
scrape_burst() { # N scrapes of http://127.0.0.1:PORT/metrics on one connection; prints the last body's size
  python3 -c '
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
n = 0
for _ in range(int(sys.argv[2])):
    c.request("GET", "/metrics")
    n = len(c.getresponse().read())
print(n)' "$1" "$2"
}
lg() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

read -r SINK_GRPC SINK_HEALTH SINK_METRICS < <(ports 3)
printf '%s\n' \
  "receivers: {otlp: {protocols: {grpc: {endpoint: 127.0.0.1:$SINK_GRPC, max_recv_msg_size_mib: 64}}}}" \
  "exporters: {nop: {}}" \
  "extensions: {health_check: {endpoint: 127.0.0.1:$SINK_HEALTH}}" \
  "service:" \
  "  extensions: [health_check]" \
  "  telemetry: {metrics: {address: 127.0.0.1:$SINK_METRICS}}" \
  "  pipelines: {traces: {receivers: [otlp], exporters: [nop]}}" >"$WORK/sink.yaml"
"$TAILGATE" --config "$WORK/sink.yaml" >"$WORK/sink.log" 2>&1 &
PIDS+=("$!")
wait_ready "$SINK_HEALTH"

# run LEVEL: one gateway at metrics level LEVEL under the load; writes "key value" lines
run() {
  local level=$1 grpc health metrics prom gw scraper= t0 t1
  read -r grpc health metrics prom < <(ports 4)
  printf '%s\n' \
    "receivers: {otlp: {protocols: {grpc: {endpoint: 127.0.0.1:$grpc}}}}" \
    "processors:" \
    "  redaction: {allow_all_keys: true, blocked_values: ['[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}'], pseudonymize: {keys: [user_id], key_env: TAILGATE_PSEUDONYM_KEY}}" \
    "  spanmetrics: {metrics_exporter: prometheus, exemplars: {enabled: true}}" \
    "  tail_sampling:" \
    "    decision_wait: 1s" \
    "    num_traces: 1000000" \
    "    policies:" \
    "      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}" \
    "      - {name: slow, type: latency, latency: {threshold_ms: 1000}}" \
    "      - {name: rest, type: probabilistic, probabilistic: {sampling_percentage: 10}}" \
    "  batch: {send_batch_size: 8192, timeout: 200ms}" \
    "exporters:" \
    "  otlp: {endpoint: 127.0.0.1:$SINK_GRPC, tls: {insecure: true}, compression: none}" \
    "  prometheus: {endpoint: 127.0.0.1:$prom}" \
    "extensions: {health_check: {endpoint: 127.0.0.1:$health}}" \
    "service:" \
    "  extensions: [health_check]" \
    "  telemetry: {metrics: {address: 127.0.0.1:$metrics, level: $level}}" \
    "  pipelines:" \
    "    traces: {receivers: [otlp], processors: [redaction, spanmetrics, tail_sampling, batch], exporters: [otlp]}" \
    "    metrics: {exporters: [prometheus]}" >"$WORK/gw-$level.yaml"
  "$TAILGATE" --config "$WORK/gw-$level.yaml" >"$WORK/gw-$level.log" 2>&1 &
  gw=$!
  PIDS+=("$gw")
  wait_ready "$health"
  sleep 1
  echo "idle_rss_kb $(status_kb "$gw" VmRSS)"
  if [ "$level" != none ]; then
    (for _ in $(seq $((DURATION + 2))); do
       curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$metrics/metrics" || true
       sleep 1
     done) &
    scraper=$!
  fi
  t0=$(cpu_ticks "$gw")
  "$LOADGEN" --target "grpc://127.0.0.1:$grpc" --duration "$DURATION" --rate "$RATE" --connections 2 \
    --user-id --quiet >"$WORK/lg-$level.json" 2>"$WORK/lg-$level.err" || true
  t1=$(cpu_ticks "$gw")
  if [ -n "$scraper" ]; then kill "$scraper" 2>/dev/null || true; wait "$scraper" 2>/dev/null || true; fi
  echo "load_cpu_s $(awk -v a="$t0" -v b="$t1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')"
  echo "load_elapsed_s $(lg "$WORK/lg-$level.json" elapsed_s)"
  echo "spans_per_sec $(lg "$WORK/lg-$level.json" spans_per_sec)"
  echo "load_rss_kb $(status_kb "$gw" VmRSS)"
  echo "peak_rss_kb $(status_kb "$gw" VmHWM)"
  if [ "$level" != none ]; then
    local r0 b0 b1 bytes r1
    r0=$(status_kb "$gw" VmRSS)
    b0=$(cpu_ticks "$gw")
    bytes=$(scrape_burst "$metrics" "$SCRAPES")
    b1=$(cpu_ticks "$gw")
    r1=$(status_kb "$gw" VmRSS)
    echo "scrape_bytes $bytes"
    echo "burst_cpu_s $(awk -v a="$b0" -v b="$b1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')"
    echo "burst_rss_growth_kb $((r1 - r0))"
    echo "samples $(curl -fsS "http://127.0.0.1:$metrics/metrics" | grep -vc '^#')"
  fi
  kill -TERM "$gw"
  wait "$gw" 2>/dev/null || true
}

LEVEL=${LEVEL:-detailed}
BASELINE=${BASELINE:-none}
if [ "${NONE_FIRST:-0}" = 1 ]; then
  run "$BASELINE" >"$WORK/none.txt"
  run "$LEVEL" >"$WORK/normal.txt"
else
  run "$LEVEL" >"$WORK/normal.txt"
  run "$BASELINE" >"$WORK/none.txt"
fi
v() { awk -v k="$2" '$1 == k { print $2 }' "$WORK/$1.txt"; }
N_CORES=$(awk -v c="$(v normal load_cpu_s)" -v e="$(v normal load_elapsed_s)" 'BEGIN { printf "%.3f", c / e }')
Z_CORES=$(awk -v c="$(v none load_cpu_s)" -v e="$(v none load_elapsed_s)" 'BEGIN { printf "%.3f", c / e }')
PER_SCRAPE_MS=$(awk -v c="$(v normal burst_cpu_s)" -v n="$SCRAPES" 'BEGIN { printf "%.3f", c * 1000 / n }')
OVERHEAD=$(awk -v p="$PER_SCRAPE_MS" -v c="$N_CORES" 'BEGIN { printf "%.3f", (p / 1000) / c * 100 }')
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
echo "== self-metrics overhead: $(v normal spans_per_sec) spans/s (level $LEVEL, /metrics every 1 s) vs $(v none spans_per_sec) spans/s (level $BASELINE)"
printf '%-48s %s\n' \
  "gateway cores busy under load, $LEVEL / $BASELINE" "$N_CORES / $Z_CORES" \
  "/metrics body" "$(v normal scrape_bytes) bytes, $(v normal samples) samples" \
  "gateway CPU per scrape ($SCRAPES back to back)" "$PER_SCRAPE_MS ms" \
  "overhead at 1 scrape/s" "$OVERHEAD % of the gateway's CPU" \
  "idle RSS, $LEVEL / $BASELINE" "$(mib "$(v normal idle_rss_kb)") / $(mib "$(v none idle_rss_kb)") MiB" \
  "RSS at the end of the load, $LEVEL / $BASELINE" "$(mib "$(v normal load_rss_kb)") / $(mib "$(v none load_rss_kb)") MiB" \
  "peak RSS, $LEVEL / $BASELINE" "$(mib "$(v normal peak_rss_kb)") / $(mib "$(v none peak_rss_kb)") MiB" \
  "RSS growth over the $SCRAPES-scrape burst" "$(v normal burst_rss_growth_kb) KiB"
printf '{"spans_per_sec":%s,"cores_normal":%s,"cores_none":%s,"per_scrape_cpu_ms":%s,"overhead_pct":%s,"idle_rss_kb_normal":%s,"idle_rss_kb_none":%s,"load_rss_kb_normal":%s,"load_rss_kb_none":%s,"burst_rss_growth_kb":%s,"scrape_bytes":%s}\n' \
  "$(v normal spans_per_sec)" "$N_CORES" "$Z_CORES" "$PER_SCRAPE_MS" "$OVERHEAD" "$(v normal idle_rss_kb)" \
  "$(v none idle_rss_kb)" "$(v normal load_rss_kb)" "$(v none load_rss_kb)" "$(v normal burst_rss_growth_kb)" \
  "$(v normal scrape_bytes)"
