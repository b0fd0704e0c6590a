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
# Without the `auto` feature (the npm package's canopy-web/core build; Rust apps with default-features = false).
step clippy-wasm-core cargo clippy --target wasm32-unknown-unknown --no-default-features --all-targets --quiet -- -D warnings
# The `tracing` feature (CanopyLayer) too; the tests run with it on (a superset of the tests without).
step clippy-native-tracing cargo clippy --all-targets --features tracing --quiet -- -D warnings
step clippy-wasm-tracing cargo clippy --target wasm32-unknown-unknown --all-targets --features tracing --quiet -- -D warnings
step native cargo test --features tracing --quiet
step clippy-leptos cargo clippy -p canopy-leptos-app --target wasm32-unknown-unknown --quiet -- -D warnings
step clippy-relay cargo clippy -p canopy-relay --all-targets --quiet -- -D warnings
step relay cargo test -p canopy-relay --quiet

# A real OTLP sink on 127.0.0.1 for the browser tests, and the proxy headless Chromium reaches
# wasm-bindgen-test-runner's page through (tests/support/closing-proxy.mjs says why).
# start_node NAME SCRIPT: starts `node SCRIPT 0`, waits (at most 5 s) for its "listening <port>"
# and sets NAME_pid and NAME_port.
start_node() {
  local name=$1 script=$2 out="$log/$1.out" p=
  node "$script" 0 >"$out" 2>&1 &
  printf -v "${name}_pid" %s $!
  for _ in $(seq 1 100); do grep -q listening "$out" && break; sleep 0.05; done
  p=$(awk '/listening/{print $2}' "$out")
  if [ -z "$p" ]; then echo "$name did not start"; cat "$out"; exit 1; fi
  printf -v "${name}_port" %s "$p"
}
trap 'kill ${sink_pid:-} ${proxy_pid:-} 2>/dev/null' EXIT
start_node sink tests/support/sink.mjs
start_node proxy tests/support/closing-proxy.mjs

# wasm-bindgen-test's runner: headless Chromium through chromedriver, with these capabilities
# (the runner adds headless, no-sandbox and disable-dev-shm-usage):
#   - every request through the closing proxy except those to the sink, which the tests reach
#     directly (<-loopback> makes Chromium proxy 127.0.0.1 at all);
#   - a page that has not loaded in 60 s fails the navigation (chromedriver's default is 300 s;
#     the page loads in well under a second).
# A run where the page still never loaded (the runner's 'Failed to detect test as having been
# run' and no test result: no test ran) is tried once more; a test that ran and failed is never
# retried.
webdriver_json="$log/webdriver.json"
cat >"$webdriver_json" <<EOF
{
  "goog:chromeOptions": {
    "args": ["proxy-server=http://127.0.0.1:$proxy_port", "proxy-bypass-list=<-loopback>;127.0.0.1:$sink_port"]
  },
  "timeouts": { "pageLoad": 60000 }
}
EOF
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
CANOPY_SINK="http://127.0.0.1:$sink_port" CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_WEBDRIVER_JSON="$webdriver_json" \
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
