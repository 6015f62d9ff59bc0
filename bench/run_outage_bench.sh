#!/usr/bin/env bash
# Backend-outage benchmark for the persistent sending queue: tg_loadgen exports to a
# gateway (otlp grpc -> batch -> otlp exporter with sending_queue.storage on file_storage,
# fsync: batch, retry_on_failure.max_elapsed_time: 0) while its backend (a second tailgate:
# otlp -> nop) is DOWN for the whole load; then the backend comes up and the script waits
# until it has received every span the gateway accepted. Prints accepted / delivered /
# duplicates, the disk queue's size at the end of the outage and the drain time.
# Everything runs on 127.0.0.1 on ports picked at run time; every process this script
# starts is stopped by PID on exit.
#
# usage: bench/run_outage_bench.sh [--outage S] [--rate R] [--spans-per-request N]
#   --outage S   seconds of load with the backend down (default 600: ten minutes)
#   --rate R     requests/s from tg_loadgen (default 10), N spans each (default 100)
# Environment: MAX_BYTES (8GiB: the disk queue bound, larger than the outage's data),
#   DRAIN_TIMEOUT seconds (600), TAILGATE / LOADGEN binaries.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUTAGE=600 RATE=10 SPR=100
while [ $# -gt 0 ]; do
  case "$1" in
    --outage) OUTAGE=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --spans-per-request) SPR=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "run_outage_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
TAILGATE=${TAILGATE:-$ROOT/build/tailgate}
LOADGEN=${LOADGEN:-$ROOT/build/bench/tg_loadgen}
MAX_BYTES=${MAX_BYTES:-8GiB}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-600}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_init run_outage_bench
read -r SINK_GRPC SINK_HEALTH SINK_METRICS GW_GRPC GW_HEALTH GW_METRICS < <(free_ports 6)
write_sink_config "$WORK/sink.yaml" "$SINK_GRPC" "$SINK_HEALTH" "$SINK_METRICS"
cat >"$WORK/gateway.yaml" <<EOF
receivers: {otlp: {protocols: {grpc: {endpoint: 127.0.0.1:$GW_GRPC}}}}
processors: {batch: {send_batch_size: 8192, timeout: 200ms}}
exporters:
  otlp:
    endpoint: 127.0.0.1:$SINK_GRPC
    tls: {insecure: true}
    compression: none
    retry_on_failure: {initial_interval: 1s, max_interval: 5s, max_elapsed_time: 0}
    sending_queue: {storage: file_storage/q, queue_size: 1000000}
extensions:
  health_check: {endpoint: 127.0.0.1:$GW_HEALTH}
  file_storage/q: {directory: $WORK/queue, create_directory: true, fsync: batch, max_bytes: $MAX_BYTES}
service:
  extensions: [health_check, file_storage/q]
  telemetry: {logs: {level: error}, metrics: {address: 127.0.0.1:$GW_METRICS}}
  pipelines: {traces: {receivers: [otlp], processors: [batch], exporters: [otlp]}}
EOF

start_tailgate gateway "$WORK/gateway.yaml"
GW_PID=$LAST_PID
wait_ready gateway "$GW_PID" "$GW_HEALTH" "$WORK/gateway.log"

echo "== outage: ${OUTAGE}s of load at $RATE requests/s x $SPR spans, backend down"
"$LOADGEN" --target "grpc://127.0.0.1:$GW_GRPC" --duration "$OUTAGE" --rate "$RATE" \
  --spans-per-request "$SPR" --connections 2 --quiet >"$WORK/loadgen.out" 2>"$WORK/loadgen.err" || true
LG_JSON=$(tail -n 1 "$WORK/loadgen.out")
json() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$LG_JSON" "$1"; }
SPANS_OK=$(json spans_ok)
sleep 1 # the batch processor's timeout: the last batch reaches the disk queue
Q_BYTES=$(metric_sum "$GW_METRICS" tailgate_disk_queue_bytes)
Q_RECORDS=$(metric_sum "$GW_METRICS" tailgate_disk_queue_records)
SENT_BEFORE=$(metric_sum "$GW_METRICS" tailgate_exporter_sent_spans_total)

echo "== backend up"
T0=$SECONDS
start_tailgate sink "$WORK/sink.yaml"
SINK_PID=$LAST_PID
wait_ready sink "$SINK_PID" "$SINK_HEALTH" "$WORK/sink.log"
DELIVERED=0
while [ $((SECONDS - T0)) -lt "$DRAIN_TIMEOUT" ]; do
  DELIVERED=$(metric_sum "$SINK_METRICS" tailgate_exporter_sent_spans_total)
  [ "${DELIVERED:-0}" -ge "$SPANS_OK" ] && [ "$(metric_sum "$GW_METRICS" tailgate_disk_queue_records)" = 0 ] && break
  sleep 1
done
DRAIN_S=$((SECONDS - T0))
FAILED=$(metric_sum "$GW_METRICS" tailgate_exporter_send_failed_spans_total)
REFUSED=$(json spans_failed 2>/dev/null || echo "?")
printf '%-38s %s\n' \
  "spans accepted (client got OK)" "$SPANS_OK (refused: $REFUSED)" \
  "sent before the backend came up" "$SENT_BEFORE" \
  "disk queue at end of outage" "$Q_RECORDS requests, $((Q_BYTES / 1048576)) MiB" \
  "spans delivered to the backend" "$DELIVERED" \
  "lost (accepted - delivered, >= 0)" "$(( SPANS_OK > DELIVERED ? SPANS_OK - DELIVERED : 0 ))" \
  "duplicates (delivered - accepted)" "$(( DELIVERED > SPANS_OK ? DELIVERED - SPANS_OK : 0 ))" \
  "send-failed spans (gateway)" "$FAILED" \
  "drain time after backend up" "${DRAIN_S}s"
printf '{"outage_s":%s,"spans_ok":%s,"delivered":%s,"queue_bytes":%s,"queue_records":%s,"drain_s":%s,"failed":%s}\n' \
  "$OUTAGE" "$SPANS_OK" "$DELIVERED" "$Q_BYTES" "$Q_RECORDS" "$DRAIN_S" "$FAILED"
[ "$DELIVERED" -ge "$SPANS_OK" ] && [ "$FAILED" = 0 ]
