#!/usr/bin/env bash
# Pipeline benchmark: tg_loadgen → gateway (otlp gRPC → batch → otlp exporter) → sink
# (a second tailgate: otlp → nop). Measures throughput, the gateway's CPU time and memory,
# and the loadgen's request latency. Everything runs on 127.0.0.1 on ports picked at run
# time; every process this script starts is stopped by PID on exit.
#
# usage: bench/run_pipeline_bench.sh [--duration S] [--tailgate BIN] [--loadgen BIN]
#                                    [--perf FILE] [--keep] [-- tg_loadgen options...]
#   --duration S    seconds of load (default 10)
#   --tailgate BIN  gateway and sink binary (default build/tailgate)
#   --loadgen BIN   default build-bench/bench/tg_loadgen, else build/bench/tg_loadgen
#   --perf FILE     also `perf record -g` the gateway (FILE) and the sink (FILE.sink)
#                   during the load window
#   --keep          keep the work directory (configs, logs) and print its path
#   after --        extra tg_loadgen options (--connections, --rate, --spans-per-request, ...)
# Environment: BATCH_SIZE (8192), BATCH_TIMEOUT (200ms), READY_TIMEOUT seconds (20),
#   TAIL_SAMPLING=1: put tail_sampling (errors, > 1 s, 10 %; decision_wait 1s) before batch;
#   the drain then waits until the sink's count settles instead of for every span;
#   DECISION_WAIT (1s) sets its decision_wait; the buffer's size at the end of the load
#   (traces, bytes) is printed,
#   SPANMETRICS=1 (add the spanmetrics processor and a prometheus exporter),
#   REDACTION: unset (no redaction), "default" (the embedded default's redaction processor
#   before batch) or "empty" (a redaction processor with no rules: decode, walk, encode),
#   SELFTRACE=RATIO: the gateway traces itself (service.telemetry.traces, sampling_ratio
#   RATIO, tracecontext) to the sink's OTLP/HTTP receiver on the spare port (not with
#   SPANMETRICS=1, which uses that port),
#   PERF_STAT=FILE: also `perf stat -e task-clock,context-switches,cpu-migrations,instructions` the
#   gateway during the load window into FILE (divide by spans_ok for per-span figures),
#   PERF_OPTS ("-F 499 --call-graph dwarf,16384": the build keeps no frame pointers),
#   FRONT=filter|probabilistic_sampler|resource|resourcedetection: one of the processors
#   tracing pipelines put in front of sampling, before batch, configured to pass every span
#   (filter: two OTTL conditions that match nothing; probabilistic_sampler: 100 %, so every
#   span gets ot=th:0; resource: one upsert; resourcedetection: [env, system]): the cost of
#   decoding the wire segments for them (docs/BENCHMARKS.md, "Processors in front of sampling"),
#   STORAGE=batch|always|never: the otlp exporter keeps its sending queue on disk
#   (file_storage with that fsync policy, in the work directory or STORAGE_DIR),
#   EXPORTER=otlp|otlphttp (otlp): the gateway's exporter (otlphttp posts to the sink's
#   OTLP/HTTP receiver), COMPRESSION (none) and COMPRESSION_LEVEL (unset: the key is not
#   written, so older binaries run too): its
#   `compression` and `compression_params.level`.
#   TRANSPORT=grpc|http (grpc): the load reaches the gateway over OTLP/gRPC or OTLP/HTTP
#   (protobuf; the gateway then listens on both),
#   LOADBALANCING=1: the gateway's exporter is `loadbalancing` (routing_key traceID,
#   stickiness on) over three backends, the sink's three receivers on 127.0.0.1/2/3
#   with one port (the sink counts what all three got).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=10
TAILGATE=$ROOT/build/tailgate
LOADGEN=
PERF_OUT=
KEEP=0
LOADGEN_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --tailgate) TAILGATE=$2; shift 2 ;;
    --loadgen) LOADGEN=$2; shift 2 ;;
    --perf) PERF_OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --) shift; LOADGEN_ARGS=("$@"); break ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "run_pipeline_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$LOADGEN" ]; then
  for c in "$ROOT/build-bench/bench/tg_loadgen" "$ROOT/build/bench/tg_loadgen"; do
    if [ -x "$c" ]; then LOADGEN=$c; break; fi
  done
