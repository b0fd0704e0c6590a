#!/usr/bin/env bash
# Builds the npm package into pkg/: wasm-pack (release, --target web), wasm-opt -Oz, the JS API
# (js/api.js) and React entry (js/react.js), then pkg-template/ overlaid (package.json, README,
# the main entry index.js). Checks that package.json's files and exports exist, packs the tarball
# into target/ with `npm pack`, and prints the sizes and the tarball's path.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
rm -rf pkg
wasm-pack --log-level warn build --release --target web --out-dir pkg 2>&1 | grep -v "failed to get wasm-pack version" || true
test -f pkg/canopy_web_bg.wasm
tools/node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  pkg/canopy_web_bg.wasm -o pkg/canopy_web_bg.wasm
cp js/api.js js/api.d.ts pkg/
cp js/react.js js/react.d.ts pkg/
cp -r pkg-template/. pkg/
rm -f pkg/.gitignore
# The version is Cargo.toml's; every file package.json names must exist (npm pack skips missing ones).
version=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
node - "$version" <<'JS'
const fs = require("fs");
const file = "pkg/package.json";
const p = JSON.parse(fs.readFileSync(file, "utf8"));
p.version = process.argv[2];
fs.writeFileSync(file, JSON.stringify(p, null, 2) + "\n");
const targets = [...p.files, p.main, p.module, p.types];
for (const v of Object.values(p.exports)) targets.push(...(typeof v === "string" ? [v] : Object.values(v)));
const missing = [...new Set(targets)].filter((f) => !fs.existsSync(`pkg/${f}`));
if (missing.length) { console.error(`pkg: package.json names missing files: ${missing.join(", ")}`); process.exit(1); }
JS
wasm=$(wc -c <pkg/canopy_web_bg.wasm); wasm_gz=$(gzip -9c pkg/canopy_web_bg.wasm | wc -c)
glue=$(find pkg/canopy_web.js pkg/api.js pkg/snippets -name '*.js' | sort)
js=$(cat $glue | wc -c); js_gz=$(cat $glue | gzip -9c | wc -c)
echo "pkg: canopy_web_bg.wasm $wasm B ($wasm_gz B gzip), JS glue $js B ($js_gz B gzip)"
mkdir -p target
tarball=$(cd pkg && npm pack --ignore-scripts --pack-destination ../target --loglevel=error | tail -n 1)
echo "pkg: target/$tarball ($(wc -c <"target/$tarball") B)"
