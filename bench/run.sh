#!/usr/bin/env bash
# SDK benchmarks: Canopy vs the OpenTelemetry JS web stack, side by side in one headless
# Chromium: bundle size, ns per span (span calls, and export included), bytes per span on the
# wire, time added per fetch and XMLHttpRequest, memory per queued span, time to SDK ready; and
# Canopy's relay against the seed write-up's Flask /api/send-trace endpoint. Prints the tables and
# rewrites the SDK section of BENCHMARKS.md. See bench/run.mjs.
#
#   make bench                      (this script; about 6 minutes on 2 shared cores)
#   BENCH_WRITE=0 make bench        print only, leave BENCHMARKS.md alone
#   BENCH_PKG=1 make bench          rebuild the package first (make pkg)
#   BENCH_ONLY=fetch,memory,ready,relay make bench
#                                   only these parts (of size,speed,wire,fetch,memory,ready,relay);
#                                   prints their tables, never writes BENCHMARKS.md
#   BENCH_ROUNDS=9 BENCH_CHUNKS=20 BENCH_RECORD_SPANS=8192 BENCH_DUMP=/tmp/bench.json
#   BENCH_REQ_BLOCK=100 BENCH_REQ_BLOCKS=20      fetch/XHR: requests per block, blocks per page and kind
#   BENCH_MEM_SPANS=10000 BENCH_MEM_ROUNDS=3     memory: spans queued, rounds
#   BENCH_READY_ROUNDS=15                        start-up: cold + warm loads per SDK
#   BENCH_RELAY_SECONDS=10 BENCH_RELAY_CONNECTIONS=16
#                                   relay: measured seconds per server, concurrent connections
#
# Uses the packed package target/canopy-web-<version>.tgz (built by `make pkg` when missing),
# esbuild from tools/, Debian's /usr/bin/chromium, and the OpenTelemetry packages pinned in
# bench/package.json + package-lock.json. The relay part builds canopy-relay with
# `cargo build --release` into $CARGO_TARGET_DIR (default target/bench-relay, a directory of its
# own so it does not wait on other builds' lock) and installs bench/send_trace/requirements.txt
# (pinned, from PyPI) into bench/send_trace/.venv. Not a test: `make test` does not run it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x tools/node_modules/.bin/esbuild ] || ! command -v chromium >/dev/null; then
  ./scripts/setup.sh
fi
stamp=bench/node_modules/.canopy-lock
if [ ! -f "$stamp" ] || ! cmp -s bench/package-lock.json "$stamp"; then
  echo "bench: installing bench/ npm packages" >&2
  npm ci --prefix bench --no-audit --no-fund --loglevel=error
  cp bench/package-lock.json "$stamp"
fi

version=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
tgz="target/canopy-web-$version.tgz"
if [ "${BENCH_PKG:-0}" = 1 ] || [ ! -f "$tgz" ]; then
  ./scripts/pkg.sh >&2
fi
newer=$(find src js pkg-template Cargo.toml Cargo.lock -newer "$tgz" -type f 2>/dev/null | head -3 | tr '\n' ' ')
if [ -n "$newer" ]; then
  echo "bench: warning: $tgz is older than $newer- these numbers are for the package as last packed (BENCH_PKG=1 rebuilds it)" >&2
fi

case ",${BENCH_ONLY:-relay}," in
  *,relay,*)
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/bench-relay}"
    echo "bench: building canopy-relay (release) in $CARGO_TARGET_DIR" >&2
    # bench_sink: an axum server that only reads each request and answers 200, the ceiling row.
    if timeout 1200 cargo build -p canopy-relay --release --bin canopy-relay --example bench_sink --quiet >&2; then
      export BENCH_RELAY_BIN="$CARGO_TARGET_DIR/release/canopy-relay"
      export BENCH_NULL_BIN="$CARGO_TARGET_DIR/release/examples/bench_sink"
    else
      echo "bench: warning: canopy-relay did not build: the relay rows will say so" >&2
      export BENCH_RELAY_BIN="" BENCH_NULL_BIN=""
    fi
    venv=bench/send_trace/.venv
    if [ ! -x "$venv/bin/gunicorn" ] || ! cmp -s bench/send_trace/requirements.txt "$venv/.canopy-requirements"; then
      echo "bench: installing bench/send_trace/requirements.txt into $venv" >&2
      rm -rf "$venv"
      python3 -m venv "$venv"
      timeout 600 "$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/send_trace/requirements.txt >&2
      cp bench/send_trace/requirements.txt "$venv/.canopy-requirements"
    fi
    export BENCH_VENV="$PWD/$venv"
    ;;
esac

echo "bench: load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
# Copy the tarball so a concurrent `make pkg` cannot change it under the run.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -p "$tgz" "$tmp/"
timeout --kill-after=20 1200 node bench/run.mjs "$tmp/$(basename "$tgz")"