fi
[ -x "$TAILGATE" ] || { echo "run_pipeline_bench: no tailgate binary at $TAILGATE" >&2; exit 2; }
if [ -z "$LOADGEN" ] || [ ! -x "$LOADGEN" ]; then
  echo "run_pipeline_bench: no tg_loadgen (build it: meson setup build-bench && ninja -C build-bench)" >&2
  exit 2
fi

BATCH_SIZE=${BATCH_SIZE:-8192}
TAIL_SAMPLING=${TAIL_SAMPLING:-0}
DECISION_WAIT=${DECISION_WAIT:-1s}
PIPELINE_PROCESSORS=batch
[ "$TAIL_SAMPLING" = 1 ] && PIPELINE_PROCESSORS="tail_sampling, batch"
BATCH_TIMEOUT=${BATCH_TIMEOUT:-200ms}
READY_TIMEOUT=${READY_TIMEOUT:-20}
PERF_OPTS=${PERF_OPTS:--F 499 --call-graph dwarf,16384}
CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d /tmp/tg-bench.XXXXXX)
PIDS=()

# shellcheck disable=SC2317  # invoked through the EXIT trap
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    # bounded wait: TERM, then KILL after ~5 s
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$KEEP" = 1 ] || [ "$rc" -ne 0 ]; then
    echo "run_pipeline_bench: work directory kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Nine distinct free loopback ports, chosen while all are held open.
read -r SINK_GRPC SINK_HEALTH SINK_METRICS GW_GRPC GW_HEALTH GW_METRICS SPARE SINK_OTLPHTTP GW_HTTP < <(
  python3 - <<'EOF'
import socket
socks = []
for _ in range(9):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)

SINK_HTTP= ST_TEL=
if [ -n "${SELFTRACE:-}" ]; then
  [ "${SPANMETRICS:-0}" = 1 ] && { echo "run_pipeline_bench: SELFTRACE and SPANMETRICS both want the spare port" >&2; exit 2; }
  SINK_HTTP=", http: {endpoint: 127.0.0.1:$SPARE}"
  ST_TEL=", traces: {endpoint: \"http://127.0.0.1:$SPARE/v1/traces\", sampling_ratio: $SELFTRACE}"
fi
EXPORTER=${EXPORTER:-otlp}
COMPRESSION=${COMPRESSION:-none}
COMPRESSION_LEVEL=${COMPRESSION_LEVEL:-}
SINK_RX2= SINK_RX2_LIST=
case "$EXPORTER" in
  otlp) EXP_CONF="otlp: {endpoint: 127.0.0.1:$SINK_GRPC, tls: {insecure: true}" ;;
  otlphttp)
    # A second otlp receiver on its own port: the SELFTRACE one may hold the spare port.
    SINK_RX2=", otlp/h: {protocols: {http: {endpoint: 127.0.0.1:$SINK_OTLPHTTP, max_request_body_size: 256MiB}}}"
    SINK_RX2_LIST=", otlp/h"
    EXP_CONF="otlphttp: {endpoint: \"http://127.0.0.1:$SINK_OTLPHTTP\"" ;;
  *) echo "run_pipeline_bench: EXPORTER must be otlp or otlphttp" >&2; exit 2 ;;
esac
EXP_CONF="$EXP_CONF, compression: $COMPRESSION"
[ -n "$COMPRESSION_LEVEL" ] && EXP_CONF="$EXP_CONF, compression_params: {level: $COMPRESSION_LEVEL}"
SINK_RECV="otlp: {protocols: {grpc: {endpoint: 127.0.0.1:$SINK_GRPC, max_recv_msg_size_mib: 64}$SINK_HTTP}}"
SINK_RECV_LIST=otlp
if [ "${LOADBALANCING:-0}" = 1 ]; then
  SINK_RECV="$SINK_RECV, otlp/b: {protocols: {grpc: {endpoint: 127.0.0.2:$SINK_GRPC, max_recv_msg_size_mib: 64}}}, otlp/c: {protocols: {grpc: {endpoint: 127.0.0.3:$SINK_GRPC, max_recv_msg_size_mib: 64}}}"
  SINK_RECV_LIST="otlp, otlp/b, otlp/c"
