#!/usr/bin/env bash
# Installs everything tailgate needs to build, run and test, and nothing twice.
# The one place that lists dependencies: run.sh and test.sh both call it.
#   install-deps.sh          build and run dependencies (Debian packages)
#   install-deps.sh --test   also the test tools and the npm packages of tests/interop
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

build_pkgs=(meson ninja-build pkg-config gcc libgrpc-dev protobuf-c-compiler
  libprotobuf-c-dev protobuf-compiler libnghttp2-dev libssl-dev libuv1-dev libyaml-dev
  zlib1g-dev libhttp-parser-dev libsnappy-dev libpcre2-dev libcurl4-openssl-dev
  libjansson-dev libcrypt-dev libdeflate-dev libzstd-dev)
test_pkgs=(libcmocka-dev clang libclang-rt-14-dev prometheus curl docker-compose openssl
  thrift-compiler python3-thrift python3-prometheus-client apache2-utils python3-aiohttp
  prometheus-alertmanager dnsmasq-base)

want=("${build_pkgs[@]}")
if [ "${1:-}" = "--test" ]; then
  want+=("${test_pkgs[@]}")
  # node and npm may already come from outside Debian (as on this project's machines);
  # either works, so only install Debian's when there is none.
  command -v node >/dev/null && command -v npm >/dev/null || want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-}" = "--test" ]; then
  lock="$here/tests/interop/package-lock.json"
  stamp="$here/tests/interop/node_modules/.tailgate-installed"
  if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
    echo "install-deps: npm packages for tests/interop"
    (cd "$here/tests/interop" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
  # tests/deploy: its own npm packages (kubernetes-models, yaml), and Debian's kubectl
  # (kubernetes-client, for `kubectl kustomize`) unpacked into build-tools/ rather than
  # installed, so it never collides with another kubectl on the machine
  lock="$here/tests/deploy/package-lock.json"
  stamp="$here/tests/deploy/node_modules/.tailgate-installed"
  if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
    echo "install-deps: npm packages for tests/deploy"
    (cd "$here/tests/deploy" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
  kc="$here/build-tools/kubernetes-client"
  if [ ! -x "$kc/usr/bin/kubectl" ]; then
    echo "install-deps: Debian's kubernetes-client into build-tools/"
    dl=$(mktemp -d)
    chmod 777 "$dl"  # apt's download user writes here
    (cd "$dl" && apt-get download kubernetes-client >/dev/null 2>&1 ||
      { ${sudo:-} apt-get update -qq && apt-get download kubernetes-client >/dev/null; })
    mkdir -p "$kc"
    dpkg-deb -x "$dl"/kubernetes-client_*.deb "$kc"
    rm -rf "$dl"
  fi
fi
