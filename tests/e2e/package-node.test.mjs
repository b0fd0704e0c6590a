// The package outside a browser, resolved by Node as a test runner or a server render resolves it
// (package.json's exports, with and without the "development" condition), each import in a child
// process of its own: the entries import where TextDecoder and TextEncoder are missing (Jest's
// jsdom environment), and each entry's .wasm export is the .wasm its glue links with.
// Run: node --test tests/e2e/package-node.test.mjs   (after `make pkg`)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
let work;

before(() => {
  // An app's node_modules: a copy of pkg/ (not a link: Node resolves a linked package's own
  // imports, "react" here, from where the link points), React and the package's dependency.
  work = mkdtempSync(join(tmpdir(), "canopy-node-"));
  mkdirSync(join(work, "node_modules"));
  cpSync(join(root, "pkg"), join(work, "node_modules", "canopy-web"), { recursive: true });
  for (const dep of ["react", "web-vitals"]) symlinkSync(join(root, "tools", "node_modules", dep), join(work, "node_modules", dep), "dir");
  // Run as `node [--conditions=development] check.mjs <what> <entry> [<wasm export>]`; prints one
  // line of JSON. From a file in `work`, so that the bare specifiers resolve in its node_modules.
  writeFileSync(join(work, "check.mjs"), `
    import { readFileSync } from "node:fs";
    import { fileURLToPath } from "node:url";
    const [what, entry, wasmExport] = process.argv.slice(2);
    const out = { resolved: import.meta.resolve(entry).split("/node_modules/canopy-web/")[1] };
    if (what === "import-without-text-coders") {
      delete globalThis.TextDecoder;
      delete globalThis.TextEncoder;
      const m = await import(entry);
      out.exports = Object.keys(m).length;
      if (m.init) {
        const started = m.init({ serviceName: "node" }); // would throw here if it threw synchronously
        m.startSpan("before").end();
        out.init = await started;
        out.running = m.isRunning();
      }
    } else {
      const m = await import(entry);
      const url = import.meta.resolve(wasmExport);
      out.wasm = url.split("/node_modules/canopy-web/")[1];
      try {
        await m.load(readFileSync(fileURLToPath(url)));
        out.loaded = true;
      } catch (e) {
        out.loaded = String(e);
      }
    }
    console.log(JSON.stringify(out));
  `);
});
after(() => { if (work) rmSync(work, { recursive: true, force: true }); });

/** Runs check.mjs in a child process (at most 60 s); its JSON line and its stderr. */
function check(development, ...args) {
  const flags = development ? ["--conditions=development"] : [];
  return new Promise((ok, fail) => {
    execFile(process.execPath, [...flags, "check.mjs", ...args], { cwd: work, timeout: 60000 }, (err, stdout, stderr) => {
      if (err) return fail(new Error(`node ${[...flags, ...args].join(" ")} failed:\n${stdout}${stderr}`));
      ok({ ...JSON.parse(stdout.trim().split("\n").pop()), stderr });
    });
  });
}

const entries = [
  // [specifier, the file it resolves to, with the development condition]
  ["canopy-web", "index.js", "dev/index.js"],
  ["canopy-web/react", "react.js", "dev/react.js"],
  ["canopy-web/core", "core/index.js", "core/index.js"],
  ["canopy-web/core/react", "core/react.js", "core/react.js"],
];

for (const development of [false, true]) {
  const label = development ? " (--conditions=development)" : "";

  test(`every entry imports where TextDecoder and TextEncoder are missing, as in Jest's jsdom environment; init resolves false${label}`, async () => {
    for (const [entry, prod, dev] of entries) {
      const r = await check(development, "import-without-text-coders", entry);
      assert.equal(r.resolved, development ? dev : prod, `${entry} resolves to its build`);
      assert.ok(r.exports > 0, `${entry} has its exports`);
      if (entry.endsWith("/react")) continue; // no init of its own: <TraceProvider> calls the entry's
      // Node's fetch cannot get a file: URL (and wants TextEncoder itself): the .wasm does not load,
      // and init says so and resolves false, as in a page where it cannot load.
      assert.equal(r.init, false, `${entry}: init resolves false`);
      assert.equal(r.running, false);
      assert.match(r.stderr, /canopy: could not load canopy_web_bg\.wasm, so tracing is off/, `${entry}: init says why`);
      // In one line, and why: not Node's stack and cause for its fetch.
      assert.match(r.stderr, /so tracing is off \(not a browser\): \S/, `${entry}: and why`);
      assert.equal(r.stderr.trim().split("\n").length, 1, `${entry}: one line; got:\n${r.stderr}`);
    }
  });

  test(`each entry loads the .wasm its package.json export names (README: import wasmUrl from "canopy-web/canopy_web_bg.wasm"; load(wasmUrl))${label}`, async () => {
    // The import module names the build (scripts/minify-names.mjs): a glue refuses another
    // build's .wasm, so the .wasm export must follow the entry's condition.
    const main = await check(development, "load", "canopy-web", "canopy-web/canopy_web_bg.wasm");
    assert.deepEqual([main.resolved, main.wasm, main.loaded], development ? ["dev/index.js", "dev/canopy_web_bg.wasm", true] : ["index.js", "canopy_web_bg.wasm", true]);
    // The core entry has no development build: one .wasm either way.
    const core = await check(development, "load", "canopy-web/core", "canopy-web/core/canopy_web_bg.wasm");
    assert.deepEqual([core.resolved, core.wasm, core.loaded], ["core/index.js", "core/canopy_web_bg.wasm", true]);
  });
}