fi
cat >"$WORK/sink.yaml" <<EOF
# The sink accepts big messages: a batch of 8192 spans of ~530 bytes is ~4.3 MB, over the
# default 4 MiB gRPC receive limit (the Collector has the same default).
receivers: {$SINK_RECV$SINK_RX2}
exporters: {nop: {}}
extensions: {health_check: {endpoint: 127.0.0.1:$SINK_HEALTH}}
service:
  extensions: [health_check]
  telemetry: {metrics: {address: 127.0.0.1:$SINK_METRICS}}
  pipelines: {traces: {receivers: [$SINK_RECV_LIST$SINK_RX2_LIST], exporters: [nop]}}
EOF
REDACTION=${REDACTION:-}
RD_PROC= RD_LIST=
case "$REDACTION" in
  "") ;;
  default) RD_PROC="redaction: {allow_all_keys: true, blocked_values: ['[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}'], pseudonymize: {keys: [user_id, user.id, enduser.id, usr.id], key_env: TAILGATE_PSEUDONYM_KEY}}"
           RD_LIST="redaction, " ;;
  empty) RD_PROC="redaction: {allow_all_keys: true}"; RD_LIST="redaction, " ;;
  *) echo "run_pipeline_bench: REDACTION must be unset, default or empty" >&2; exit 2 ;;
esac
export TAILGATE_PSEUDONYM_KEY=${TAILGATE_PSEUDONYM_KEY:-bench-pseudonym-key-0123456789abcdef}
# SPANMETRICS=1: the gateway also runs the spanmetrics processor before batch, feeding a
# prometheus exporter on the spare port (docs/BENCHMARKS.md, span metrics).
SM_PROC= SM_LIST= SM_EXP= SM_PIPE=
if [ "${SPANMETRICS:-0}" = 1 ]; then
  SM_PROC="spanmetrics: {metrics_exporter: prometheus, exemplars: {enabled: true}}, "
  SM_LIST="spanmetrics, " SM_EXP="prometheus: {endpoint: 127.0.0.1:$SPARE}, "
  SM_PIPE=", metrics: {exporters: [prometheus]}"
fi
# FRONT=<processor>: a processor in front of batch that lets every span through.
FR_PROC= FR_LIST=
case "${FRONT:-}" in
  "") ;;
  filter) FR_PROC="filter: {traces: {span: ['attributes[\"http.route\"] == \"/health\"', 'IsMatch(name, \"^GET /ready\")']}}" ;;
  probabilistic_sampler) FR_PROC="probabilistic_sampler: {sampling_percentage: 100}" ;;
  resource) FR_PROC="resource: {attributes: [{key: deployment.environment, value: prod, action: upsert}]}" ;;
  resourcedetection) FR_PROC="resourcedetection: {detectors: [env, system]}" ;;
  *) echo "run_pipeline_bench: FRONT must be filter, probabilistic_sampler, resource or resourcedetection" >&2; exit 2 ;;
esac
[ -n "$FR_PROC" ] && FR_LIST="${FRONT}, "
# STORAGE=<fsync policy>: a persistent sending queue (docs/BENCHMARKS.md, disk queue).
ST_EXT= ST_LIST= ST_QUEUE=
if [ -n "${STORAGE:-}" ]; then
  ST_DIR=${STORAGE_DIR:-$WORK/queue}
  ST_EXT=", file_storage/q: {directory: $ST_DIR, create_directory: true, fsync: $STORAGE, max_bytes: 4GiB}"
  ST_LIST=", file_storage/q"
  ST_QUEUE=", sending_queue: {storage: file_storage/q, queue_size: 100000}"
fi
GW_EXP="${EXP_CONF}${ST_QUEUE}}"
GW_EXP_LIST=$EXPORTER
if [ "${LOADBALANCING:-0}" = 1 ]; then
  GW_EXP="loadbalancing: {protocol: {otlp: {tls: {insecure: true}, compression: none}}, resolver: {static: {hostnames: [127.0.0.1:$SINK_GRPC, 127.0.0.2:$SINK_GRPC, 127.0.0.3:$SINK_GRPC]}}}"
  GW_EXP_LIST=loadbalancing
