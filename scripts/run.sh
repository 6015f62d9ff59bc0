#!/usr/bin/env bash
# Installs what is missing, builds, and runs tailgate. With no arguments it runs the
# embedded default configuration; any arguments are passed to tailgate
# (e.g. scripts/run.sh --config my.yaml).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build
ninja -C build
exec build/tailgate "$@"
