// The size budget: what the package costs a page (the .wasm plus the JS an app bundles, each
// gzipped at level 9) may not grow past size-budget.json. Measured as `make bench` measures
// the size row: esbuild (bundle, minify, ESM, browser) of bench/apps/canopy-app.js against the
// built package in pkg/. Run: node --test tests/e2e/size-budget.test.mjs (after `make pkg`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants as zc, gzipSync } from "node:zlib";

const root = fileURLToPath(new URL("../..", import.meta.url));
const esbuild = createRequire(join(root, "tools", "package.json"))("esbuild");
const budget = JSON.parse(readFileSync(join(root, "size-budget.json"), "utf8"));
const gz = (b) => gzipSync(b, { level: 9 }).length;
const br = (b) => brotliCompressSync(b, { params: { [zc.BROTLI_PARAM_QUALITY]: 11, [zc.BROTLI_PARAM_SIZE_HINT]: b.length } }).length;

async function measure(app = "canopy-app.js", wasmFile = "canopy_web_bg.wasm") {
  const work = mkdtempSync(join(tmpdir(), "canopy-size-"));
  try {
    mkdirSync(join(work, "node_modules"));
    symlinkSync(join(root, "pkg"), join(work, "node_modules", "canopy-web"), "dir");
    // The package's dependency, as npm would install it next to it.
    symlinkSync(join(root, "tools", "node_modules", "web-vitals"), join(work, "node_modules", "web-vitals"), "dir");
    const outfile = join(work, "app.js");
    await esbuild.build({
      entryPoints: [join(root, "bench", "apps", app)], outfile, bundle: true, minify: true, format: "esm",
      platform: "browser", nodePaths: [join(work, "node_modules")], logLevel: "error", legalComments: "none",
      loader: { ".wasm": "file" }, define: { "process.env.NODE_ENV": '"production"' },
    });
    const js = readFileSync(outfile), wasm = readFileSync(join(root, "pkg", wasmFile));
    return { js: gz(js), wasm: gz(wasm), jsBr: br(js), wasmBr: br(wasm), text: js.toString("utf8") };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Fails, saying what grew, when `m` (a measurement) is over the budget's `<prefix>WasmGzipBytes`,
 *  `<prefix>JsGzipBytes` or `<prefix>TotalGzipBytes` (prefix "" or "core"). */
function assertWithin(m, prefix, what) {
  const key = (k) => (prefix ? prefix + k : k[0].toLowerCase() + k.slice(1));
  const over = [];
  for (const [label, got, k] of [[".wasm gzip", m.wasm, "WasmGzipBytes"], ["bundled JS gzip", m.js, "JsGzipBytes"], ["total gzip", m.js + m.wasm, "TotalGzipBytes"]]) {
    const max = budget[key(k)];
    assert.equal(typeof max, "number", `size-budget.json has a number for ${key(k)}`);
    if (got > max) over.push(`${label} ${got} B > budget ${max} B (+${got - max} B)`);
  }
  assert.deepEqual(over, [], `${what} grew past size-budget.json: ${over.join("; ")}. ` +
    `Measure what grew (twiggy, make bench), and raise the budget only with a line in BENCHMARKS.md saying what it bought.`);
}

test("the package stays inside its size budget (gzip -9: .wasm, bundled JS, total)", async () => {
  const m = await measure();
  const total = m.js + m.wasm;
  console.log(`size: .wasm ${m.wasm} B, JS ${m.js} B, total ${total} B gzip (budget ${budget.wasmGzipBytes} + ${budget.jsGzipBytes} = ${budget.totalGzipBytes} B); ` +
    `Brotli (quality 11): .wasm ${m.wasmBr} B, JS ${m.jsBr} B, total ${m.wasmBr + m.jsBr} B`);
  assertWithin(m, "", "the package");
});

test("the core entry (canopy-web/core) stays inside its budget and bundles none of what it leaves out", async () => {
  const m = await measure("canopy-core-app.js", "core/canopy_web_bg.wasm");
  const full = await measure();
  const total = m.js + m.wasm;
  console.log(`size, core entry: .wasm ${m.wasm} B, JS ${m.js} B, total ${total} B gzip (budget ${budget.coreWasmGzipBytes} + ${budget.coreJsGzipBytes} = ${budget.coreTotalGzipBytes} B); ` +
    `Brotli (quality 11): total ${m.wasmBr + m.jsBr} B; the main entry: ${full.js + full.wasm} B gzip`);
  // Google's web-vitals (its attribution build names these fields).
  for (const marker of ["largestShiftTarget", "interactionTarget"]) {
    assert.ok(full.text.includes(marker), `the main entry's bundle has "${marker}" (so this check can fail)`);
    assert.ok(!m.text.includes(marker), `the core entry's bundle has no "${marker}"`);
  }
  // The snippet with the interaction, route and long-frame listeners: the core glue does not import it.
  const imports = (glue) => readFileSync(join(root, "pkg", glue), "utf8").includes("/js/auto.js");
  assert.equal(imports("canopy_web.js"), true, "the main glue imports js/auto.js (so this check can fail)");
  assert.equal(imports("core/canopy_web.js"), false, "the core glue does not import js/auto.js");
  assertWithin(m, "core", "the core entry");
});

test("the development build exists and carries the panic hook", () => {
  const dev = readFileSync(join(root, "pkg", "dev", "canopy_web_bg.wasm"));
  const prod = readFileSync(join(root, "pkg", "canopy_web_bg.wasm"));
  // std's panic machinery (and console_error_panic_hook's message) live only in the dev build.
  assert.ok(dev.includes(Buffer.from("panicked at")), "the dev .wasm formats panic messages");
  assert.ok(!prod.includes(Buffer.from("panicked at")), "the production .wasm has no panic formatting");
  const pkg = JSON.parse(readFileSync(join(root, "pkg", "package.json"), "utf8"));
  assert.equal(pkg.exports["."].development, "./dev/index.js");
  assert.equal(pkg.exports["./react"].development, "./dev/react.js");
});
