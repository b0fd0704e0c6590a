// Shortens the production .wasm's import and export names, and the JS glue's uses of them, in place.
//
// wasm-bindgen names every import after its Rust path plus a 16-digit hash
// (`__wbg_sessionGet_c75bde6ad15fe676`), every closure's entry point
// `wasm_bindgen__convert__closures_____invoke__h…`, and every import's module after its file
// (`./snippets/canopy-web-<hash>/js/page.js`). Those strings sit in the .wasm and again in the glue,
// where no JS minifier may rename them (they are property names), and the hashes do not compress.
// binaryen's `--minify-imports-and-exports-and-modules` renames them all (one module "a", names
// "a", "b", …) and prints the old → new map; this script applies the map to the glue:
//   - `wasm.<export>` → `wasm.<short>`;
//   - the glue's own import object (`import0`) gets the short keys;
//   - the snippet functions wasm-bindgen passes straight through (`import * as importN from
//     "./snippets/…"`) are added to it under their short names;
//   - `__wbg_get_imports` returns `{ a: import0 }`.
// Every name the map lists must be found where it is expected, or the script fails: a wasm-bindgen
// upgrade that changes the glue's shape breaks the build, not the page.
//
// The .wasm's `.d.ts` (its exports' types) follows the map too.
//
// Usage: node scripts/minify-names.mjs <wasm-opt> <file.wasm> <glue.js> [wasm-opt feature flags…]
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

const [wasmOpt, wasmFile, glueFile, ...flags] = process.argv.slice(2);
const fail = (msg) => {
  console.error(`minify-names: ${msg}`);
  process.exit(1);
};
// The producers and target-features sections go too: they describe the toolchain, not the code.
const out = execFileSync(wasmOpt, [...flags, "--minify-imports-and-exports-and-modules", "--strip-producers", "--strip-target-features", wasmFile, "-o", wasmFile], { encoding: "utf8" });
const map = JSON.parse(out.slice(out.indexOf("{")));
const module = new WebAssembly.Module(readFileSync(wasmFile));
const modules = new Set(WebAssembly.Module.imports(module).map((i) => i.module));
if (modules.size !== 1) fail(`expected one import module after minifying, got ${[...modules].join(", ")}`);
const [newModule] = modules;

let glue = readFileSync(glueFile, "utf8");
const escape = (s) => s.replace(/[$]/g, "\\$&");

// Exports: every `wasm.<name>` use in the glue.
const exports = new Map(map.exports);
let unknown = [];
glue = glue.replace(/\bwasm\.([A-Za-z_$][\w$]*)/g, (whole, name) => {
  const short = exports.get(name);
  if (short === undefined) {
    unknown.push(name);
    return whole;
  }
  return `wasm.${short}`;
});
if (unknown.length) fail(`the glue uses exports the map does not list: ${[...new Set(unknown)].join(", ")}`);

// Imports.
const bg = "./canopy_web_bg.js";
const passed = new Map(); // snippet path → `importN`
for (const m of glue.matchAll(/^import \* as (import\d+) from "([^"]+)"/gm)) if (!passed.has(m[2])) passed.set(m[2], m[1]);
const extra = [];
for (const [from, name, short] of map.imports) {
  if (from === bg) {
    const key = new RegExp(`^(\\s+)${escape(name)}:`, "m");
    if (!key.test(glue)) fail(`import ${name} is not a key of the glue's import object`);
    glue = glue.replace(key, `$1${short}:`);
  } else {
    const ns = passed.get(from);
    if (!ns) fail(`import ${from} ${name}: the glue does not import that module as a namespace`);
    extra.push(`        ${JSON.stringify(short)}: ${ns}.${name},`);
  }
}
const ret = /return \{\n\s+__proto__: null,\n\s+"\.\/canopy_web_bg\.js": import0,\n(\s+"[^"]+": import\d+,\n)*\s+\};/;
if (!ret.test(glue)) fail("the shape of __wbg_get_imports' return changed");
glue = glue.replace(ret, `return { __proto__: null, ${JSON.stringify(newModule)}: import0 };`);
const head = /const import0 = \{\n\s+__proto__: null,\n/;
if (!head.test(glue)) fail("the shape of the glue's import object changed");
glue = glue.replace(head, (h) => h + extra.join("\n") + (extra.length ? "\n" : ""));
writeFileSync(glueFile, glue);
const dts = wasmFile.replace(/\.wasm$/, ".wasm.d.ts");
try {
  const types = readFileSync(dts, "utf8").replace(/^export const ([\w$]+):/gm, (whole, name) =>
    exports.has(name) ? `export const ${exports.get(name)}:` : whole);
  writeFileSync(dts, types);
} catch (e) {
  if (e.code !== "ENOENT") throw e;
}
console.log(`minify-names: ${map.imports.length} imports and ${map.exports.length} exports renamed`);
