// The packed tarball: what `npm pack` of pkg/ ships, and package.json's entry points.
// Run: node --test tests/e2e/   (after `make pkg`)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
let work, dir, pkg, files;

const run = (cmd, args, opts = {}) => new Promise((ok, fail) => {
  execFile(cmd, args, { timeout: 60000, ...opts }, (err, stdout, stderr) => (err ? fail(new Error(`${cmd} failed:\n${stdout}${stderr}`)) : ok(stdout)));
});

async function walk(d) {
  const out = [];
  for (const e of await readdir(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), "canopy-pack-"));
  const name = (await run("npm", ["pack", `${root}pkg`, "--pack-destination", work, "--ignore-scripts", "--loglevel=error"])).trim().split("\n").pop();
  await run("tar", ["xzf", join(work, name), "-C", work]);
  dir = join(work, "package");
  pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
  files = (await walk(dir)).map((f) => relative(dir, f)).sort();
});
after(async () => { if (work) await rm(work, { recursive: true, force: true }); });

test("the tarball holds the entries, the API, the glue, the snippets and the .wasm (production, development and core), and nothing else", () => {
  const expected = ["LICENSE", "README.md", "package.json", "index.js", "index.d.ts", "react.js", "react.d.ts", "api.js", "api.d.ts", "vitals.js",
    "canopy_web.js", "canopy_web.d.ts", "canopy_web_bg.wasm", "canopy_web_bg.wasm.d.ts",
    "dev/index.js", "dev/react.js", "dev/api.js", "dev/vitals.js", "dev/canopy_web.js", "dev/canopy_web_bg.wasm",
    "core/index.js", "core/index.d.ts", "core/react.js", "core/react.d.ts", "core/api.js", "core/vitals.js", "core/canopy_web.js", "core/canopy_web_bg.wasm"];
  for (const f of expected) assert.ok(files.includes(f), `${f} is packed`);
  for (const d of ["snippets/", "dev/snippets/", "core/snippets/"]) {
    const snippets = files.filter((f) => f.startsWith(d));
    assert.ok(snippets.some((f) => f.endsWith("/js/instrument.js")) && snippets.some((f) => f.endsWith("/js/transport.js")), `the wasm-bindgen snippets are packed in ${d}`);
  }
  const extra = files.filter((f) => !expected.includes(f) && !/^(dev\/|core\/)?snippets\//.test(f));
  assert.deepEqual(extra, [], "no stray files");
});

test("every relative import and `new URL(…, import.meta.url)` in the packed JavaScript resolves inside the package", async () => {
  for (const f of files.filter((x) => x.endsWith(".js") || x.endsWith(".d.ts"))) {
    const text = await readFile(join(dir, f), "utf8");
    const refs = [...text.matchAll(/(?:from\s*|import\s*\(?\s*|new URL\(\s*)["'](\.{0,2}\/?[^"'\s]+?)["']/g)].map((m) => m[1]);
    for (const ref of refs) {
      if (!ref.startsWith(".") && !ref.endsWith(".wasm")) continue; // a package ("react") or not a path
      const target = normalize(join(dirname(f), ref));
      const candidates = [target, target.replace(/\.js$/, ".d.ts")];
      assert.ok(candidates.some((c) => files.includes(c)), `${f} refers to ${ref}, which is packed`);
    }
  }
});

test("package.json: ESM exports with types for '.' and './react', sideEffects false, React an optional peer", async () => {
  assert.equal(pkg.name, "canopy-web");
  const cargo = await readFile(`${root}Cargo.toml`, "utf8");
  assert.equal(pkg.version, /^version = "([^"]+)"/m.exec(cargo)[1], "the version is Cargo.toml's");
  assert.equal(pkg.type, "module");
  assert.deepEqual(pkg.exports["."], { types: "./index.d.ts", development: "./dev/index.js", default: "./index.js" });
  assert.deepEqual(pkg.exports["./react"], { types: "./react.d.ts", development: "./dev/react.js", default: "./react.js" });
  assert.deepEqual(Object.keys(pkg.exports["."]), ["types", "development", "default"], "types first (TypeScript), default last");
  // The core entry (no `auto` feature) has one build: production.
  assert.deepEqual(pkg.exports["./core"], { types: "./core/index.d.ts", default: "./core/index.js" });
  assert.deepEqual(pkg.exports["./core/react"], { types: "./core/react.d.ts", default: "./core/react.js" });
  assert.equal(pkg.module, "./index.js");
  assert.equal(pkg.types, "./index.d.ts");
  assert.equal(pkg.sideEffects, false);
  assert.ok(pkg.peerDependencies.react);
  assert.deepEqual(pkg.peerDependenciesMeta.react, { optional: true });
  assert.deepEqual(pkg.dependencies, { "web-vitals": "^6.2.3" }, "one runtime dependency: Google's web-vitals (loaded only when webVitals is on)");
  for (const [k, v] of Object.entries(pkg.exports)) {
    for (const f of typeof v === "string" ? [v] : Object.values(v)) assert.ok(files.includes(normalize(f)), `exports["${k}"] → ${f} is packed`);
  }
});

test("nothing runs at import time: the entries import cleanly outside a browser", async () => {
  // sideEffects: false promises this; Node stands in for a server-side render.
  const out = await run(process.execPath, ["--input-type=module", "-e",
    `const m = await import(${JSON.stringify(join(dir, "index.js"))}); console.log(typeof m.init, m.isRunning(), typeof m.startSpan("x").end);`]);
  assert.equal(out.trim(), "function false function");
});
