// The packed package in a fresh plain webpack 5 app: `npm pack` pkg/, create the app from the npm
// registry (tests/e2e/webpack-app/create.mjs: pinned webpack and webpack-cli, and the tarball),
// build it with `webpack --mode production` and no configuration at all, then
//   - no absolute path of the build machine (the app's temp dir, /work/, /root/, file://) may
//     appear anywhere in the output: webpack 5 turns a bare `import.meta.url` into the build's
//     file:// path, and whatever is in dist/ ships to every user;
//   - served on 127.0.0.1, the app must start Canopy in headless Chromium (and Firefox when
//     installed), load the .wasm asset webpack emitted, and its span and the fetch's CLIENT span
//     (with the traceparent the server saw) must reach a local OTLP sink.
// The same app is built a second time importing the `canopy-web/core` entry, and checked the same
// way (its own .wasm, the core one, is the asset).
// Run: node --test tests/e2e/package-webpack.test.mjs   (after `make pkg`; needs the npm registry
// or target/npm-cache)
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import { cp, mkdtemp, readdir, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { browsers, launch, receivedSpans, attr } from "./harness.mjs";
import { createWebpackApp } from "./webpack-app/create.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const WAIT_MS = 20000;

let work;
/** The two builds of the app: the main entry, and the same app importing canopy-web/core. */
const variants = [
  { name: "main entry", entry: "canopy-web", wasm: "canopy_web_bg.wasm" },
  { name: "core entry", entry: "canopy-web/core", wasm: "core/canopy_web_bg.wasm" },
];

function run(cmd, args, opts = {}) {
  return new Promise((ok, fail) => {
    execFile(cmd, args, { maxBuffer: 16 << 20, timeout: 120000, ...opts }, (err, stdout, stderr) => {
      if (err) fail(new Error(`${cmd} ${args.join(" ")} failed (${err.code ?? err.signal}):\n${stdout}${stderr}`));
      else ok(stdout + stderr);
    });
  });
}

async function filesBelow(dir) {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...await filesBelow(p));
    else out.push(p);
  }
  return out;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), "canopy-webpack-"));
  const packed = await run("npm", ["pack", `${root}pkg`, "--pack-destination", work, "--ignore-scripts", "--loglevel=error"]);
  const tarball = join(work, packed.trim().split("\n").pop());
  const main = await createWebpackApp(join(work, "app"), tarball);
  for (const v of variants) {
    v.app = v.entry === "canopy-web" ? main : join(work, "app-core");
    if (v.app !== main) {
      // The same installed app, its one import pointed at the core entry.
      await cp(main, v.app, { recursive: true, verbatimSymlinks: true });
      await rm(join(v.app, "dist"), { recursive: true, force: true }); // the main build's output
      const src = join(v.app, "src", "index.js");
      const code = await readFile(src, "utf8");
      assert.ok(code.includes('from "canopy-web";'));
      await writeFile(src, code.replace('from "canopy-web";', `from "${v.entry}";`));
    }
    v.buildOutput = await run(process.execPath, [join(v.app, "node_modules/webpack/bin/webpack.js"), "--mode", "production", "--no-color"], { cwd: v.app });
    v.dist = join(v.app, "dist");
  }
}, { timeout: 300000 });

after(async () => {
  if (work && !process.env.CANOPY_KEEP_WEBPACK_APP) await rm(work, { recursive: true, force: true });
});

for (const v of variants) test(`webpack 5 production build, ${v.name}: the .wasm is an asset and no build-machine path is in the output`, async () => {
  const { buildOutput, dist, app } = v;
  assert.match(buildOutput, /compiled successfully/, buildOutput);
  const files = await filesBelow(dist);
  const wasm = files.filter((f) => f.endsWith(".wasm"));
  assert.equal(wasm.length, 1, `webpack emitted the .wasm as an asset: ${files.join(", ")}`);
  assert.equal((await stat(wasm[0])).size, (await stat(`${root}pkg/${v.wasm}`)).size, "the entry's own .wasm, unchanged");
  assert.ok(files.some((f) => f.endsWith(`${sep}main.js`)), `dist/main.js: ${files.join(", ")}`);

  const needles = new Set([work, await realpath(work), app, root.replace(/\/$/, ""), `${tmpdir()}/`, "file://", "/work/", "/root/", `${homedir()}/`]);
  const found = [];
  for (const f of files) {
    const text = (await readFile(f)).toString("latin1"); // .wasm too: byte-for-byte search
    for (const n of needles) {
      const i = text.indexOf(n);
      if (i >= 0) found.push(`${f.slice(dist.length + 1)}: ${JSON.stringify(n)} in …${JSON.stringify(text.slice(Math.max(0, i - 60), i + 100))}…`);
    }
  }
  assert.deepEqual(found, [], `absolute build paths in the bundle:\n${found.join("\n")}`);
});

