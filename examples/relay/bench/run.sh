#!/usr/bin/env bash
# Load test: wrk posts realistic SDK batches to a release relay on 127.0.0.1, which forwards
# them to a local sink (or keeps them, in local mode). Prints one Markdown row per scenario.
# usage: examples/relay/bench/run.sh [SECONDS=15] [CONNECTIONS=32] [SPANS_PER_REQUEST=50]
# needs: wrk (apt-get install -y wrk), python3
set -euo pipefail
cd "$(dirname "$0")/../../.."
secs=${1:-15} conns=${2:-32} spans=${3:-50}
threads=$((conns < 2 ? conns : 2))
command -v wrk >/dev/null || { echo "needs wrk: apt-get install -y wrk" >&2; exit 1; }
cargo build -p canopy-relay --release --bin canopy-relay --example bench_sink --quiet
target=${CARGO_TARGET_DIR:-target}

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }

trap cleanup EXIT
python3 examples/relay/bench/make_bodies.py "$tmp/bodies" "$spans" 32 >&2

# Starts a server in the background (its pid in $pid) and sets $url from its "listening on" line.
start() {
  local out=$1; shift
  "$@" >"$out" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 1 200); do grep -q 'listening on' "$out" && break; sleep 0.05; done
  url=$(grep -o 'listening on http://[0-9.:]*' "$out" | head -1 | sed 's/listening on //')
  [ -n "$url" ] || { echo "did not start: $*" >&2; cat "$out" >&2; exit 1; }
}

start "$tmp/sink.out" "$target/release/examples/bench_sink" 127.0.0.1:0
sink=$url
echo "| scenario | requests | spans/s | requests/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx |"
echo "|---|---|---|---|---|---|---|---|---|"
scenario() {
  local name=$1 gz=$2; shift 2
  # One load generator is one client: its per-client limits are off here (bench/abuse.sh runs with them on).
  start "$tmp/relay.out" env -i PATH="$PATH" CANOPY_LISTEN=127.0.0.1:0 CANOPY_RATE_LIMIT=0 CANOPY_QUIET=1 \
    CANOPY_CLIENT_SPAN_RATE=0 CANOPY_CLIENT_BYTE_RATE=0 CANOPY_MAX_IN_FLIGHT_PER_CLIENT=0 \
    "$@" "$target/release/canopy-relay"
  local relay=$url
  local out result
  out=$(BODIES="$tmp/bodies" COUNT=32 GZIP=$gz wrk -t"$threads" -c"$conns" -d"${secs}s" --latency \
    -s examples/relay/bench/otlp.lua "$relay/v1/traces" 2>&1)
  result=$(grep '^RESULT' <<<"$out") || { echo "$out" >&2; exit 1; }
  eval "${result#RESULT }"
  # shellcheck disable=SC2154 # set by eval
  awk -v n="$name" -v r="$requests" -v s="$seconds" -v sp="$spans" -v p50="$p50_ms" -v p90="$p90_ms" -v p99="$p99_ms" \
    -v mx="$max_ms" -v e="$errors_status" -v o="$errors_other" \
    'BEGIN { printf "| %s | %d | %.0f | %.0f | %.2f | %.2f | %.2f | %.1f | %d (+%d socket) |\n", n, r, r*sp/s, r/s, p50, p90, p99, mx, e, o }'
  curl -s "$relay/metrics" | grep -E '^canopy_relay_(spans_(received|forwarded)_total|requests_total|copies_total)' >&2 || true
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}
scenario "forward to sink, JSON" 0 CANOPY_UPSTREAM="$sink/v1/traces" HONEYCOMB_API_KEY=bench-key
scenario "forward to sink, gzip JSON" 1 CANOPY_UPSTREAM="$sink/v1/traces" HONEYCOMB_API_KEY=bench-key
scenario "local viewer (store), JSON" 0
curl -s "$sink/counts" >&2
