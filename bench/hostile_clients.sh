#!/usr/bin/env bash
# The hostile-clients scenario at full scale: 3,000 slow-header connections (1,000 from
# each of 127.0.0.2-4, reconnecting as soon as they are closed) against tailgate's OTLP
# listeners with the DEFAULT limits (max_connections 1024, a quarter per peer,
# read_header_timeout 10 s), while the OpenTelemetry JS SDK exports 80 spans over gRPC and
# OTLP/HTTP from 127.0.0.1. It runs tests/interop/hostile_clients.test.js with
#   TG_HOSTILE_SOCKETS=3000 TG_HOSTILE_DEFAULTS=1 TG_HOSTILE_ATTACK_MS=15000
# and prints its summary line. Needs `ulimit -n` above ~8,000 (sockets of both sides).
# Usage: bench/hostile_clients.sh [path/to/tailgate]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build/tailgate}
ulimit -n 20000 2>/dev/null || true
TAILGATE_BIN=$(realpath "$bin") TG_HOSTILE_SOCKETS=${TG_HOSTILE_SOCKETS:-3000} \
  TG_HOSTILE_DEFAULTS=1 TG_HOSTILE_ATTACK_MS=${TG_HOSTILE_ATTACK_MS:-15000} \
  node --test --test-name-pattern='slow-header' "$here/tests/interop/hostile_clients.test.js" 2>&1 |
  grep -E '^# hostile:|^(not )?ok|error:|duration_ms' 
