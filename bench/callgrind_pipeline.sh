#!/usr/bin/env bash
# Instructions per span of the product pipeline, exactly: the gateway runs under
# `valgrind --tool=callgrind` with the product's processors (redaction with the default
# keys and e-mail mask, span metrics, tail sampling at 10 % with errors and slow,
# decision_wait 1s, batch, OTLP out to a sink tailgate), tg_loadgen sends REQUESTS
# requests of 100 spans (10 attributes each) at 200/s over 2 connections, the script
# waits until the sink's span count settles (the decisions are out), then stops the
# gateway so callgrind writes OUT. It prints inclusive instructions per span of the
# whole process and of each stage (docs/BENCHMARKS.md, "Issue 14, fourth session").
# Run-to-run differences are a few hundred instructions in a whole process of ~9,000 a
# span: mostly the startup's share (~1,000 a span at 300 requests) and the sender threads.
#
# usage: bench/callgrind_pipeline.sh [--tailgate BIN] [--requests N] OUT
#   TAILGATE_PSEUDONYM_KEY is set to a fixed test key when unset.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
TAILGATE=$ROOT/build/tailgate
REQUESTS=300
OUT=
while [ $# -gt 0 ]; do
  case "$1" in
    --tailgate) TAILGATE=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "callgrind_pipeline: unknown option $1" >&2; exit 2 ;;
    *) OUT=$1; shift ;;
  esac
done
[ -n "$OUT" ] || { echo "usage: bench/callgrind_pipeline.sh [--tailgate BIN] [--requests N] OUT" >&2; exit 2; }
LOADGEN=
for c in "$ROOT/build-bench/bench/tg_loadgen" "$ROOT/build/bench/tg_loadgen"; do
  if [ -x "$c" ]; then LOADGEN=$c; break; fi
done
[ -n "$LOADGEN" ] || { echo "callgrind_pipeline: no tg_loadgen (ninja -C build)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "callgrind_pipeline: valgrind is not installed" >&2; exit 2; }
export TAILGATE_PSEUDONYM_KEY=${TAILGATE_PSEUDONYM_KEY:-0123456789abcdef0123456789abcdef0123}

bench_init callgrind
read -r SINK_GRPC SINK_HEALTH SINK_METRICS GW_GRPC GW_HEALTH GW_METRICS GW_PROM < <(free_ports 7)
write_sink_config "$WORK/sink.yaml" "$SINK_GRPC" "$SINK_HEALTH" "$SINK_METRICS"
cat >"$WORK/gateway.yaml" <<EOF
receivers: {otlp: {protocols: {grpc: {endpoint: 127.0.0.1:$GW_GRPC}}}}
processors:
  redaction: {allow_all_keys: true, blocked_values: ['[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}'], pseudonymize: {keys: [user_id, user.id, enduser.id, usr.id], key_env: TAILGATE_PSEUDONYM_KEY}}
  spanmetrics: {metrics_exporter: prometheus, exemplars: {enabled: true}}
  batch: {send_batch_size: 8192, timeout: 200ms}
  tail_sampling:
    decision_wait: 1s
    num_traces: 1000000
    policies:
      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
      - {name: slow, type: latency, latency: {threshold_ms: 1000}}
      - {name: rest, type: probabilistic, probabilistic: {sampling_percentage: 10}}
exporters: {prometheus: {endpoint: 127.0.0.1:$GW_PROM}, otlp: {endpoint: 127.0.0.1:$SINK_GRPC, tls: {insecure: true}, compression: none}}
extensions: {health_check: {endpoint: 127.0.0.1:$GW_HEALTH}}
service:
  extensions: [health_check]
  telemetry: {metrics: {address: 127.0.0.1:$GW_METRICS}}
  pipelines: {traces: {receivers: [otlp], processors: [redaction, spanmetrics, tail_sampling, batch], exporters: [otlp]}, metrics: {exporters: [prometheus]}}
EOF

start_tailgate sink "$WORK/sink.yaml"
SINK_PID=$LAST_PID
wait_ready sink "$SINK_PID" "$SINK_HEALTH" "$WORK/sink.log"
valgrind --tool=callgrind --callgrind-out-file="$OUT" "$TAILGATE" --config "$WORK/gateway.yaml" \
  >"$WORK/gateway.log" 2>&1 &
GW_PID=$!
PIDS+=("$GW_PID")
READY_TIMEOUT=120 wait_ready gateway "$GW_PID" "$GW_HEALTH" "$WORK/gateway.log"
"$LOADGEN" --target "grpc://127.0.0.1:$GW_GRPC" --requests "$REQUESTS" --rate 200 \
  --connections 2 --quiet >"$WORK/loadgen.out"
SPANS=$((REQUESTS * 100))
grep -q "\"spans_ok\":$SPANS," "$WORK/loadgen.out" ||
  { echo "callgrind_pipeline: not every span was accepted:" >&2; cat "$WORK/loadgen.out" >&2; exit 1; }
# The decisions come decision_wait after the last span, then the batch timeout: wait for
# the sink's count to hold still for 3 s (at most 120 s).
last=-1 still=0 deadline=$((SECONDS + 120))
while [ $SECONDS -lt $deadline ] && [ $still -lt 30 ]; do
  now=$(metric_sum "$SINK_METRICS" tailgate_receiver_accepted_spans_total)
  if [ "$now" = "$last" ] && [ "$now" != 0 ]; then still=$((still + 1)); else still=0; fi
  last=$now
  sleep 0.1
done
kill -TERM "$GW_PID"
for _ in $(seq 600); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
wait "$GW_PID" 2>/dev/null || true
echo "sink received $last of $SPANS spans; callgrind output: $OUT"
callgrind_annotate --inclusive=yes "$OUT" 2>/dev/null |
  awk -v n="$SPANS" '
    # a function can appear under several file names (inlined parts): keep its largest
    /PROGRAM TOTALS/ { x = $1; gsub(/,/, "", x); total = x; next }
    {
      x = $1; gsub(/,/, "", x)
      name = $0; sub(/ \[.*/, "", name); sub(/.*:/, "", name)
      if (name == "run" && $0 !~ /ts_worker\.c:run/)
        next # only the sampler worker loop, not the one in main.c
      if (name ~ /^(tg_otlp_ingest|scan|tg_redactor_batch|tg_sm_wire_each_span|ts_consume|ts_shard_ingest|ts_span_inspect|run)$/ &&
          x + 0 > best[name] + 0)
        best[name] = x
    }
    END {
      printf "%7.0f Ir/span  whole process\n", total / n
      split("tg_otlp_ingest scan tg_redactor_batch tg_sm_wire_each_span ts_consume run ts_shard_ingest ts_span_inspect", order, " ")
      for (i = 1; i in order; i++)
        printf "%7.0f Ir/span  %s\n", best[order[i]] / n,
               order[i] == "run" ? "ts_worker run (the sampler workers, all of it)" : order[i]
    }'
