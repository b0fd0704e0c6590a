#!/usr/bin/env bash
# The demo: Cruddur's home feed (examples/react-app, Vite dev server) traced with canopy-web, its
# Flask backend (examples/backend-flask, OpenTelemetry) and the relay (examples/relay) with its
# local trace viewer. One page load is one trace: loadData → fetch → Flask → home-activities-mock-data.
#
#   scripts/demo.sh            set up what is missing, start all three, print the URLs; Ctrl-C stops
#   scripts/demo.sh --setup    set up only (what the e2e test and a fresh clone need), then exit
#   scripts/demo.sh --no-setup start only (after --setup)
#
# Set-up is idempotent and cached: scripts/setup.sh (Rust/wasm tools), ./scripts/pkg.sh only when
# src/, js/ or pkg-template/ are newer than target/canopy-web-<version>.tgz, `cargo build -p
# canopy-relay`, a virtualenv in target/demo/venv (re-made when requirements.txt changes), and
# examples/react-app/node_modules (npm ci when package-lock.json changes; the tarball installed
# with --no-save when it changes). npm's cache is target/npm-cache.
#
# Everything binds to 127.0.0.1. Environment:
#   CANOPY_DEMO_APP_PORT (7310)      the app (Vite), which proxies /api and /v1/traces
#   CANOPY_DEMO_BACKEND_PORT (7311)  Flask
#   CANOPY_DEMO_RELAY_PORT (7318)    the relay: OTLP on /v1/traces, the viewer on /
#   HONEYCOMB_API_KEY                the relay forwards every trace to Honeycomb (browser and Flask
#                                    spans alike; the key stays in the relay) and, with --tee, keeps
#                                    the local viewer. CANOPY_HONEYCOMB_REGION=eu, CANOPY_DATASET and
#                                    CANOPY_UPSTREAM are the relay's own (see canopy-relay --help)
#   ROLLBAR_ACCESS_TOKEN             the relay also sends exceptions ("break the feed") to Rollbar
#   CANOPY_XRAY_DAEMON               ... spans to the AWS X-Ray daemon (host:port; the app's ids are X-Ray compatible)
#   CANOPY_CLOUDWATCH_LOG_GROUP      ... log records to CloudWatch Logs (AWS_REGION and credentials
#                                    from the standard AWS environment)
#   CANOPY_DEMO_PIDFILE              write "name process-group" lines there (the e2e test's safety net)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

app_port=${CANOPY_DEMO_APP_PORT:-7310}
backend_port=${CANOPY_DEMO_BACKEND_PORT:-7311}
relay_port=${CANOPY_DEMO_RELAY_PORT:-7318}
venv=$root/target/demo/venv
app_dir=$root/examples/react-app
npm_cache=$root/target/npm-cache

say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

mode=run
case "${1:-}" in
  "") ;;
  --setup) mode=setup ;;
  --no-setup) mode=start ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument $1 (try --help)" ;;
esac

