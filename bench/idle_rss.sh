#!/usr/bin/env bash
# Idle RSS of tailgate on the embedded default configuration (no --config), with no
# traffic: VmRSS and its split (anonymous, file-backed, shmem) from /proc/PID/status and
# smaps_rollup, and the mappings that hold the most resident memory (smaps), grouped by
# file. Every listener goes to a free loopback port chosen at run time; the process is
# started, measured once it answers /health/ready and its RSS has stopped changing, and
# stopped by PID.
#
# usage: bench/idle_rss.sh [--tailgate BIN] [--config FILE] [--top N] [--max-kb KB]
#   --tailgate BIN  binary (default build/tailgate)
#   --config FILE   a configuration instead of the embedded default (for experiments:
#                   `tailgate print-default-config` edited; it must use the same
#                   ${env:TAILGATE_*_ENDPOINT} variables, which this script sets)
#   --top N         mappings listed (default 15)
#   --max-kb KB     exit 1 when VmRSS is above KB (for a check; default: no check)
# Environment: READY_TIMEOUT seconds (20), any extra TAILGATE_* variables are passed on.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TAILGATE=$ROOT/build/tailgate
TOP=15
MAX_KB=
TG_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tailgate) TAILGATE=$2; shift 2 ;;
    --config) TG_ARGS=(--config "$2"); shift 2 ;;
    --top) TOP=$2; shift 2 ;;
    --max-kb) MAX_KB=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "idle_rss: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$TAILGATE" ] || { echo "idle_rss: no tailgate binary at $TAILGATE" >&2; exit 2; }
READY_TIMEOUT=${READY_TIMEOUT:-20}

WORK=$(mktemp -d /tmp/tg-idle-rss.XXXXXX)
PID=
cleanup() {
  if [ -n "$PID" ]; then
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# Ten distinct free loopback ports, held open together while chosen.
read -r P_HEALTH P_JGRPC P_JSAMP P_JBIN P_JCOMP P_JHTTP P_OGRPC P_OHTTP P_PROM P_ZIP < <(
  python3 - <<'EOF'
import socket
socks = []
for _ in range(10):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
export TAILGATE_HEALTH_ENDPOINT=127.0.0.1:$P_HEALTH
export TAILGATE_JAEGER_GRPC_ENDPOINT=127.0.0.1:$P_JGRPC
export TAILGATE_JAEGER_SAMPLING_ENDPOINT=127.0.0.1:$P_JSAMP
export TAILGATE_JAEGER_THRIFT_BINARY_ENDPOINT=127.0.0.1:$P_JBIN
export TAILGATE_JAEGER_THRIFT_COMPACT_ENDPOINT=127.0.0.1:$P_JCOMP
export TAILGATE_JAEGER_THRIFT_HTTP_ENDPOINT=127.0.0.1:$P_JHTTP
export TAILGATE_OTLP_GRPC_ENDPOINT=127.0.0.1:$P_OGRPC
export TAILGATE_OTLP_HTTP_ENDPOINT=127.0.0.1:$P_OHTTP
export TAILGATE_PROMETHEUS_ENDPOINT=127.0.0.1:$P_PROM
export TAILGATE_ZIPKIN_ENDPOINT=127.0.0.1:$P_ZIP
export TAILGATE_PSEUDONYM_KEY=${TAILGATE_PSEUDONYM_KEY:-idle-rss-pseudonym-key-0123456789}

"$TAILGATE" "${TG_ARGS[@]}" >"$WORK/log" 2>&1 &
PID=$!

deadline=$((SECONDS + READY_TIMEOUT))
until curl -fsS -o /dev/null "http://127.0.0.1:$P_HEALTH/health/ready" 2>/dev/null; do
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "idle_rss: tailgate exited during startup; log:" >&2; cat "$WORK/log" >&2; exit 2
  fi
  if [ $SECONDS -ge $deadline ]; then
    echo "idle_rss: not ready after ${READY_TIMEOUT}s; log:" >&2; cat "$WORK/log" >&2; exit 2
  fi
  sleep 0.1
done

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status"; }
# Settled: two readings 0.5 s apart that agree within 64 KiB, for at most 10 s.
prev=$(rss)
for _ in $(seq 20); do
  sleep 0.5
  cur=$(rss)
  d=$((cur - prev)); [ $d -lt 0 ] && d=$((-d))
  [ $d -le 64 ] && break
  prev=$cur
done

echo "== idle RSS of $TAILGATE on ${TG_ARGS[1]:-the embedded default} (pid $PID, $(awk '/^Threads:/ { print $2 }' "/proc/$PID/status") threads)"
grep -E '^(VmRSS|RssAnon|RssFile|RssShmem|VmHWM):' "/proc/$PID/status"
echo "-- smaps_rollup"
grep -E '^(Rss|Pss|Shared_Clean|Private_Clean|Private_Dirty|Anonymous):' "/proc/$PID/smaps_rollup"
echo "-- resident KiB by mapping (file, or [anon]/[stack]/[heap]), largest first"
awk '
  /^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6) ? $6 : "[anon]"; next }
  /^Rss:/ { rss[name] += $2 }
  /^Private_Dirty:/ { dirty[name] += $2 }
  END { for (n in rss) if (rss[n] > 0) printf "%8d %8d  %s\n", rss[n], dirty[n], n }
' "/proc/$PID/smaps" | sort -rn | head -n "$TOP" | awk 'BEGIN { print "     Rss  Private_Dirty" } { print }'
VMRSS=$(rss)
printf '{"vmrss_kb":%s,"rss_anon_kb":%s,"rss_file_kb":%s}\n' "$VMRSS" \
  "$(awk '/^RssAnon:/ { print $2 }' "/proc/$PID/status")" \
  "$(awk '/^RssFile:/ { print $2 }' "/proc/$PID/status")"
if [ -n "$MAX_KB" ] && [ "$VMRSS" -gt "$MAX_KB" ]; then
  echo "idle_rss: VmRSS $VMRSS kB is above $MAX_KB kB" >&2
  exit 1
fi
