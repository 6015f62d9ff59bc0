#!/usr/bin/env bash
# Zipkin receiver benchmark: tg_zipkin_gen → gateway (zipkin → batch → otlp exporter) →
# sink (a second tailgate: otlp → nop). Reports spans/s and the gateway's CPU time, so
# the figure per core is spans / gateway CPU-seconds. Everything on 127.0.0.1, ports
# picked at run time; every process started here is stopped by PID on exit.
#
# usage: bench/run_zipkin_bench.sh [--duration S] [--proto] [--tailgate BIN] [--gen BIN]
#                                  [-- tg_zipkin_gen options...]
#   --proto   send zipkin2 ListOfSpans protobuf instead of v2 JSON
# Environment: BATCH_SIZE (8192), BATCH_TIMEOUT (200ms), READY_TIMEOUT seconds (20).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=10
PROTO=
TAILGATE=$ROOT/build/tailgate
GEN=
GEN_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --proto) PROTO=--proto; shift ;;
    --tailgate) TAILGATE=$2; shift 2 ;;
    --gen) GEN=$2; shift 2 ;;
    --) shift; GEN_ARGS=("$@"); break ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "run_zipkin_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$GEN" ]; then
  for c in "$ROOT/build-bench/bench/tg_zipkin_gen" "$ROOT/build/bench/tg_zipkin_gen"; do
    if [ -x "$c" ]; then GEN=$c; break; fi
  done
fi
[ -x "$TAILGATE" ] || { echo "run_zipkin_bench: no tailgate binary at $TAILGATE" >&2; exit 2; }
[ -n "$GEN" ] && [ -x "$GEN" ] || { echo "run_zipkin_bench: no tg_zipkin_gen (ninja -C build bench/tg_zipkin_gen)" >&2; exit 2; }

BATCH_SIZE=${BATCH_SIZE:-8192}
BATCH_TIMEOUT=${BATCH_TIMEOUT:-200ms}
READY_TIMEOUT=${READY_TIMEOUT:-20}
CLK_TCK=$(getconf CLK_TCK)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_init run_zipkin_bench
read -r SINK_GRPC SINK_HEALTH SINK_METRICS GW_ZIPKIN GW_HEALTH GW_METRICS < <(free_ports 6)
write_sink_config "$WORK/sink.yaml" "$SINK_GRPC" "$SINK_HEALTH" "$SINK_METRICS"
cat >"$WORK/gateway.yaml" <<EOF
receivers: {zipkin: {endpoint: 127.0.0.1:$GW_ZIPKIN}}
processors: {batch: {send_batch_size: $BATCH_SIZE, timeout: $BATCH_TIMEOUT}}
exporters: {otlp: {endpoint: 127.0.0.1:$SINK_GRPC, tls: {insecure: true}, compression: none}}
extensions: {health_check: {endpoint: 127.0.0.1:$GW_HEALTH}}
service:
  extensions: [health_check]
  telemetry: {metrics: {address: 127.0.0.1:$GW_METRICS}}
  pipelines: {traces: {receivers: [zipkin], processors: [batch], exporters: [otlp]}}
EOF

cpu_ticks() {
  local stat
  stat=$(cat "/proc/$1/stat")
  stat=${stat##*) }
  set -- $stat
  echo $(( ${12} + ${13} ))
}

start_tailgate sink "$WORK/sink.yaml"
SINK_PID=$LAST_PID
wait_ready sink "$SINK_PID" "$SINK_HEALTH" "$WORK/sink.log"
start_tailgate gateway "$WORK/gateway.yaml"
GW_PID=$LAST_PID
wait_ready gateway "$GW_PID" "$GW_HEALTH" "$WORK/gateway.log"

SINK_BEFORE=$(metric_sum "$SINK_METRICS" tailgate_exporter_sent_spans_total)
GW_T0=$(cpu_ticks "$GW_PID")
set +e
"$GEN" --url "http://127.0.0.1:$GW_ZIPKIN/api/v2/spans" --duration "$DURATION" $PROTO "${GEN_ARGS[@]}" >"$WORK/gen.out" 2>"$WORK/gen.err"
GEN_RC=$?
set -e
GEN_JSON=$(tail -n 1 "$WORK/gen.out")
SPANS_OK=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["spans_ok"])' "$GEN_JSON")
DELIVERED=0
for _ in $(seq 150); do
  NOW=$(metric_sum "$SINK_METRICS" tailgate_exporter_sent_spans_total)
  DELIVERED=$(( ${NOW:-0} - ${SINK_BEFORE:-0} ))
  [ "$DELIVERED" -ge "$SPANS_OK" ] && break
  sleep 0.2
done
GW_T1=$(cpu_ticks "$GW_PID")
GW_CPU=$(python3 -c "print(($GW_T1 - $GW_T0) / $CLK_TCK)")
python3 - "$GEN_JSON" "$GW_CPU" "$DELIVERED" "$GEN_RC" <<'EOF'
import json, sys
g = json.loads(sys.argv[1]); cpu = float(sys.argv[2]); delivered = int(sys.argv[3])
print(f"format {g['format']}: {g['spans_ok']} spans accepted in {g['seconds']:.1f} s "
      f"({g['spans_per_s']:.0f} spans/s, {g['bytes_per_span']:.0f} bytes/span on the wire), "
      f"{delivered} delivered to the sink, failed requests {g['failed']}")
print(f"gateway CPU {cpu:.2f} s → {g['spans_ok'] / cpu:.0f} spans per CPU-second" if cpu > 0 else "gateway CPU 0")
print(json.dumps({**g, "gateway_cpu_s": cpu, "delivered": delivered,
                  "spans_per_cpu_s": round(g['spans_ok'] / cpu) if cpu > 0 else None}))
EOF
[ "$DELIVERED" -ge "$SPANS_OK" ] || { echo "run_zipkin_bench: only $DELIVERED of $SPANS_OK spans delivered" >&2; exit 1; }