fi
GW_HTTP_CONF= TARGET="grpc://127.0.0.1:$GW_GRPC"
case "${TRANSPORT:-grpc}" in
  grpc) ;;
  http) GW_HTTP_CONF=", http: {endpoint: 127.0.0.1:$GW_HTTP}"; TARGET="http://127.0.0.1:$GW_HTTP/v1/traces" ;;
  *) echo "run_pipeline_bench: TRANSPORT must be grpc or http" >&2; exit 2 ;;
esac
cat >"$WORK/gateway.yaml" <<EOF
receivers: {otlp: {protocols: {grpc: {endpoint: 127.0.0.1:$GW_GRPC}$GW_HTTP_CONF}}}
processors:
  ${RD_PROC}
  ${FR_PROC}
  ${SM_PROC%, }
  batch: {send_batch_size: $BATCH_SIZE, timeout: $BATCH_TIMEOUT}
  tail_sampling:
    decision_wait: $DECISION_WAIT
    num_traces: 1000000
    policies:
      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
      - {name: slow, type: latency, latency: {threshold_ms: 1000}}
      - {name: rest, type: probabilistic, probabilistic: {sampling_percentage: 10}}
exporters: {${SM_EXP}${GW_EXP}}
extensions: {health_check: {endpoint: 127.0.0.1:$GW_HEALTH}${ST_EXT}}
service:
  extensions: [health_check${ST_LIST}]
  telemetry: {metrics: {address: 127.0.0.1:$GW_METRICS}$ST_TEL}
  pipelines: {traces: {receivers: [otlp], processors: [${RD_LIST}${FR_LIST}${SM_LIST}$PIPELINE_PROCESSORS], exporters: [$GW_EXP_LIST]}${SM_PIPE}}
EOF

