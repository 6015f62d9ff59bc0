#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. unit tests (cmocka)                         build/
#   2. the same unit tests under ASan + UBSan      build-asan/
#   3. every fuzz target for a bounded time        build-fuzz/ (clang, libFuzzer)
#   4. configuration files: the embedded default, tests/data/config/good-real, deploy/
#   5. interop tests with real clients (node --test tests/interop)
#   6. docker-compose.yaml validation
#   7. deploy and monitoring files (node --test tests/deploy): Kubernetes manifests,
#      compose-mounted files and their checkers, Alertmanager inhibition, the Dockerfile's
#      runtime packages
# Exits non-zero on the first failing stage; prints a closing "N passed, N failed" line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fuzz_seconds=${TG_FUZZ_SECONDS:-12}
jobs=$(nproc)

scripts/install-deps.sh --test

passed=0
failed=0
count_meson() { # adds the Ok/Fail counts printed by a meson test run (file $1)
  local ok fail
  ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$1" | tail -1)
  fail=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$1" | tail -1)
  passed=$((passed + ${ok:-0}))
  failed=$((failed + ${fail:-0}))
}

echo "== 1. build and unit tests"
[ -f build/build.ninja ] || meson setup build
ninja -C build -j "$jobs"
meson test -C build --suite unit --print-errorlogs --num-processes "$jobs" | tee build/unit.out
count_meson build/unit.out

echo "== 2. unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
[ -f build-asan/build.ninja ] ||
  meson setup build-asan -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
ninja -C build-asan -j "$jobs"
meson test -C build-asan --suite unit --print-errorlogs --num-processes "$jobs" | tee build-asan/unit.out
count_meson build-asan/unit.out

echo "== 3. fuzz targets (${fuzz_seconds}s each, $jobs at a time)"
[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true
ninja -C build-fuzz -j "$jobs"
fuzz_one() { # runs target $1 on a copy of its seed corpus; prints one line; status = verdict
  local target=$1 name=${1##*/fuzz_} work
  work=$(mktemp -d)
  cp -r "tests/fuzz/$name/corpus/." "$work/"
  if "$target" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=0 "$work" > "build-fuzz/fuzz_$name.log" 2>&1; then
    echo "fuzz $name: ok ($(ls "$work" | wc -l) inputs)"; rm -rf "$work"; return 0
  fi
  echo "fuzz $name: FAILED"; tail -40 "build-fuzz/fuzz_$name.log"; rm -rf "$work"; return 1
}
# Targets run $jobs at a time (each fuzzer is single-threaded), so the stage costs
# targets x fuzz_seconds / jobs of wall time.
running=0
for target in build-fuzz/tests/fuzz/fuzz_*; do
  [ -f "$target" ] && [ -x "$target" ] || continue  # skip meson's *.p folders
  if [ "$running" -ge "$jobs" ]; then
    if wait -n; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    running=$((running - 1))
  fi
  fuzz_one "$target" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  if wait -n; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  running=$((running - 1))
done
[ "$failed" -eq 0 ] || { echo "tests: $passed passed, $failed failed"; exit 1; }

echo "== 4. configuration files"
build/tailgate validate >/dev/null  # the embedded default
for f in tests/data/config/good-real/*.yaml deploy/compose/tailgate.yaml; do
  [ -e "$f" ] || continue
  if build/tailgate validate "$f"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
if command -v promtool >/dev/null; then
  promtool check config deploy/compose/prometheus.yml >/dev/null && passed=$((passed + 1))
  if promtool check rules monitoring/prometheus/rules/*.yml >/dev/null &&
     promtool test rules monitoring/prometheus/tests/*.test.yml; then
    passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi
if amtool check-config monitoring/alertmanager/alertmanager.yml >/dev/null; then
  passed=$((passed + 1)); else failed=$((failed + 1)); fi

echo "== 5. interop tests with real clients"
node_out=build/interop.out
TAILGATE_BIN="$root/build/tailgate" node --test --test-reporter=spec tests/interop/ 2>&1 | tee "$node_out"
node_rc=${PIPESTATUS[0]}
np=$(sed -n 's/^ℹ pass \([0-9]*\)/\1/p' "$node_out" | tail -1)
nf=$(sed -n 's/^ℹ fail \([0-9]*\)/\1/p' "$node_out" | tail -1)
passed=$((passed + ${np:-0})); failed=$((failed + ${nf:-0}))
[ "$node_rc" -eq 0 ] || failed=$((failed + (${nf:-0} == 0 ? 1 : 0)))

echo "== 6. docker-compose.yaml"
if docker-compose -f docker-compose.yaml config -q; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

echo "== 7. deploy and monitoring files"
deploy_out=build/deploy.out
TAILGATE_BIN="$root/build/tailgate" node --test --test-reporter=spec tests/deploy/ 2>&1 | tee "$deploy_out"
deploy_rc=${PIPESTATUS[0]}
np=$(sed -n 's/^ℹ pass \([0-9]*\)/\1/p' "$deploy_out" | tail -1)
nf=$(sed -n 's/^ℹ fail \([0-9]*\)/\1/p' "$deploy_out" | tail -1)
passed=$((passed + ${np:-0})); failed=$((failed + ${nf:-0}))
[ "$deploy_rc" -eq 0 ] || failed=$((failed + (${nf:-0} == 0 ? 1 : 0)))

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
