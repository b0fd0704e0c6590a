#!/usr/bin/env bash
# Builds the npm package into pkg/: wasm-pack (release, --target web), wasm-opt -Oz, then
# pkg-template/ overlaid (package.json, README). Prints the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
rm -rf pkg
wasm-pack --log-level warn build --release --target web --out-dir pkg 2>&1 | grep -v "failed to get wasm-pack version" || true
test -f pkg/canopy_web_bg.wasm
tools/node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  pkg/canopy_web_bg.wasm -o pkg/canopy_web_bg.wasm
cp -r pkg-template/. pkg/
rm -f pkg/.gitignore
wasm=$(wc -c <pkg/canopy_web_bg.wasm); wasm_gz=$(gzip -9c pkg/canopy_web_bg.wasm | wc -c)
js=$(cat pkg/canopy_web.js pkg/snippets/*/*.js | wc -c); js_gz=$(cat pkg/canopy_web.js pkg/snippets/*/*.js | gzip -9c | wc -c)
echo "pkg: canopy_web_bg.wasm $wasm B ($wasm_gz B gzip), JS glue $js B ($js_gz B gzip)"