# Waits until http://127.0.0.1:PORT/health/ready answers 2xx, or fails with the log.
wait_ready() {
  local name=$1 pid=$2 port=$3 log=$4
  local deadline=$((SECONDS + READY_TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run_pipeline_bench: $name exited during startup; log:" >&2
      tail -n 30 "$log" >&2
      return 1
    fi
    if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/health/ready" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "run_pipeline_bench: $name not ready after ${READY_TIMEOUT}s; log:" >&2
  tail -n 30 "$log" >&2
  return 1
}

cpu_ticks() { # utime + stime of a PID, in clock ticks (fields 14, 15 of /proc/PID/stat)
  local stat
  stat=$(cat "/proc/$1/stat")
  stat=${stat##*) }  # drop "pid (comm) ": comm may contain spaces
  # shellcheck disable=SC2086
  set -- $stat
  echo $(( ${12} + ${13} ))
}
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
metric_sum() { # sum of a metric family's samples at http://127.0.0.1:PORT/metrics
  curl -fsS --max-time 2 "http://127.0.0.1:$1/metrics" 2>/dev/null |
    awk -v m="$2" 'index($1, m) == 1 && (substr($1, length(m) + 1, 1) == "{" || $1 == m) { s += $2 } END { printf "%.0f\n", s }'
}

"$TAILGATE" --config "$WORK/sink.yaml" >"$WORK/sink.log" 2>&1 &
SINK_PID=$!
PIDS+=("$SINK_PID")
wait_ready sink "$SINK_PID" "$SINK_HEALTH" "$WORK/sink.log"
"$TAILGATE" --config "$WORK/gateway.yaml" >"$WORK/gateway.log" 2>&1 &
GW_PID=$!
PIDS+=("$GW_PID")
wait_ready gateway "$GW_PID" "$GW_HEALTH" "$WORK/gateway.log"

sleep 1
IDLE_RSS_KB=$(status_kb "$GW_PID" VmRSS)
SINK_BEFORE=$(metric_sum "$SINK_METRICS" tailgate_exporter_sent_spans_total)
GW_T0=$(cpu_ticks "$GW_PID")
SINK_T0=$(cpu_ticks "$SINK_PID")

PERF_PID=
PERF_SINK_PID=
if [ -n "$PERF_OUT" ]; then
  read -r -a PERF_ARGS <<<"$PERF_OPTS"
  perf record "${PERF_ARGS[@]}" -p "$GW_PID" -o "$PERF_OUT" -- sleep "$DURATION" >"$WORK/perf.log" 2>&1 &
  PERF_PID=$!
  PIDS+=("$PERF_PID")
  perf record "${PERF_ARGS[@]}" -p "$SINK_PID" -o "$PERF_OUT.sink" -- sleep "$DURATION" >"$WORK/perf-sink.log" 2>&1 &
  PERF_SINK_PID=$!
  PIDS+=("$PERF_SINK_PID")
fi
if [ -n "${PERF_STAT:-}" ]; then
  perf stat -e ${PERF_STAT_EVENTS:-task-clock,context-switches,cpu-migrations,instructions} -p "$GW_PID" -o "$PERF_STAT" \
    -- sleep "$DURATION" >"$WORK/perf-stat.log" 2>&1 &
  PIDS+=("$!")
fi

set +e
"$LOADGEN" --target "$TARGET" --duration "$DURATION" "${LOADGEN_ARGS[@]}" \
  >"$WORK/loadgen.out" 2>"$WORK/loadgen.err"
LOADGEN_RC=$?
set -e
GW_T1_LOAD=$(cpu_ticks "$GW_PID")
RSS_LOAD_KB=$(status_kb "$GW_PID" VmRSS)
LG_JSON=$(tail -n 1 "$WORK/loadgen.out")
TS_TRACES=0
TS_BYTES=0
if [ "$TAIL_SAMPLING" = 1 ]; then
  TS_TRACES=$(metric_sum "$GW_METRICS" tailgate_processor_tail_sampling_traces_in_memory)
  TS_BYTES=$(metric_sum "$GW_METRICS" tailgate_processor_tail_sampling_bytes_in_memory)
fi
json() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$LG_JSON" "$1"; }
SPANS_OK=$(json spans_ok)

# Drain: let the batch timeout fire and the exporter deliver, bounded at 10 s.
DELIVERED=0
STEADY=0
for _ in $(seq 150); do
  SINK_NOW=$(metric_sum "$SINK_METRICS" tailgate_exporter_sent_spans_total)
  PREV=$DELIVERED
  DELIVERED=$(( ${SINK_NOW:-0} - ${SINK_BEFORE:-0} ))
  [ "$DELIVERED" -ge "$SPANS_OK" ] && break
  # sampling keeps a fraction: done when the count has not moved for 2 s
  if [ "$TAIL_SAMPLING" = 1 ] && [ "$DELIVERED" -eq "$PREV" ]; then
    STEADY=$((STEADY + 1)); [ "$STEADY" -ge 20 ] && break
  else
    STEADY=0
  fi
  sleep 0.1
done
GW_T1=$(cpu_ticks "$GW_PID")
SINK_T1=$(cpu_ticks "$SINK_PID")
PEAK_RSS_KB=$(status_kb "$GW_PID" VmHWM)
RSS_AFTER_KB=$(status_kb "$GW_PID" VmRSS)
if [ -n "$PERF_PID" ]; then
  wait "$PERF_PID" 2>/dev/null || true
  wait "$PERF_SINK_PID" 2>/dev/null || true
fi

GW_CPU=$(awk -v a="$GW_T0" -v b="$GW_T1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')
GW_CPU_LOAD=$(awk -v a="$GW_T0" -v b="$GW_T1_LOAD" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')
SINK_CPU=$(awk -v a="$SINK_T0" -v b="$SINK_T1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')
ELAPSED=$(json elapsed_s)
SPS=$(json spans_per_sec)
PER_CORE=$(awk -v s="$SPANS_OK" -v c="$GW_CPU" 'BEGIN { if (c > 0) printf "%.0f", s / c; else print "null" }')
GW_CORES=$(awk -v c="$GW_CPU_LOAD" -v e="$ELAPSED" 'BEGIN { if (e > 0) printf "%.2f", c / e; else print 0 }')

echo "== tg_loadgen"
sed '$d' "$WORK/loadgen.out"
[ -s "$WORK/loadgen.err" ] && sed 's/^/loadgen stderr: /' "$WORK/loadgen.err" | head -n 5
echo "== pipeline: loadgen -> gateway (otlp grpc -> ${RD_LIST}${SM_LIST}$PIPELINE_PROCESSORS (batch $BATCH_SIZE/$BATCH_TIMEOUT) -> $EXPORTER, compression $COMPRESSION${STORAGE:+, a disk queue, fsync: $STORAGE}) -> sink (otlp -> nop)"
printf '%-34s %s\n' \
  "spans/s accepted by gateway" "$SPS" \
  "spans delivered to sink" "$DELIVERED of $SPANS_OK accepted" \
  "gateway CPU seconds" "$GW_CPU (during load: $GW_CPU_LOAD, i.e. $GW_CORES cores busy)" \
  "spans/s per core (gateway)" "$PER_CORE" \
  "gateway peak RSS (VmHWM)" "$((PEAK_RSS_KB / 1024)) MiB" \
  "gateway RSS under load / after" "$((RSS_LOAD_KB / 1024)) / $((RSS_AFTER_KB / 1024)) MiB" \
  "gateway idle RSS" "$((IDLE_RSS_KB / 1024)) MiB" \
  "sink CPU seconds" "$SINK_CPU" \
  "loadgen CPU seconds" "$(json loadgen_cpu_s)" \
  "latency p50/p90/p99/max ms" "$(json p50_ms) / $(json p90_ms) / $(json p99_ms) / $(json max_ms)"
if [ "$TAIL_SAMPLING" = 1 ]; then
  printf '%-34s %s\n' "tail sampling buffer at end of load" \
    "$TS_TRACES traces, $((TS_BYTES / 1048576)) MiB ($(awk -v b="$TS_BYTES" -v t="$TS_TRACES" 'BEGIN { if (t > 0) printf "%.0f", b / t; else print 0 }') bytes/trace)"
fi
if [ -n "${STORAGE:-}" ]; then
  FS_N=$(metric_sum "$GW_METRICS" tailgate_disk_queue_fsyncs_total)
  FS_US=$(metric_sum "$GW_METRICS" tailgate_disk_queue_fsync_microseconds_total)
  FS_MAX=$(metric_sum "$GW_METRICS" tailgate_disk_queue_fsync_max_microseconds)
  printf '%-34s %s\n' "disk queue fdatasync calls" \
    "${FS_N:-0} (mean $(awk -v a="${FS_US:-0}" -v n="${FS_N:-0}" 'BEGIN { if (n > 0) printf "%.0f", a / n; else print 0 }') us, max ${FS_MAX:-0} us)"
fi
if [ "${LOADBALANCING:-0}" = 1 ]; then
  printf '%-34s %s\n' "loadbalancing: spans per backend" \
    "$(curl -fsS --max-time 2 "http://127.0.0.1:$GW_METRICS/metrics" | awk '/^tailgate_exporter_loadbalancer_backend_spans_total/ { printf "%s ", $2 }')" \
    "loadbalancing: stickiness table" \
    "$(metric_sum "$GW_METRICS" tailgate_exporter_loadbalancer_sticky_traces) slots used, $(( $(metric_sum "$GW_METRICS" tailgate_exporter_loadbalancer_sticky_bytes) / 1048576 )) MiB fixed, $(metric_sum "$GW_METRICS" tailgate_exporter_loadbalancer_sticky_evicted_total) evicted"
fi
if [ -n "$PERF_OUT" ]; then
  echo "perf data: gateway $PERF_OUT, sink $PERF_OUT.sink (perf report -i FILE --no-children)"
fi
printf '{"spans_per_sec":%s,"spans_ok":%s,"spans_delivered":%s,"gateway_cpu_s":%s,"spans_per_core_sec":%s,"gateway_peak_rss_kb":%s,"gateway_rss_load_kb":%s,"gateway_idle_rss_kb":%s,"sink_cpu_s":%s,"loadgen":%s}\n' \
  "$SPS" "$SPANS_OK" "$DELIVERED" "$GW_CPU" "$PER_CORE" "$PEAK_RSS_KB" "$RSS_LOAD_KB" \
  "$IDLE_RSS_KB" "$SINK_CPU" "$LG_JSON"
# tg_loadgen exits 1 when any request was refused, and an unthrottled run at saturation
# is refused by back-pressure (RESOURCE_EXHAUSTED) by design: those refusals are in the
# figures above, not a failed run. The run failed when tg_loadgen could not run (2 and
# up) or nothing at all was accepted; only then is the work directory kept.
if [ "$LOADGEN_RC" -ge 2 ] || [ "$SPANS_OK" -eq 0 ]; then
  echo "run_pipeline_bench: tg_loadgen exited $LOADGEN_RC with $SPANS_OK spans accepted" >&2
  exit 1
fi
exit 0
