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
// The .wasm's `.d.ts` (its exports' types) and the glue's `InitOutput` type follow the map too.
//
// The one import module is then named after the package, its version and the build (`module`,
// e.g. "canopy-web@0.1.0:core"): short names alone would let a glue link a .wasm of another build
// or version whose imports happen to be a subset of its own, and fail later, half-initialized.
// With the build in the module name, any such mix fails at instantiation.
//
// Usage: node scripts/minify-names.mjs <wasm-opt> <file.wasm> <glue.js> <module> [wasm-opt feature flags…]
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

const [wasmOpt, wasmFile, glueFile, newModule, ...flags] = process.argv.slice(2);
const fail = (msg) => {
  console.error(`minify-names: ${msg}`);
  process.exit(1);
};
// The producers and target-features sections go too: they describe the toolchain, not the code.
const out = execFileSync(wasmOpt, [...flags, "--minify-imports-and-exports-and-modules", "--strip-producers", "--strip-target-features", wasmFile, "-o", wasmFile], { encoding: "utf8" });
const map = JSON.parse(out.slice(out.indexOf("{")));
const modules = new Set(WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(wasmFile))).map((i) => i.module));
if (modules.size !== 1) fail(`expected one import module after minifying, got ${[...modules].join(", ")}`);
if (!newModule || newModule.startsWith("--")) fail("no module name given");
writeFileSync(wasmFile, renameImportModule(readFileSync(wasmFile), newModule));
const renamed = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(wasmFile)));
if (!renamed.length || renamed.some((i) => i.module !== newModule)) fail("renaming the import module failed");

/** `bytes` (a wasm binary) with every import's module name replaced by `name`. */
function renameImportModule(bytes, name) {
  let p = 8; // magic and version
  const leb = () => {
    let v = 0, shift = 0, b;
    do {
      b = bytes[p++];
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return v;
  };
  const put = (out, v) => {
    do {
      let b = v % 128;
      v = Math.floor(v / 128);
      if (v > 0) b |= 0x80;
      out.push(b);
    } while (v > 0);
  };
  const limits = () => {
    const flag = bytes[p++];
    leb();
    if (flag & 1) leb();
  };
  const valtype = () => {
    const t = bytes[p++];
    if (t === 0x63 || t === 0x64) leb(); // (ref null? heaptype)
  };
  while (p < bytes.length) {
    const start = p;
    const id = bytes[p++];
    const size = leb();
    const body = p;
    if (id !== 2) {
      p = body + size;
      continue;
    }
    const enc = new TextEncoder().encode(name);
    const out = [];
    const count = leb();
    put(out, count);
    for (let i = 0; i < count; i++) {
      const moduleLen = leb();
      p += moduleLen; // past the old module name
      put(out, enc.length);
      out.push(...enc);
      const fieldStart = p;
      const fieldLen = leb();
      p += fieldLen; // past the field name
      const kind = bytes[p++];
      if (kind === 0) leb(); // function: type index
      else if (kind === 1) { valtype(); limits(); } // table
      else if (kind === 2) limits(); // memory
      else if (kind === 3) { valtype(); p++; } // global: type, mutability
      else if (kind === 4) { p++; leb(); } // tag: attribute, type index
      else fail(`unknown import kind ${kind}`);
      out.push(...bytes.subarray(fieldStart, p));
    }
    if (p !== body + size) fail("the import section did not parse to its end");
    const head = [2];
    put(head, out.length);
    return Buffer.concat([bytes.subarray(0, start), Buffer.from(head), Buffer.from(out), bytes.subarray(p)]);
  }
  fail("the .wasm has no import section");
}

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
    glue = glue.replace(key, (_, indent) => `${indent}${short}:`);
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
// The types: the .wasm's exports (`export const <name>:`) and the glue's `InitOutput`
// (`readonly <name>:`). Either file may be absent (the core build ships neither).
const rename = (file, re) => {
  try {
    writeFileSync(file, readFileSync(file, "utf8").replace(re, (whole, head, name) =>
      exports.has(name) ? `${head}${exports.get(name)}:` : whole));
  } catch (e) {
    if (e.code !== "ENOENT") throw e;
  }
};
rename(wasmFile.replace(/\.wasm$/, ".wasm.d.ts"), /^(export const )([\w$]+):/gm);
rename(glueFile.replace(/\.js$/, ".d.ts"), /^(\s+readonly )([\w$]+):/gm);
console.log(`minify-names: ${map.imports.length} imports and ${map.exports.length} exports renamed`);
