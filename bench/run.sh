#!/usr/bin/env bash
# SDK benchmarks: Canopy vs the OpenTelemetry JS web stack, side by side in one headless
# Chromium: bundle size, ns per span (span calls, and export included), bytes per span on the
# wire. Prints the tables and rewrites the SDK section of BENCHMARKS.md. See bench/run.mjs.
#
#   make bench                      (this script)
#   BENCH_WRITE=0 make bench        print only, leave BENCHMARKS.md alone
#   BENCH_PKG=1 make bench          rebuild the package first (make pkg)
#   BENCH_ROUNDS=9 BENCH_CHUNKS=20 BENCH_RECORD_SPANS=8192 BENCH_DUMP=/tmp/bench.json
#
# Uses the packed package target/canopy-web-<version>.tgz (built by `make pkg` when missing),
# esbuild from tools/, Debian's /usr/bin/chromium, and the OpenTelemetry packages pinned in
# bench/package.json + package-lock.json. Not a test: `make test` does not run it.
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

echo "bench: load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
# Copy the tarball so a concurrent `make pkg` cannot change it under the run.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -p "$tgz" "$tmp/"
timeout --kill-after=20 900 node bench/run.mjs "$tmp/$(basename "$tgz")"
