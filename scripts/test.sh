#!/usr/bin/env bash
# Runs every test: formatting, clippy (native and wasm32), native tests, the browser tests
# (wasm-bindgen-test in headless Chromium, then the JS API against the built package in
# headless Chromium via playwright-core and, for the API, instrumentation, export, page-hide and
# Vite suites, in headless Firefox via puppeteer-core). Prints each runner's own lines and a total
# (the Firefox runs are in node's `ℹ pass` / `ℹ fail` lines like the Chromium ones).
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh || { echo "setup failed"; exit 1; }

log=$(mktemp -d)
failed_steps=()
step() {
  local name=$1; shift
  echo "=== $name: $*"
  if ! "$@" 2>&1 | tee "$log/$name.log"; then failed_steps+=("$name"); fi
}

step fmt cargo fmt --all -- --check
step clippy-native cargo clippy --all-targets --quiet -- -D warnings
step clippy-wasm cargo clippy --target wasm32-unknown-unknown --all-targets --quiet -- -D warnings
# The `tracing` feature (CanopyLayer) too; the tests run with it on (a superset of the tests without).
step clippy-native-tracing cargo clippy --all-targets --features tracing --quiet -- -D warnings
step clippy-wasm-tracing cargo clippy --target wasm32-unknown-unknown --all-targets --features tracing --quiet -- -D warnings
step native cargo test --features tracing --quiet
step clippy-leptos cargo clippy -p canopy-leptos-app --target wasm32-unknown-unknown --quiet -- -D warnings
step clippy-relay cargo clippy -p canopy-relay --all-targets --quiet -- -D warnings
step relay cargo test -p canopy-relay --quiet

# A real OTLP sink on 127.0.0.1 for the browser tests.
sink_out="$log/sink.out"
node tests/support/sink.mjs 0 >"$sink_out" 2>&1 &
sink_pid=$!
trap 'kill $sink_pid 2>/dev/null' EXIT
for _ in $(seq 1 100); do grep -q listening "$sink_out" && break; sleep 0.05; done
port=$(awk '/listening/{print $2}' "$sink_out")
if [ -z "$port" ]; then echo "sink did not start"; cat "$sink_out"; exit 1; fi

# wasm-bindgen-test's runner: headless Chromium through chromedriver. Once in a while (seen in
# about one clean-clone run of ten here) the renderer never loads the test page and the runner
# gives up after chromedriver's 300 s ("Failed to detect test as having been run"), before any
# test ran. That one infrastructure failure, and only it, is tried again once; a test that ran
# and failed is never retried.
wasm_tests() {
  local out status
  out=$(cargo test --target wasm32-unknown-unknown --test web --features tracing 2>&1); status=$?
  printf '%s\n' "$out"
  if [ $status -ne 0 ] && ! grep -q '^test result: ' <<<"$out" && grep -q 'Failed to detect test as having been run' <<<"$out"; then
    echo "browser-wasm: the test page never loaded (no test ran): trying once more"
    cargo test --target wasm32-unknown-unknown --test web --features tracing 2>&1; status=$?
  fi
  return $status
}
export -f wasm_tests
CANOPY_SINK="http://127.0.0.1:$port" CHROMEDRIVER=/usr/bin/chromedriver \
  step browser-wasm bash -c wasm_tests
step pkg ./scripts/pkg.sh
# Both browsers, always (setup.sh installs firefox-esr): a missing Firefox fails, it is not skipped.
CANOPY_BROWSERS=chromium,firefox step browser-js node --test --test-reporter=spec tests/e2e/

passed=0; failed=0
for f in "$log"/*.log; do
  while read -r p fl; do passed=$((passed + p)); failed=$((failed + fl)); done < <(
    sed -E 's/\x1b\[[0-9;]*m//g' "$f" | grep -E '^test result: ' | sed -E 's/.* ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/')
  p=$(sed -E 's/\x1b\[[0-9;]*m//g' "$f" | grep -E '^ℹ pass [0-9]+' | awk '{s+=$3} END {print s+0}')
  fl=$(sed -E 's/\x1b\[[0-9;]*m//g' "$f" | grep -E '^ℹ fail [0-9]+' | awk '{s+=$3} END {print s+0}')
  passed=$((passed + p)); failed=$((failed + fl))
done
rm -rf "$log"
if [ ${#failed_steps[@]} -gt 0 ]; then
  echo "failed steps: ${failed_steps[*]}"
  [ "$failed" -eq 0 ] && failed=${#failed_steps[@]}
fi
echo "all: $passed passed, $failed failed"
[ ${#failed_steps[@]} -eq 0 ]
