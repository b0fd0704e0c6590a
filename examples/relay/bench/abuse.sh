#!/usr/bin/env bash
# The abuse run (issue 10): a release relay on 127.0.0.1 under slow bodies, deep chains, big
# attributes and a flood from one address, while a normal client posts every 200 ms. Prints,
# per configuration, what the normal client got, the attackers' answers, the relay's peak RSS
# and its store figures. Bounded: SECONDS per configuration (default 20).
# usage: examples/relay/bench/abuse.sh [SECONDS=20]
# needs: python3 (no packages)
set -euo pipefail
cd "$(dirname "$0")/../../.."
secs=${1:-20}
target=${CARGO_TARGET_DIR:-target}
cargo build -p canopy-relay --release --bin canopy-relay --quiet

tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

run() {
  local name=$1; shift
  # The console trees go to /dev/null (they are still rendered); logs to a file.
  env -i PATH="$PATH" CANOPY_LISTEN=127.0.0.1:0 "$@" "$target/release/canopy-relay" >>"$tmp/out" 2>"$tmp/err" &
  pid=$!
  for _ in $(seq 1 100); do grep -q 'listening on' "$tmp/out" && break; sleep 0.05; done
  local url
  url=$(grep -o 'listening on http://[0-9.:]*' "$tmp/out" | head -1 | sed 's/listening on //')
  [ -n "$url" ] || { echo "relay did not start" >&2; cat "$tmp/err" >&2; exit 1; }
  # Drop the trees from here on (keeps the disk out of the measurement).
  : >"$tmp/out"
  echo "## $name"
  python3 examples/relay/bench/abuse.py "$url" "$pid" "$secs"
  curl -s "$url/metrics" | grep -E '^canopy_relay_(store_bytes|traces_stored|store_evicted|store_skipped|spans_received|requests_total)' || true
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}

run "defaults (local mode: store 32 MiB, per-client budgets on)"
run "per-client budgets off (rate, spans, bytes): only the store's byte bound and the in-flight caps" \
  CANOPY_RATE_LIMIT=0 CANOPY_CLIENT_SPAN_RATE=0 CANOPY_CLIENT_BYTE_RATE=0
