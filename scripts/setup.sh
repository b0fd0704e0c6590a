#!/usr/bin/env bash
# Installs what building and testing Canopy needs; fast when everything is already there.
#   wasm32 target, clippy/rustfmt, wasm-bindgen-cli (= the wasm-bindgen in Cargo.lock),
#   wasm-pack, Debian chromium + chromium-driver + firefox-esr, and tools/ npm packages (wasm-opt,
#   playwright-core for Chromium, puppeteer-core for Firefox over WebDriver BiDi), the X-Ray
#   SDK for Python with Flask in .tools/xray-venv (tests/e2e/xray-flask.test.mjs), and moto's AWS
#   emulator in .tools/moto-venv (the relay's CloudWatch Logs test).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'setup: %s\n' "$*"; }

installed_targets=$(rustup target list --installed)
grep -qx wasm32-unknown-unknown <<<"$installed_targets" || { say "adding wasm32 target"; rustup target add wasm32-unknown-unknown; }
for c in clippy rustfmt; do
  rustup component list --installed | grep -q "^$c" || { say "adding $c"; rustup component add "$c"; }
done

want_wb=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
have_wb=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have_wb" != "$want_wb" ]; then
  say "installing wasm-bindgen-cli $want_wb (have: ${have_wb:-none})"
  # No --locked: a locked dependency of the CLI is missing from the registry here.
  cargo install wasm-bindgen-cli --version "$want_wb"
fi
command -v wasm-pack >/dev/null || { say "installing wasm-pack"; cargo install wasm-pack --version 0.15.1 --locked; }

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  say "installing chromium and chromium-driver (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# The browser tests also run in Firefox (tests/e2e/harness.mjs). Debian's package; never a download.
if ! command -v firefox-esr >/dev/null; then
  say "installing firefox-esr (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends firefox-esr >/dev/null
fi

# puppeteer-core drives the system firefox-esr; it must never fetch a browser of its own.
export PUPPETEER_SKIP_DOWNLOAD=1
stamp=tools/node_modules/.canopy-lock
if [ ! -f "$stamp" ] || ! cmp -s tools/package-lock.json "$stamp"; then
  say "installing tools/ npm packages"
  npm ci --prefix tools --no-audit --no-fund --loglevel=error
  cp tools/package-lock.json "$stamp"
fi

# Python tools in their own virtualenvs, pinned, each re-made only when its requirements.txt changes:
#   .tools/xray-venv: the X-Ray end-to-end test's Flask backend (tests/support/xray_flask);
#   .tools/moto-venv: moto's AWS emulator for the relay's CloudWatch Logs test (tests/support/moto).
venv() {
  local req=$1 dir=$2
  if [ -x "$dir/bin/python" ] && cmp -s "$req" "$dir/.canopy-requirements"; then return; fi
  say "creating $dir (pip install -r $req)"
  rm -rf "$dir"
  if ! python3 -m venv "$dir" 2>/dev/null; then
    # Debian's own python3 needs python3-venv for ensurepip.
    say "installing python3-venv (Debian)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$dir"; python3 -m venv "$dir"
  fi
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$dir/.canopy-requirements"
}
venv tests/support/xray_flask/requirements.txt .tools/xray-venv
venv tests/support/moto/requirements.txt .tools/moto-venv