for p in "$app_port" "$backend_port" "$relay_port"; do
  [[ $p =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "bad port: $p"
done

# ---------------------------------------------------------------- set-up

tarball() { echo "target/canopy-web-$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml).tgz"; }

pkg_stale() {
  local t; t=$(tarball)
  [ -f "$t" ] || return 0
  [ -n "$(find src js pkg-template Cargo.toml Cargo.lock scripts/pkg.sh -type f -newer "$t" -print -quit)" ]
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

setup_venv() {
  local req=examples/backend-flask/requirements.txt stamp=$venv/.canopy-requirements
  if [ -x "$venv/bin/python" ] && cmp -s "$req" "$stamp"; then return; fi
  say "creating the Flask virtualenv in ${venv#"$root"/} (pip install -r $req)"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    # Debian's own python3 needs python3-venv for ensurepip.
    command -v apt-get >/dev/null || die "python3 -m venv failed: install Python 3 with venv"
    say "installing python3-venv (Debian)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$venv"; python3 -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$stamp"
}

setup_app() {
  local t stamp=$app_dir/node_modules/.canopy-demo want_lock want_tgz have_lock="" have_tgz=""
  t=$(tarball)
  want_lock=$(sha "$app_dir/package-lock.json"); want_tgz=$(sha "$t")
  [ -f "$stamp" ] && read -r have_lock have_tgz <"$stamp" || true
  local npm_opts=(--no-audit --no-fund --prefer-offline --loglevel=error --cache "$npm_cache")
  mkdir -p "$npm_cache"
  if [ "$have_lock" != "$want_lock" ] || [ ! -d "$app_dir/node_modules/vite" ]; then
    say "installing examples/react-app (npm ci)"
    (cd "$app_dir" && npm ci "${npm_opts[@]}")
    have_tgz=""
  fi
  if [ "$have_tgz" != "$want_tgz" ] || [ ! -f "$app_dir/node_modules/canopy-web/package.json" ]; then
    say "installing $t into examples/react-app"
    (cd "$app_dir" && npm install --no-save "${npm_opts[@]}" "$root/$t")
    rm -rf "$app_dir/node_modules/.vite" # Vite's pre-bundled copy of the old package
  fi
  echo "$want_lock $want_tgz" >"$stamp"
}

setup() {
  ./scripts/setup.sh
  if pkg_stale; then say "building the npm package (./scripts/pkg.sh)"; ./scripts/pkg.sh; fi
  cargo build -p canopy-relay --quiet
  setup_venv
  setup_app
}

if [ "$mode" != start ]; then setup; fi
if [ "$mode" = setup ]; then say "set up"; exit 0; fi

# ---------------------------------------------------------------- run

[ -x target/debug/canopy-relay ] && [ -x "$venv/bin/python" ] && [ -d "$app_dir/node_modules/canopy-web" ] ||
  die "not set up: run scripts/demo.sh --setup (or scripts/demo.sh)"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for v in CANOPY_DEMO_APP_PORT:$app_port CANOPY_DEMO_BACKEND_PORT:$backend_port CANOPY_DEMO_RELAY_PORT:$relay_port; do
  if port_busy "${v#*:}"; then die "port ${v#*:} is in use: set ${v%%:*} to a free port"; fi
done

http_ok() {
  if command -v curl >/dev/null; then curl -sf -o /dev/null --max-time 2 "$1"
  else "$venv/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null; fi
}

names=() pgids=()
stopping=0
# Stops each service's process group (app first, the relay last so it receives Flask's final
# spans): SIGTERM, then SIGKILL after 10 s. Runs on Ctrl-C, SIGTERM, SIGHUP, errors and exit.
cleanup() {
  [ "$stopping" = 1 ] && return
  stopping=1
  trap '' INT TERM HUP
  [ ${#pgids[@]} -gt 0 ] && say "stopping"
  local i g n
  for ((i = ${#pgids[@]} - 1; i >= 0; i--)); do
    g=${pgids[i]}
    kill -TERM -- "-$g" 2>/dev/null || continue
    for ((n = 0; n < 100; n++)); do kill -0 -- "-$g" 2>/dev/null || break; sleep 0.1; done
    if kill -0 -- "-$g" 2>/dev/null; then say "${names[i]} did not stop: SIGKILL"; kill -KILL -- "-$g" 2>/dev/null || true; fi
  done
  wait 2>/dev/null || true
  [ -n "${CANOPY_DEMO_PIDFILE:-}" ] && rm -f "$CANOPY_DEMO_PIDFILE"
  [ ${#pgids[@]} -gt 0 ] && say "stopped"
  return 0
}
trap cleanup EXIT
trap 'exit 0' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Starts "$@" in a session (and process group) of its own, so Ctrl-C reaches this script only and
# the script stops each one in order; its output is prefixed with [name]. The prefixing sed
# ignores SIGTERM and ends when its input does, so a service's last words are not lost; the
# wrapping bash outlives SIGTERM too and reaps both (the service gets the signal's default).
launch() {
  local name=$1; shift
  # shellcheck disable=SC2016
  setsid bash -c 'trap : INT TERM; "${@:2}" </dev/null 2>&1 | (trap "" INT TERM; exec sed -u "s/^/[$1] /")' _ "$name" "$@" &
  names+=("$name"); pgids+=("$!")
  [ -n "${CANOPY_DEMO_PIDFILE:-}" ] && echo "$name $!" >>"$CANOPY_DEMO_PIDFILE"
  return 0
}

# Waits (at most 60 s) for url to answer, or fails if the service has exited.
await() {
  local name=$1 url=$2 g=${pgids[-1]} n
  for ((n = 0; n < 600; n++)); do
    http_ok "$url" && return 0
    kill -0 -- "-$g" 2>/dev/null || die "$name exited while starting (see its [$name] lines above)"
    sleep 0.1
  done
  die "$name did not answer $url within 60 s"
}

[ -n "${CANOPY_DEMO_PIDFILE:-}" ] && : >"$CANOPY_DEMO_PIDFILE"
relay_url=http://127.0.0.1:$relay_port
backend_url=http://127.0.0.1:$backend_port
app_url=http://127.0.0.1:$app_port

relay_env=(CANOPY_LISTEN="127.0.0.1:$relay_port" CANOPY_SHUTDOWN_GRACE_MS=3000)
if [ -n "${HONEYCOMB_API_KEY:-}" ]; then
  relay_env+=(CANOPY_TEE=true)
  if [ -n "${CANOPY_UPSTREAM:-}" ]; then where="$CANOPY_UPSTREAM with your Honeycomb key"
  else where="Honeycomb (region ${CANOPY_HONEYCOMB_REGION:-us})"; fi
  where+=", and to the local viewer (--tee)"
elif [ -n "${CANOPY_UPSTREAM:-}" ]; then
  relay_env+=(CANOPY_TEE=true)
  where="$CANOPY_UPSTREAM, and to the local viewer (--tee)"
else
  where="the local viewer only (set HONEYCOMB_API_KEY to send them to Honeycomb)"
fi
# The seed's other services, when their variables are set (the relay reads them itself).
also=()
[ -n "${ROLLBAR_ACCESS_TOKEN:-}" ] && also+=("exceptions to Rollbar")
[ -n "${CANOPY_XRAY_DAEMON:-}" ] && also+=("spans to the X-Ray daemon at $CANOPY_XRAY_DAEMON")
[ -n "${CANOPY_CLOUDWATCH_LOG_GROUP:-}" ] && also+=("log records to CloudWatch Logs ($CANOPY_CLOUDWATCH_LOG_GROUP)")
launch relay env "${relay_env[@]}" target/debug/canopy-relay
await relay "$relay_url/healthz"

# The backend and the app never see the Honeycomb key: only the relay holds it.
launch backend env -u HONEYCOMB_API_KEY -u ROLLBAR_ACCESS_TOKEN -u OTEL_EXPORTER_OTLP_HEADERS -u OTEL_EXPORTER_OTLP_TRACES_HEADERS \
  OTEL_SERVICE_NAME=backend-flask OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="$relay_url/v1/traces" \
  OTEL_BSP_SCHEDULE_DELAY=1000 CANOPY_DEMO_BACKEND_PORT="$backend_port" PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
  "$venv/bin/python" examples/backend-flask/app.py
await backend "$backend_url/healthz"

launch app env -u HONEYCOMB_API_KEY -u ROLLBAR_ACCESS_TOKEN -C "$app_dir" CANOPY_DEMO_APP_PORT="$app_port" \
  CANOPY_DEMO_BACKEND_URL="$backend_url" CANOPY_DEMO_RELAY_URL="$relay_url" NO_COLOR=1 \
  node node_modules/vite/bin/vite.js
await app "$app_url/"

cat <<EOF
demo: ready
demo: app           $app_url/
demo: trace viewer  $relay_url/
demo: traces go to $where
EOF
for a in "${also[@]}"; do say "the relay also sends $a"; done
say "Ctrl-C stops everything"

# Until Ctrl-C (the traps) or until a service exits by itself.
set +e
wait -n
code=$?
[ "$stopping" = 1 ] || say "a service exited (status $code); stopping the others"
exit 1