/** Serves dist/ then public/ on 127.0.0.1; records the traceparent of each /api request. */
function serveApp({ app, dist }) {
  const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };
  const api = [];
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path.startsWith("/api/")) api.push({ path, traceparent: req.headers.traceparent });
    const rel = path === "/" ? "index.html" : decodeURIComponent(path.slice(1));
    for (const dir of [dist, join(app, "public")]) {
      const file = normalize(join(dir, rel));
      if (!file.startsWith(dir + sep)) break;
      try {
        const body = await readFile(file);
        res.writeHead(200, { "content-type": types[extname(file)] || "application/octet-stream", "cache-control": "no-store" });
        res.end(body);
        return;
      } catch (_) {}
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found");
  });
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => ok({
      origin: `http://127.0.0.1:${server.address().port}`,
      api,
      close: () => new Promise((r) => { server.close(() => r()); server.closeAllConnections?.(); }),
    }));
  });
}

for (const browser of browsers()) describe(browser, () => {
  let h;
  before(async () => { h = await launch(browser); });
  after(async () => { await h?.close(); });

  async function until(pred, what) {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const v = await pred();
      if (v) return v;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  for (const v of variants) test(`the built app (${v.name}) starts Canopy, loads the emitted .wasm, and its spans reach the sink`, { timeout: 120000 }, async () => {
    const { dist } = v;
    h.sink.reset();
    const server = await serveApp(v);
    const context = await h.browser.newContext();
    try {
      const page = await context.newPage();
      const problems = [];
      const wasm = [];
      page.on("pageerror", (e) => problems.push(`pageerror: ${e}`));
      page.on("console", (m) => { if (m.type() === "error" || /canopy/i.test(m.text())) problems.push(`${m.type()}: ${m.text()}`); });
      page.on("response", (r) => { if (/\.wasm(\?|$)/.test(r.url())) wasm.push({ url: r.url(), status: r.status(), type: r.headers()["content-type"] }); });
      await page.goto(`${server.origin}/?otlp=${encodeURIComponent(`${h.base}/v1/traces`)}`, { timeout: WAIT_MS });
      await page.waitForFunction(() => document.body.dataset.result, null, { timeout: WAIT_MS });
      const result = JSON.parse(await page.evaluate(() => document.body.dataset.result));
      assert.deepEqual(result, { started: true, items: 3 }, "init resolved true and the app ran");

      assert.deepEqual(problems, [], "no page errors, no console errors, no Canopy warnings");
      const emitted = (await readdir(dist)).find((f) => f.endsWith(".wasm"));
      assert.equal(wasm.length, 1, `the .wasm is fetched once: ${JSON.stringify(wasm)}`);
      assert.equal(wasm[0].status, 200);
      assert.equal(wasm[0].url, `${server.origin}/${emitted}`, "from the URL webpack gave its asset");
      assert.match(wasm[0].type, /^application\/wasm/);

      const spans = await until(() => {
        const s = receivedSpans(h.sink);
        return s.some((x) => x.name === "loadItems") && s.some((x) => x.kind === 3) && s;
      }, "loadItems and the fetch's CLIENT span at the sink");
      const load = spans.find((s) => s.name === "loadItems");
      assert.equal(attr(load, "items.count"), 3);
      assert.equal(attr({ attributes: load.resource.attributes }, "service.name"), "webpack-app");
      const client = spans.find((s) => s.kind === 3);
      assert.equal(attr(client, "url.full"), `${server.origin}/api/items.json`);
      assert.equal(client.traceId, load.traceId);
      assert.equal(client.parentSpanId, load.spanId, "the fetch is a child of loadItems");
      assert.deepEqual(server.api, [{ path: "/api/items.json", traceparent: `00-${client.traceId}-${client.spanId}-01` }],
        "the request carried the CLIENT span's traceparent");
    } finally {
      await context.close();
      await server.close();
    }
  });
});
