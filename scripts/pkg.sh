#!/usr/bin/env bash
# Builds the npm package into pkg/: wasm-pack (release, --target web), wasm-opt -Oz, the JS API
# (js/api.js) and React entry (js/react.js), then pkg-template/ overlaid (package.json, README,
# the main entry index.js). Checks that package.json's files and exports exist, packs the tarball
# into target/ with `npm pack`, and prints the sizes and the tarball's path.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
rm -rf pkg
FEATURES="--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue"
opt() {
  tools/node_modules/.bin/wasm-opt -Oz --converge $FEATURES "$1" -o "$1"
}
# Production: the lean runtime (src: npm/). Development (the "development" export condition):
# std, console_error_panic_hook and readable panics, in pkg/dev/ with its own copy of the JS.
# Core (the `canopy-web/core` entry): production without the `auto` feature (no session, page
# load, interactions, route changes, long frames or Web Vitals), in pkg/core/.
wasm-pack --log-level warn build npm --release --target web --out-dir ../pkg --out-name canopy_web 2>&1 | grep -v "failed to get wasm-pack version" || true
wasm-pack --log-level warn build npm --release --target web --out-dir ../pkg/dev --out-name canopy_web -- --features dev 2>&1 | grep -v "failed to get wasm-pack version" || true
wasm-pack --log-level warn build npm --release --target web --out-dir ../pkg/core --out-name canopy_web -- --no-default-features 2>&1 | grep -v "failed to get wasm-pack version" || true
test -f pkg/canopy_web_bg.wasm && test -f pkg/dev/canopy_web_bg.wasm && test -f pkg/core/canopy_web_bg.wasm
opt pkg/canopy_web_bg.wasm
opt pkg/dev/canopy_web_bg.wasm
opt pkg/core/canopy_web_bg.wasm
# Production only: short import/export names in the .wasm and its glue (the development build
# keeps wasm-bindgen's, which name the Rust function in a stack trace).
# The import module names the build, so a glue never links another build's .wasm.
version=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
node scripts/minify-names.mjs tools/node_modules/.bin/wasm-opt pkg/canopy_web_bg.wasm pkg/canopy_web.js "canopy-web@$version" $FEATURES
node scripts/minify-names.mjs tools/node_modules/.bin/wasm-opt pkg/core/canopy_web_bg.wasm pkg/core/canopy_web.js "canopy-web@$version:core" $FEATURES
# Short ASCII strings out of wasm (a traceparent) read by a loop instead of TextDecoder, in every
# build's glue (scripts/short-strings.mjs says why).
node scripts/short-strings.mjs pkg/canopy_web.js pkg/dev/canopy_web.js pkg/core/canopy_web.js
# Every build's glue makes its TextDecoder and TextEncoder only where they exist, so importing the
# package never throws (Jest's jsdom has neither; scripts/guard-text-coders.mjs says why).
node scripts/guard-text-coders.mjs pkg/canopy_web.js pkg/dev/canopy_web.js pkg/core/canopy_web.js
# Then, production only, binaryen's control-flow rewrite (flatten + rereloop) and monomorphizing
# with -Oz around them: about 0.7 KB gzip less for each .wasm than -Oz alone (BENCHMARKS.md).
for f in pkg/canopy_web_bg.wasm pkg/core/canopy_web_bg.wasm; do
  tools/node_modules/.bin/wasm-opt $FEATURES --flatten --rereloop -Oz -Oz --monomorphize -Oz "$f" -o "$f"
done
for dir in pkg/dev pkg/core; do rm -f $dir/package.json $dir/README.md $dir/.gitignore $dir/LICENSE $dir/*.d.ts; done
cp js/api.js js/api.d.ts js/vitals.js pkg/
cp js/react.js js/react.d.ts pkg/
cp -r pkg-template/. pkg/
cp LICENSE pkg/
cp js/api.js js/vitals.js js/react.js pkg-template/index.js pkg/dev/
cp js/api.js js/react.js pkg-template/index.js pkg/core/
cp js/vitals-none.js pkg/core/vitals.js
cp js/core-index.d.ts pkg/core/index.d.ts
cp js/core-react.d.ts pkg/core/react.d.ts
# Each copy of the entry names its own build (its .wasm, for the Vite < 8 dev-server fallback).
for build in dev core; do
  sed -i "s#^const BUILD = \"\";#const BUILD = \"$build/\";#" pkg/$build/index.js
  grep -q "^const BUILD = \"$build/\";" pkg/$build/index.js
done
# js/error.js is also a wasm-bindgen snippet (the uncaught-error listener's module): the API and the
# React entry import that copy, so an app bundles the module once.
for dir in pkg pkg/dev pkg/core; do
  snippet=$(cd "$dir" && ls snippets/*/js/error.js)
  test -n "$snippet" && test "$(echo "$snippet" | wc -l)" = 1
  sed -i "s#from \"./error.js\"#from \"./$snippet\"#" "$dir/api.js" "$dir/react.js"
  ! grep -q '"./error.js"' "$dir/api.js" "$dir/react.js"
done
rm -f pkg/.gitignore
# The version is Cargo.toml's; every file package.json names must exist (npm pack skips missing ones).
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
