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

async function measure() {
  const work = mkdtempSync(join(tmpdir(), "canopy-size-"));
  try {
    mkdirSync(join(work, "node_modules"));
    symlinkSync(join(root, "pkg"), join(work, "node_modules", "canopy-web"), "dir");
    // The package's dependency, as npm would install it next to it.
    symlinkSync(join(root, "tools", "node_modules", "web-vitals"), join(work, "node_modules", "web-vitals"), "dir");
    const outfile = join(work, "app.js");
    await esbuild.build({
      entryPoints: [join(root, "bench", "apps", "canopy-app.js")], outfile, bundle: true, minify: true, format: "esm",
      platform: "browser", nodePaths: [join(work, "node_modules")], logLevel: "error", legalComments: "none",
      loader: { ".wasm": "file" }, define: { "process.env.NODE_ENV": '"production"' },
    });
    const js = readFileSync(outfile), wasm = readFileSync(join(root, "pkg", "canopy_web_bg.wasm"));
    return { js: gz(js), wasm: gz(wasm), jsBr: br(js), wasmBr: br(wasm) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

test("the package stays inside its size budget (gzip -9: .wasm, bundled JS, total)", async () => {
  const m = await measure();
  const total = m.js + m.wasm;
  console.log(`size: .wasm ${m.wasm} B, JS ${m.js} B, total ${total} B gzip (budget ${budget.wasmGzipBytes} + ${budget.jsGzipBytes} = ${budget.totalGzipBytes} B); ` +
    `Brotli (quality 11): .wasm ${m.wasmBr} B, JS ${m.jsBr} B, total ${m.wasmBr + m.jsBr} B`);
  const over = [];
  const check = (what, got, max) => { if (got > max) over.push(`${what} ${got} B > budget ${max} B (+${got - max} B)`); };
  check(".wasm gzip", m.wasm, budget.wasmGzipBytes);
  check("bundled JS gzip", m.js, budget.jsGzipBytes);
  check("total gzip", total, budget.totalGzipBytes);
  assert.deepEqual(over, [], `the package grew past size-budget.json: ${over.join("; ")}. ` +
    `Measure what grew (twiggy, make bench), and raise the budget only with a line in BENCHMARKS.md saying what it bought.`);
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
