// SDK benchmarks: Canopy vs the OpenTelemetry JS web stack, side by side in one run.
//
//   node bench/run.mjs TARBALL     (bench/run.sh finds the tarball and installs what is needed)
//
// 1. Size: esbuild (--minify, ESM, browser) bundles an equivalent app for each SDK
//    (bench/apps/); JS gzip, .wasm gzip, total gzip (zlib level 9).
// 2. Speed in headless Chromium: manual spans, 4 nested active spans, spans with 2 attributes in
//    their options, spans with 3 attributes;
//    both SDKs batch-export to a local sink on 127.0.0.1; interleaved rounds, medians; in a
//    normal page and in a cross-origin-isolated one (COOP + COEP). Two numbers: the span calls
//    (timed loops with no export inside) and export included (the page's main-thread CPU time
//    over paced chunks of 512 spans, from the DevTools protocol, less a run without spans).
// 3. Bytes on the wire: the same 500-span workload through each SDK's exporter, bytes as sent
//    and gzip-compressed; plus real fetches through each SDK's own fetch instrumentation.
// 4. Time added per fetch and per XMLHttpRequest (bench/more.mjs): pages with no SDK, Canopy and
//    OpenTelemetry, blocks of requests to the bench server in rotating order, median and p99.
// 5. Memory per queued span (bench/more.mjs): JS heap after GC, plus Canopy's wasm memory.
// 6. Time from navigation start to SDK ready, cold and warm HTTP cache (bench/more.mjs).
// 7. The relay (bench/relay.mjs): Canopy's relay against the seed write-up's Flask endpoint.
// 8. Prints the tables and writes the SDK section of BENCHMARKS.md (BENCH_WRITE=0: print only).
//
// Environment: BENCH_ONLY (comma-separated parts: size,speed,wire,fetch,memory,ready,relay;
// default all; with a subset it prints those parts' tables and never writes BENCHMARKS.md),
// BENCH_ROUNDS (default 9), BENCH_CHUNKS (512-span chunks per export-included run,
// default 20), BENCH_RECORD_SPANS (spans per span-calls measurement, default 8192),
// BENCH_REQ_BLOCK / BENCH_REQ_BLOCKS / BENCH_REQ_PAGES (requests per block, blocks per SDK and
// kind, pages per SDK: 100, 72, 6; the blocks a multiple of 6 x the pages),
// BENCH_MEM_SPANS / BENCH_MEM_ROUNDS (10000, 3), BENCH_READY_ROUNDS (15),
// BENCH_RELAY_SECONDS / BENCH_RELAY_CONNECTIONS (10, 16), BENCH_RELAY_BIN and BENCH_VENV (set by
// run.sh), BENCH_WRITE (default 1), BENCH_DUMP (a file for the raw results as JSON).
// Every wait is bounded; the server listens on 127.0.0.1 only; everything started is stopped.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants as zc, gunzipSync, gzipSync } from "node:zlib";
import { launchChromium } from "./cdp.mjs";
import { measureMemory, measureReady, measureRequests, reportMemory, reportReady, reportRequests } from "./more.mjs";
import { measureRelay, reportRelay, stopRelayProcesses } from "./relay.mjs";
import { startServer } from "./server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..");
const requireTools = createRequire(join(repo, "tools", "package.json"));
const esbuild = requireTools("esbuild");

const ROUNDS = Number(process.env.BENCH_ROUNDS || 9);
const CHUNKS = Number(process.env.BENCH_CHUNKS || 20);
const RECORD_SPANS = Number(process.env.BENCH_RECORD_SPANS || 8192);
const RECORD_REPEAT = 3; // span-calls measurements per round (they are short)
const GAP_MS = 10; // between chunks in the paced (export included) runs
const WRITE = process.env.BENCH_WRITE !== "0";
const ALL_PARTS = ["size", "speed", "wire", "fetch", "memory", "ready", "relay"];
const PARTS = new Set((process.env.BENCH_ONLY || ALL_PARTS.join(",")).split(",").map((x) => x.trim()).filter(Boolean));
for (const p of PARTS) if (!ALL_PARTS.includes(p)) { console.error(`BENCH_ONLY: unknown part ${p} (parts: ${ALL_PARTS.join(",")})`); process.exit(2); }
const EVERYTHING = ALL_PARTS.every((p) => PARTS.has(p));
const SCENARIOS = ["manual", "nested", "options", "attrs"];
const SDKS = ["canopy", "otel"];
const SETTINGS = ["plain", "coi"];
const NAMES = { canopy: "Canopy", canopyCore: "Canopy, core entry (`canopy-web/core`)", otel: "OpenTelemetry JS", otelFull: "OpenTelemetry JS with Canopy's default features (a lower bound: see *Size*)" };
// The brief: half of OpenTelemetry's 36.3 KB, 1,267 ns (manual) and 2,945 ns (nested); a quarter of its 421 B/span.
const TARGETS = { sizeGzip: 18 * 1024, manual: 600, nested: 2945 / 2, wire: 421 / 4 };
const WIRE_ACTIONS = 100; // x 5 spans = 500 spans
const FETCH_ACTIONS = 100; // x 3 spans

const tarball = process.argv[2];
if (!tarball) {
  console.error("usage: node bench/run.mjs target/canopy-web-<version>.tgz");
  process.exit(2);
}

const started = Date.now();
const log = (...a) => console.error(`bench [${((Date.now() - started) / 1000).toFixed(0)}s]:`, ...a);
const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }) : "n/a");
const kb = (b) => `${fmt(b / 1024, 1)} KB`;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const gz9 = (buf) => gzipSync(buf, { level: 9 }).length;
const gz6 = (buf) => gzipSync(buf, { level: 6 }).length;
// Brotli as servers and CDNs serve static assets: quality 11 (the maximum), generic mode.
const br11 = (buf) => brotliCompressSync(buf, { params: { [zc.BROTLI_PARAM_QUALITY]: 11, [zc.BROTLI_PARAM_SIZE_HINT]: buf.length } }).length;

/** Rejects after `ms`: nothing here waits unbounded. */
function bounded(promise, ms, what) {
  let t;
  return Promise.race([promise, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms); })])
    .finally(() => clearTimeout(t));
}

// ---- load average, sampled through the run --------------------------------------------------
const loads = [];
const sampleLoad = () => loads.push(loadavg()[0]);
sampleLoad();
const loadTimer = setInterval(sampleLoad, 5000);

// ---- cleanup on every exit path ---------------------------------------------------------------
const work = mkdtempSync(join(tmpdir(), "canopy-bench-"));
let browser = null, server = null;
async function cleanup() {
  clearInterval(loadTimer);
  try { if (browser) await bounded(browser.close(), 15000, "closing Chromium"); } catch (e) { log(String(e)); }
  browser = null;
  try { if (server) await bounded(server.close(), 5000, "server.close"); } catch (e) { log(String(e)); }
  server = null;
  try { await bounded(stopRelayProcesses(), 15000, "stopping the relay bench's servers"); } catch (e) { log(String(e)); }
  rmSync(work, { recursive: true, force: true });
}
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => { log(`${sig}: cleaning up`); cleanup().finally(() => process.exit(130)); });
}
const watchdog = setTimeout(() => { log("the run took over 18 minutes: giving up"); cleanup().finally(() => process.exit(3)); }, 18 * 60 * 1000);

// ---- 0. the Canopy package and the bundles ----------------------------------------------------
function preparePackages() {
  const nm = join(work, "node_modules");
  mkdirSync(nm, { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", work]);
  cpSync(join(work, "package"), join(nm, "canopy-web"), { recursive: true });
  rmSync(join(work, "package"), { recursive: true, force: true });
  // The package's dependencies (web-vitals), as `npm install` would put them next to it: the
  // pinned copies scripts/setup.sh installs in tools/.
  const deps = JSON.parse(readFileSync(join(nm, "canopy-web", "package.json"), "utf8")).dependencies || {};
  for (const dep of Object.keys(deps)) cpSync(join(repo, "tools", "node_modules", dep), join(nm, dep), { recursive: true });
  return nm;
}

async function bundle(entry, outfile, nodePaths) {
  await esbuild.build({
    entryPoints: [entry], outfile, bundle: true, minify: true, format: "esm", platform: "browser",
    nodePaths, logLevel: "error", define: { "process.env.NODE_ENV": '"production"' }, legalComments: "none",
  });
  return readFileSync(outfile);
}

function versionOf(pkgDir) {
  return JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")).version;
}

// ---- 1. size ----------------------------------------------------------------------------------
async function measureSize(nodePaths) {
  const dir = join(work, "size");
  mkdirSync(dir);
  /** `bench/apps/<app>.js` bundled, and `wasm` (a path in the installed package) when it has one. */
  const measure = async (app, wasm) => {
    const js = await bundle(join(here, "apps", `${app}.js`), join(dir, `${app}.js`), nodePaths);
    const w = wasm ? readFileSync(join(nodePaths[0], "canopy-web", wasm)) : Buffer.alloc(0);
    const r = { jsRaw: js.length, jsGzip: gz9(js), jsBr: br11(js), wasmRaw: w.length, wasmGzip: wasm ? gz9(w) : 0, wasmBr: wasm ? br11(w) : 0 };
    return { ...r, totalGzip: r.jsGzip + r.wasmGzip, totalBr: r.jsBr + r.wasmBr };
  };
  return {
    canopy: await measure("canopy-app", "canopy_web_bg.wasm"),
    otel: await measure("otel-app"),
    // Canopy's core entry (canopy-web/core: no session, page load, interactions, route changes,
    // long frames or Web Vitals), the nearest to what the OpenTelemetry app does.
    canopyCore: await measure("canopy-core-app", "core/canopy_web_bg.wasm"),
    // Not a target, a comparison: OpenTelemetry with what Canopy records by default.
    otelFull: await measure("otel-full-app"),
  };
}

// ---- 2. pages ---------------------------------------------------------------------------------
async function buildSite(nodePaths) {
  const www = join(work, "www");
  mkdirSync(www);
  const html = (title, src) => `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>${title}</title></head><body>` +
    `<script type="module" src="${src}"></script></body></html>\n`;
  for (const sdk of [...SDKS, "none"]) {
    await bundle(join(here, "harness", `${sdk}.js`), join(www, `${sdk}-bench.js`), nodePaths);
    writeFileSync(join(www, `${sdk}.html`), html(sdk, `${sdk}-bench.js`));
  }
  // Start-up pages (served from /cache/, cacheable): the SDK started as an app starts it.
  for (const sdk of SDKS) {
    await bundle(join(here, "harness", `ready-${sdk}.js`), join(www, `ready-${sdk}.js`), nodePaths);
    writeFileSync(join(www, `ready-${sdk}.html`), html(`ready ${sdk}`, `ready-${sdk}.js`));
  }
  cpSync(join(nodePaths[0], "canopy-web", "canopy_web_bg.wasm"), join(www, "canopy_web_bg.wasm"));
  writeFileSync(join(www, "data.json"), JSON.stringify({ items: Array.from({ length: 20 }, (_, i) => ({ id: i, message: `item ${i}` })) }));
  return www;
}

const LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
  "--disable-quic", "--mute-audio", "--window-size=1280,800",
  "--disable-background-timer-throttling", "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows"];

/** A page of `sdk` (its own browser context), started and exporting to the sink as `key`. */
async function openPage(sdk, setting, key, mode = "export") {
  const page = await browser.newPage(`${server.origin}/${setting}/${sdk}.html`);
  const p = { page, sdk, setting, key, mode };
  await page.waitFor("document.body && document.body.dataset.ready === '1'", 15000);
  await call(p, "setup", [key, mode], 15000);
  const isolated = await page.eval("window.B.isolated");
  if (isolated !== (setting === "coi")) throw new Error(`${sdk}/${setting}: crossOriginIsolated is ${isolated}`);
  return p;
}

/** Calls window.B[method](...args) in the page; bounded. */
async function call(p, method, args = [], ms = 120000) {
  try {
    return await p.page.eval(`window.B.${method}(${args.map((a) => JSON.stringify(a)).join(", ")})`, ms);
  } catch (e) {
    let messages = "";
    try { messages = (await p.page.eval("window.B.errors", 5000)).join(" | "); } catch (_) {}
    throw new Error(`${p.sdk}/${p.setting} ${method}(${args.join(", ")}): ${String(e.message).split("\n")[0]}${messages ? `; page said: ${messages}` : ""}`);
  }
}

/** Logs what the page said (console errors and warnings, uncaught errors). */
async function pageMessages(p) {
  const m = await p.page.eval("window.B.errors", 5000);
  if (m.length) log(`${p.sdk}/${p.setting} page messages: ${m.slice(0, 5).join(" | ")}`);
}

/** Spans in the requests the sink got for `key`, and the bytes. */
function decodeRequests(list) {
  const out = [];
  for (const r of list) {
    const json = r.encoding === "gzip" ? gunzipSync(r.bytes) : r.bytes;
    const doc = JSON.parse(json.toString("utf8"));
    let spans = 0;
    for (const rs of doc.resourceSpans || []) for (const ss of rs.scopeSpans || []) spans += (ss.spans || []).length;
    out.push({ sent: r.bytes.length, encoding: r.encoding, contentType: r.contentType, json, spans, doc });
  }
  return out;
}

/** Spans the sink got from this page since the last call. */
function countTaken(p) {
  return decodeRequests(server.take(p.key)).reduce((n, r) => n + r.spans, 0);
}

async function flushAndCount(p) {
  await call(p, "flush", [], 30000);
  return countTaken(p);
}

/** The page's main-thread CPU time (CDP Performance.getMetrics ThreadTime), in ms. */
async function threadMs(p) {
  const { metrics } = await p.page.send("Performance.getMetrics", {}, 10000);
  return metrics.find((m) => m.name === "ThreadTime").value * 1e3;
}

/** Main-thread CPU ms of `B.method(...args)` in the page, and what it returned. */
async function cpu(p, method, args) {
  const before = await threadMs(p);
  const value = await call(p, method, args);
  return { ms: (await threadMs(p)) - before, value };
}

/** Export included: a paced run (`scenario`, or "none" for the baseline) on an export page. */
async function pacedRun(p, scenario) {
  const { ms, value: spans } = await cpu(p, "paced", [scenario, CHUNKS, GAP_MS]);
  return { spans, ms, got: countTaken(p) };
}

/** Span calls only: one synchronous loop on a record page, then a flush (not measured). */
async function spansRun(p, scenario) {
  const { ms, value } = await cpu(p, "spans", [scenario, RECORD_SPANS]);
  const got = await flushAndCount(p);
  return { spans: value.spans, ms, wallMs: value.ms, got };
}

async function measureSpeed(pages) {
  const find = (setting, sdk, mode) => pages.find((x) => x.setting === setting && x.sdk === sdk && x.mode === mode);
  const samples = {}; // `${setting}/${scenario}/${sdk}` -> { rec: [], recWall: [], total: [] }
  const clock = {};
  const calls = {};
  const drops = [];
  const check = (what, made, got) => { if (made !== got) drops.push(`${what}: ${made} spans made, ${got} exported`); };
  for (const p of pages) await p.page.send("Performance.enable");
  // Clock reads per span, counted in the normal record pages.
  for (const p of pages.filter((x) => x.mode === "record" && x.setting === "plain")) {
    for (const s of SCENARIOS) calls[`${s}/${p.sdk}`] = await call(p, "countClockCalls", [s]);
    await flushAndCount(p);
  }
  // The cost of one clock read: CPU time of 200,000 calls less an empty call, in the record
  // pages, once a round (median over rounds).
  const clockSamples = {};
  const measureClock = async () => {
    const n = 200000;
    for (const p of pages.filter((x) => x.mode === "record")) {
      const base = (await cpu(p, "clock", ["perf", 0])).ms;
      const k = `${p.setting}/${p.sdk}`;
      clockSamples[k] ??= { perfNowNs: [], globalNowNs: [], dateNowNs: [] };
      clockSamples[k].perfNowNs.push((((await cpu(p, "clock", ["perf", n])).ms - base) * 1e6) / n);
      clockSamples[k].globalNowNs.push((((await cpu(p, "clock", ["global", n])).ms - base) * 1e6) / n);
      clockSamples[k].dateNowNs.push((((await cpu(p, "clock", ["date", n])).ms - base) * 1e6) / n);
    }
  };
  // Warm-up: JIT and wasm tier-up, and the export path.
  for (const p of pages) {
    for (const s of SCENARIOS) {
      for (let i = 0; i < 3; i++) {
        if (p.mode === "record") await spansRun(p, s);
        else if (i === 0) await pacedRun(p, s); // export and export-uncompressed
      }
    }
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const setting of SETTINGS) {
      const base = {};
      for (const p of pages.filter((x) => x.setting === setting)) {
        base[`${p.sdk}/${p.mode}`] = p.mode === "record" ? (await cpu(p, "spans", ["none", 0])).ms : (await pacedRun(p, "none")).ms;
      }
      for (let si = 0; si < SCENARIOS.length; si++) {
        const s = SCENARIOS[si];
        const order = (r + si) % 2 === 0 ? SDKS : [...SDKS].reverse();
        for (const sdk of order) {
          const what = `${sdk}/${setting}/${s} round ${r + 1}`;
          const k = `${setting}/${s}/${sdk}`;
          samples[k] ??= { rec: [], recWall: [], total: [] };
          for (let i = 0; i < RECORD_REPEAT; i++) {
            const rec = await spansRun(find(setting, sdk, "record"), s);
            check(`${what} (span calls)`, rec.spans, rec.got);
            samples[k].rec.push(((rec.ms - base[`${sdk}/record`]) * 1e6) / rec.spans);
            samples[k].recWall.push((rec.wallMs * 1e6) / rec.spans);
          }
          const run = await pacedRun(find(setting, sdk, "export"), s);
          check(`${what} (export included)`, run.spans, run.got);
          samples[k].total.push(((run.ms - base[`${sdk}/export`]) * 1e6) / run.spans);
          const plainPage = find(setting, sdk, "export-uncompressed");
          if (plainPage) {
            const u = await pacedRun(plainPage, s);
            check(`${what} (export included, uncompressed)`, u.spans, u.got);
            samples[k].totalUncompressed ??= [];
            samples[k].totalUncompressed.push(((u.ms - base[`${sdk}/export-uncompressed`]) * 1e6) / u.spans);
          }
        }
      }
    }
    await measureClock();
    sampleLoad();
    log(`speed round ${r + 1}/${ROUNDS} done`);
  }
  const result = {};
  for (const [k, v] of Object.entries(samples)) {
    result[k] = { rec: median(v.rec), recBest: Math.min(...v.rec), recWall: median(v.recWall), total: median(v.total), totalBest: Math.min(...v.total),
      recAll: v.rec, recWallAll: v.recWall, totalAll: v.total };
    if (v.totalUncompressed) result[k].totalUncompressed = median(v.totalUncompressed);
  }
  // Per setting, both SDKs' pages together: the best round (load only ever adds) and the median.
  for (const setting of SETTINGS) {
    const all = (f) => SDKS.flatMap((sdk) => clockSamples[`${setting}/${sdk}`][f]);
    clock[setting] = { perfNowBest: Math.min(...all("perfNowNs")), perfNowMedian: median(all("perfNowNs")),
      globalNowBest: Math.min(...all("globalNowNs")), globalNowMedian: median(all("globalNowNs")),
      dateNowBest: Math.min(...all("dateNowNs")), dateNowMedian: median(all("dateNowNs")) };
  }
  return { result, clock, calls, drops };
}

// ---- where the time goes: a CPU profile of a paced manual-span run ---------------------------
async function profile(p) {
  await p.page.send("Profiler.enable");
  await p.page.send("Profiler.setSamplingInterval", { interval: 200 });
  await p.page.send("Profiler.start");
  await call(p, "paced", ["manual", CHUNKS, GAP_MS]);
  const { profile: prof } = await p.page.send("Profiler.stop");
  await p.page.send("Profiler.disable");
  await countTaken(p);
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children || []) parent.set(c, n.id);
  // Is the node inside the harness's span loop (`manual`), i.e. a span call, not export?
  const inLoop = new Map();
  const loopOf = (id) => {
    if (inLoop.has(id)) return inLoop.get(id);
    const n = byId.get(id);
    const v = n.callFrame.functionName === "manual" ? true : parent.has(id) ? loopOf(parent.get(id)) : false;
    inLoop.set(id, v);
    return v;
  };
  const cats = { calls: {}, rest: {} };
  const top = { calls: new Map(), rest: new Map() };
  const sums = { calls: 0, rest: 0 };
  for (let i = 0; i < prof.samples.length; i++) {
    const n = byId.get(prof.samples[i]);
    const f = n.callFrame;
    if (["(idle)", "(root)"].includes(f.functionName)) continue;
    const dt = prof.timeDeltas[i] || 0;
    const part = loopOf(n.id) ? "calls" : "rest";
    const name = f.functionName || "(anonymous)";
    let cat;
    if (f.url.endsWith(".wasm") || name.startsWith("js-to-wasm") || name === "wasm-to-js") cat = "wasm";
    else if (name === "now" || name.startsWith("__wbg_now")) cat = "performance.now";
    else if (name === "(garbage collector)") cat = "GC";
    else if (name === "(program)") cat = "(program)";
    else if (f.url) cat = "JavaScript";
    else cat = name === "(anonymous)" ? "unnamed natives" : `${name}()`;
    cats[part][cat] = (cats[part][cat] || 0) + dt;
    const key = f.url ? `${name} [${basename(f.url)}]` : name;
    top[part].set(key, (top[part].get(key) || 0) + dt);
    sums[part] += dt;
  }
  const shares = (part) => Object.entries(cats[part]).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, (100 * v) / sums[part]]);
  const tops = (part) => [...top[part]].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, v]) => `${((100 * v) / sums[part]).toFixed(1)}% ${k}`);
  return { callsShare: (100 * sums.calls) / (sums.calls + sums.rest), calls: shares("calls"), rest: shares("rest"), topCalls: tops("calls"), topRest: tops("rest") };
}

// ---- 3. bytes on the wire ----------------------------------------------------------------------
function wireStats(reqs, spans) {
  const sent = reqs.reduce((n, r) => n + r.sent, 0);
  const json = reqs.reduce((n, r) => n + r.json.length, 0);
  const gzip = reqs.reduce((n, r) => n + gz6(r.json), 0);
  const got = reqs.reduce((n, r) => n + r.spans, 0);
  const encodings = [...new Set(reqs.map((r) => r.encoding || "identity"))].join(", ");
  return { requests: reqs.length, spans, got, sent, json, gzip, encodings,
    sentPer: sent / got, jsonPer: json / got, gzipPer: gzip / got,
    contentType: [...new Set(reqs.map((r) => r.contentType))].join(", ") };
}

async function measureWire() {
  const out = {};
  const samples = {};
  for (const sdk of SDKS) {
    for (const [name, run] of [
      ["500 spans, 1 flush", (p) => call(p, "workload", [WIRE_ACTIONS, WIRE_ACTIONS])],
      ["500 spans, 10 flushes of 50", (p) => call(p, "workload", [WIRE_ACTIONS, 10])],
      [`${FETCH_ACTIONS} real fetches, 300 spans`, (p) => call(p, "instrumented", [FETCH_ACTIONS])],
    ]) {
      const key = `wire-${sdk}-${Object.keys(out).length}`;
      const p = await openPage(sdk, "plain", key);
      const spans = await run(p);
      const reqs = decodeRequests(server.take(key));
      out[`${name}/${sdk}`] = { name, sdk, ...wireStats(reqs, spans) };
      if (name === "500 spans, 1 flush") samples[sdk] = reqs[0] && reqs[0].doc;
      await pageMessages(p);
      await p.page.close();
    }
  }
  return { out, samples };
}

// ---- 4. report ---------------------------------------------------------------------------------
function stand(value, target, otel, lowerIsBetter = true) {
  const met = lowerIsBetter ? value <= target : value >= target;
  const vsOtel = otel ? ` ${fmt(value / otel, 2)}x OpenTelemetry's in this run` : "";
  return `${met ? "**met**" : "**not met**"}: ${fmt(value / target, 2)}x the target;${vsOtel}`;
}

/** Half the interquartile range over the median, in %, per row; the median over rows. */
function spreadOf(result) {
  const q = (xs, f) => { const t = [...xs].sort((a, b) => a - b); const i = (t.length - 1) * f, lo = Math.floor(i); return t[lo] + (t[Math.ceil(i)] - t[lo]) * (i - lo); };
  const rel = (xs) => (100 * (q(xs, 0.75) - q(xs, 0.25))) / 2 / q(xs, 0.5);
  const rows = Object.values(result);
  return { rec: median(rows.map((r) => rel(r.recAll))), total: median(rows.map((r) => rel(r.totalAll))) };
}

function report(ctx) {
  const { size, speed, wire, prof, facts } = ctx;
  const S = (setting, scenario, sdk, f) => speed.result[`${setting}/${scenario}/${sdk}`][f];
  const w1c = wire.out["500 spans, 1 flush/canopy"], w1o = wire.out["500 spans, 1 flush/otel"];
  const PAGE = { plain: "normal page", coi: "isolated page" };
  const LABEL = { manual: "manual span (`startSpan(name).end()`)", nested: "span in 4 nested `startActiveSpan`", options: "span with 2 attributes in `startSpan` options (string, int)", attrs: "span + 3 `setAttribute` (string, int, bool)" };
  const L = [];
  L.push("## SDK (`canopy-web` vs the OpenTelemetry JS web stack)", "");
  L.push(`**Command.** \`make bench\` (runs \`bench/run.sh\`, ${fmt(facts.seconds / 60, 1)} minutes here; \`BENCH_WRITE=0 make bench\` only prints). ` +
    `Measured ${facts.date} on commit \`${facts.commit}\` with \`target/${facts.tarball}\` (packed ${facts.tarballTime}; \`make pkg\` rebuilds it, \`make bench\` packs it only when missing). ` +
    "One run bundles both apps, runs both SDKs in the same headless Chromium, alternating which goes first, and rewrites this section. " +
    `Speed: ${ROUNDS} rounds (span calls measured ${RECORD_REPEAT} times a round), medians shown.`, "");
  L.push(`**Machine.** ${facts.nproc} cores (${facts.cpu}), Debian's ${facts.chromium} headless (driven over the DevTools protocol pipe, \`bench/cdp.mjs\`), Node ${process.version}, esbuild ${facts.esbuild}. ` +
    `1-minute load average ${fmt(facts.load.start, 2)} at the start and ${fmt(facts.load.min, 2)}-${fmt(facts.load.max, 2)} during the run` +
    `${facts.load.max > facts.nproc ? " (other sessions' builds and tests shared the two cores)" : ""}. ` +
    `The speed numbers are CPU time, which other load disturbs less than wall-clock time but still does (shared cores and caches): ` +
    `half of the rounds fell within ±${fmt(facts.spread.rec)}% of the median for span calls and ±${fmt(facts.spread.total)}% for export included (medians over all rows).`, "");
  L.push(`**What is compared.** \`canopy-web\` ${facts.canopyVersion} (the packed tarball: .wasm + JS glue) against the OpenTelemetry JS web stack set up as its docs show: ` +
    `${facts.otel}. These are the newest releases that work together: npm's \`latest\` instrumentation-fetch (0.300) and exporter-trace-otlp-http (0.301) need core 3 and API 1.10, ` +
    "while sdk-trace-web and context-zone (2.12, the newest) need API < 1.10, so taking every `latest` would bundle two copies of core.", "");

  L.push("### Against the targets", "");
  L.push("The brief's targets: about half of OpenTelemetry's 36.3 KB gzip, 1,267 ns per manual span and 2,945 ns per span in nested active spans, and a quarter of its 421 bytes per span on the wire. " +
    "Where the brief gives no number, the target here is half of OpenTelemetry's in this run.", "");
  L.push("| metric | OpenTelemetry JS (this run) | Canopy (this run) | target | where we stand |", "|---|---|---|---|---|");
  L.push(`| app size, JS + .wasm, gzip | ${kb(size.otel.totalGzip)} | ${kb(size.canopy.totalGzip)} (JS ${kb(size.canopy.jsGzip)} + .wasm ${kb(size.canopy.wasmGzip)}) | ≈ 18 KB | ${stand(size.canopy.totalGzip, TARGETS.sizeGzip, size.otel.totalGzip)} |`);
  L.push(`| app size, core entry (\`canopy-web/core\`: no session, page load, interactions, route changes, long frames or Web Vitals), JS + .wasm, gzip | ${kb(size.otel.totalGzip)} | ${kb(size.canopyCore.totalGzip)} (JS ${kb(size.canopyCore.jsGzip)} + .wasm ${kb(size.canopyCore.wasmGzip)}) | ≈ 18 KB | ${stand(size.canopyCore.totalGzip, TARGETS.sizeGzip, size.otel.totalGzip)} |`);
  L.push(`| app size with Canopy's default features, gzip (no target: OpenTelemetry's \`otel-full-app.js\`, see *Size*) | ${kb(size.otelFull.totalGzip)} | ${kb(size.canopy.totalGzip)} | - | ${fmt(size.canopy.totalGzip / size.otelFull.totalGzip, 2)}x OpenTelemetry's with the same features |`);
  L.push(`| app size, JS + .wasm, Brotli | ${kb(size.otel.totalBr)} | ${kb(size.canopy.totalBr)} (JS ${kb(size.canopy.jsBr)} + .wasm ${kb(size.canopy.wasmBr)}) | ≤ ${kb(size.otel.totalBr / 2)} (half of OpenTelemetry's Brotli) | ${stand(size.canopy.totalBr, size.otel.totalBr / 2, size.otel.totalBr)} |`);
  for (const sc of SCENARIOS) {
    const target = { manual: TARGETS.manual, nested: TARGETS.nested, options: null, attrs: null }[sc];
    for (const setting of SETTINGS) {
      const o = S(setting, sc, "otel", "rec"), c = S(setting, sc, "canopy", "rec");
      const t = target ?? o / 2;
      L.push(`| ns per ${LABEL[sc]}, span calls, ${PAGE[setting]} | ${fmt(o)} | ${fmt(c)} | ${target ? "≈ " + fmt(t) : "≤ " + fmt(t)} ns | ${stand(c, t, o)} |`);
    }
  }
  for (const sc of SCENARIOS) {
    const o = S("plain", sc, "otel", "total"), c = S("plain", sc, "canopy", "total");
    L.push(`| ns per ${LABEL[sc]}, export included (main-thread CPU), normal page | ${fmt(o)} | ${fmt(c)} | ≤ ${fmt(o / 2)} ns | ${stand(c, o / 2, o)} |`);
  }
  L.push(`| bytes per span on the wire, as each sends it (500-span batch) | ${fmt(w1o.sentPer)} (${w1o.encodings === "gzip" ? "gzip" : "plain JSON"}) | ${fmt(w1c.sentPer)} (${w1c.encodings === "gzip" ? "gzip" : "plain JSON"}) | ≈ ${fmt(TARGETS.wire)} | ${stand(w1c.sentPer, TARGETS.wire, w1o.sentPer)} |`);
  L.push(`| bytes per span, both gzipped the same way | ${fmt(w1o.gzipPer)} | ${fmt(w1c.gzipPer)} | ≤ ${fmt(w1o.gzipPer / 4)} (a quarter of OpenTelemetry's gzipped: the strict reading) | ${stand(w1c.gzipPer, w1o.gzipPer / 4, w1o.gzipPer)} |`);
  if (ctx.relay) {
    const f = ctx.relay.rows.flask, r = ctx.relay.rows.relay;
    L.push(`| spans per second through Canopy's relay vs the write-up's Flask \`/api/send-trace\` (OpenTelemetry Python SDK, gunicorn 2 workers; see *Relay* below) | ${fmt(f.spansPerS)} (Flask) | ${fmt(r.spansPerS)} | ≥ ${fmt(100 * f.spansPerS)} (100x Flask's) | ${stand(r.spansPerS, 100 * f.spansPerS, f.spansPerS, false).replace("OpenTelemetry's", "Flask's")} |`);
  }
  L.push("");

  // Reading it: the same numbers, in words.
  const r = (sc, sdk, f = "rec") => S("plain", sc, sdk, f);
  const faster = (sc) => { const x = r(sc, "canopy") / r(sc, "otel"); return x < 1 ? `${fmt(1 / x, 1)}x faster` : `${fmt(x, 1)}x slower`; };
  const ckp = speed.clock.plain;
  const clockShare = (100 * (speed.calls["manual/canopy"].perfNow * ckp.perfNowMedian + speed.calls["manual/canopy"].dateNow * ckp.dateNowMedian)) / r("manual", "canopy");
  const uncManual = r("manual", "canopy", "totalUncompressed");
  L.push("**Reading it.**", "");
  L.push(`- Size: Canopy is ${fmt(size.canopy.totalGzip / size.otel.totalGzip, 2)}x OpenTelemetry's app; the .wasm is ${fmt((100 * size.canopy.wasmGzip) / size.canopy.totalGzip)}% of it, so the size target is ${size.canopy.jsGzip >= TARGETS.sizeGzip ? `out of reach of the .wasm alone: the JS (${kb(size.canopy.jsGzip)}) is already over it` : `a .wasm problem (${kb(size.canopy.wasmGzip)} gzip against about ${kb(TARGETS.sizeGzip - size.canopy.jsGzip)} left after the JS)`}. ` +
    `Canopy's app records much more by default (page load, interactions, XHR, Web Vitals, errors, logs, route changes, long frames, session); OpenTelemetry JS with the packages for most of those is ${kb(size.otelFull.totalGzip)}, and Canopy ${fmt(size.canopy.totalGzip / size.otelFull.totalGzip, 2)}x that. ` +
    `The core entry (\`canopy-web/core\`), which leaves the no-code features out, is ${kb(size.canopyCore.totalGzip)} (${fmt(size.canopyCore.totalGzip / size.otel.totalGzip, 2)}x OpenTelemetry's app). BENCHMARKS.md's *Size: what each change bought* says where the floor is.`);
  L.push(`- Span calls (normal page, medians): Canopy is ${faster("manual")} for a manual span, ${faster("nested")} for nested active spans (no zone.js), ${faster("options")} with 2 attributes in its options and ${faster("attrs")} with 3 attributes ` +
    `(each \`setAttribute\` is a call into wasm; a short string value that repeats crosses as an id, a new one is copied). Its two \`performance.now()\` reads are about ${fmt(clockShare)}% of a manual span at the median clock cost` +
    (r("manual", "canopy") > TARGETS.manual ? ", so ≈ 600 ns needs fewer clock reads as well as a cheaper wasm path." : "."));
  L.push(`- Export dominates for both: export included is ${fmt(r("manual", "canopy", "total") / r("manual", "canopy"), 1)}x Canopy's span calls and ${fmt(r("manual", "otel", "total") / r("manual", "otel"), 1)}x OpenTelemetry's. ` +
    `Canopy's gzip path (string → \`Blob\` → \`CompressionStream\` → \`Response\`) is most of its export: with \`compression: "none"\` a manual span costs ${fmt(uncManual)} ns instead of ${fmt(r("manual", "canopy", "total"))} ` +
    `(${fmt(uncManual / r("manual", "otel", "total"), 2)}x OpenTelemetry's), while the wasm encoding itself is a few percent of the profile.`);
  L.push(`- Wire: Canopy sends ${fmt(w1o.sentPer / w1c.sentPer, 0)}x fewer bytes than OpenTelemetry because it gzips and OpenTelemetry's browser exporter cannot; gzipped the same way the two are within ${fmt(Math.abs(100 * (w1c.gzipPer / w1o.gzipPer - 1)))}% ` +
    `(Canopy's JSON is smaller, ${fmt(w1c.jsonPer)} against ${fmt(w1o.jsonPer)} bytes a span, but what gzip cannot remove is mostly the random ids and the timestamps, the same in both).`);
  if (ctx.requests) {
    const q = ctx.requests.rows;
    const say = (k, sdk) => `${fmt(q[k][sdk].added)} µs${Math.abs(q[k][sdk].added) < q[k].noise ? " (within the ±" + fmt(q[k].noise) + " µs noise)" : ""}`;
    L.push(`- Requests (localhost, median over ${fmt(ctx.requests.block * ctx.requests.blocks)} per SDK in ${ctx.requests.pages} pages each): a \`fetch\` costs ${say("fetch/median", "canopy")} more with Canopy and ${say("fetch/median", "otel")} more with OpenTelemetry; ` +
      `an \`XMLHttpRequest\` ${say("xhr/median", "canopy")} and ${say("xhr/median", "otel")}. p99s move by more than the medians between runs (see the noise column).`);
  }
  if (ctx.memory) {
    const m = ctx.memory.result;
    L.push(`- Memory: a queued span takes ${fmt(m.canopy.per)} bytes in Canopy (almost all wasm memory, which never shrinks) against ${fmt(m.otel.per)} bytes of JS heap in OpenTelemetry (${fmt(m.canopy.per / m.otel.per, 2)}x).`);
  }
  if (ctx.ready) {
    const y = ctx.ready.result;
    L.push(`- Start-up: Canopy is ready ${fmt(y.canopy.cold, 0)} ms after navigation start on a cold load (OpenTelemetry ${fmt(y.otel.cold, 0)} ms) and ${fmt(y.canopy.warm, 0)} ms on a warm one (OpenTelemetry ${fmt(y.otel.warm, 0)} ms), localhost, medians.`);
  }
  if (ctx.relay) {
    const r = ctx.relay.rows;
    L.push(`- Relay: ${fmt(r.relay.spansPerS)} spans/s against ${fmt(r.flask.spansPerS)} for the write-up's Flask endpoint under gunicorn (${fmt(r.relay.spansPerS / r.flask.spansPerS, 1)}x; the issue expects 100x) and ${fmt(r.flaskDev.spansPerS)} under \`flask run\`; ` +
      `per span the relay uses ${fmt(r.flask.cpuMsPer1000 / r.relay.cpuMsPer1000, 1)}x less CPU than gunicorn's workers: on equal CPU, with the load generator elsewhere, the throughput ratio comes to about that.` +
      (r.ceiling ? ` The ceiling of this load here, a server that only reads each request and answers 200, is ${fmt(r.ceiling.spansPerS)} spans/s (${fmt(r.ceiling.spansPerS / r.flask.spansPerS, 0)}x gunicorn's): ${r.ceiling.spansPerS >= 100 * r.flask.spansPerS ? "above" : "below"} the 100x target, which therefore ${r.ceiling.spansPerS >= 100 * r.flask.spansPerS ? "is reachable in principle on this machine" : "no server can show on this machine"}.` : ""));
  }
  L.push("");

  L.push("### Size", "");
  L.push("Each app (`bench/apps/`) starts its SDK with batch export to `/v1/traces` and fetch instrumentation with `traceparent` for one extra origin, and on a click runs an active span around a `fetch` with a child span. " +
    "Bundled with esbuild (`bundle`, `minify`, `format: esm`, `platform: browser`); gzip is zlib level 9; Brotli is quality 11 (what a server or CDN serves static assets with). Canopy's JS is its package entry, API, wasm-bindgen glue and snippets. " +
    "The core row is the same app importing `canopy-web/core` (`bench/apps/canopy-core-app.js`): the .wasm built without the crate's `auto` feature, so no session, page load, interactions, route changes, long animation frames or Web Vitals (and no `web-vitals`). " +
    "The third row is a comparison, not a target: `bench/apps/otel-full-app.js` adds to the OpenTelemetry app what Canopy records by default wherever an OpenTelemetry package (or a few lines, as Honeycomb's web SDK writes them) does the same: XMLHttpRequest spans, document-load, user-interaction, Web Vitals with attribution as spans (Google's `web-vitals`, the build Canopy uses), uncaught errors as exception spans, and OTLP log records. " +
    "Canopy's route changes, long animation frames and session id have no OpenTelemetry JS package, so that row is a lower bound.", "");
  L.push("| app | JS | JS gzip | JS Brotli | .wasm | .wasm gzip | .wasm Brotli | total gzip | total Brotli |", "|---|---|---|---|---|---|---|---|---|");
  for (const sdk of ["canopy", "canopyCore", "otel", "otelFull"]) {
    const r = size[sdk];
    const w = (v) => (r.wasmRaw ? fmt(v) + " B" : "-");
    L.push(`| ${NAMES[sdk]} | ${fmt(r.jsRaw)} B | ${fmt(r.jsGzip)} B | ${fmt(r.jsBr)} B | ${w(r.wasmRaw)} | ${w(r.wasmGzip)} | ${w(r.wasmBr)} | **${fmt(r.totalGzip)} B** (${kb(r.totalGzip)}) | **${fmt(r.totalBr)} B** (${kb(r.totalBr)}) |`);
  }
  L.push("", "KB here is 1,024 bytes.", "");

  L.push("### Speed", "");
  L.push("Each SDK runs in its own page (one browser context each; same Chromium, same server, same page settings). " +
    "**Export, both SDKs:** the SDK's batch processor (configured as below), " +
    "exporting OTLP/HTTP JSON to a sink on the page's own origin (127.0.0.1) that answers 200 at once; Canopy gzips with CompressionStream (its default), " +
    "OpenTelemetry's exporter POSTs plain JSON with `fetch` (it has no compression in the browser). After every measurement the sink counts the spans it got: " +
    `${speed.drops.length ? "**spans went missing**: " + speed.drops.slice(0, 5).join("; ") : "every span made was exported, by both"}.`, "");
  L.push("Both numbers are the page's main-thread CPU time (`ThreadTime` from the DevTools protocol's `Performance.getMetrics`) around a call into the page, less the same call doing nothing, per span: " +
    "CPU time, not wall-clock time, so that other work on the machine does not count. Chromium is driven over the DevTools pipe by `bench/cdp.mjs`, which enables only the Performance domain: " +
    "Playwright enables the Network domain on its pages, and DevTools then records every request with its body; in a trial run that made export included look about 1.9x (OpenTelemetry) and 1.25x (Canopy) as expensive.", "");
  L.push(`- *Span calls*: what the calls cost the caller. ${fmt(RECORD_SPANS)} spans in one synchronous loop, in pages whose batch size and queue are 32768 and whose timer is 60 s, so nothing is exported inside the loop; ` +
    "a flush after each measurement (not counted) sends them.", "");
  L.push(`- *Export included*: everything a span costs the page, in pages exporting batches of 512 (queue 32768, timer 5 s). ${CHUNKS} chunks of 512 spans, ${GAP_MS} ms apart, so each chunk's batch is encoded and sent before the next, then a flush. ` +
    "It counts the span calls, encoding, compression, the `fetch` call and its promise handling on the page's main thread; it does not count the network service or other threads.", "");
  L.push("- The *isolated* page is served with `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp` (`crossOriginIsolated` is true there, checked).", "");
  L.push("Medians, with the best round in parentheses (other load only ever adds time, so the best round is the nearest to an idle machine):", "");
  L.push("| ns per span | page | OTel JS, span calls | Canopy, span calls | Canopy / OTel | OTel JS, export included | Canopy, export included | Canopy / OTel |", "|---|---|---|---|---|---|---|---|");
  for (const sc of SCENARIOS) {
    for (const setting of SETTINGS) {
      const cell = (sdk, f) => `${fmt(S(setting, sc, sdk, f))} (${fmt(S(setting, sc, sdk, `${f}Best`))})`;
      const o = S(setting, sc, "otel", "rec"), c = S(setting, sc, "canopy", "rec");
      const ot = S(setting, sc, "otel", "total"), ct = S(setting, sc, "canopy", "total");
      L.push(`| ${LABEL[sc]} | ${setting === "plain" ? "normal" : "isolated"} | ${cell("otel", "rec")} | ${cell("canopy", "rec")} | ${fmt(c / o, 2)} | ${cell("otel", "total")} | ${cell("canopy", "total")} | ${fmt(ct / ot, 2)} |`);
    }
  }
  L.push("");
  const unc = SCENARIOS.map((sc) => [sc, speed.result[`plain/${sc}/canopy`]]);
  L.push(`**What gzip costs Canopy.** The same export-included runs with \`compression: "none"\` (normal page): ` +
    unc.map(([sc, r]) => `${sc} ${fmt(r.totalUncompressed)} ns (gzip: ${fmt(r.total)} ns)`).join(", ") + ".", "");
  const ck = speed.clock;
  const per = (sdk, sc) => speed.calls[`${sc}/${sdk}`];
  const cheaper = ck.coi.perfNowBest / ck.plain.perfNowBest;
  const clockNs = (sdk, setting) => per(sdk, "manual").perfNow * ck[setting].perfNowBest + per(sdk, "manual").dateNow * ck[setting].dateNowBest;
  L.push(`**The clock** (CPU time of 200,000 calls in both SDKs' pages, once a round; best round, median in parentheses). ` +
    `\`performance.now()\` costs ${fmt(ck.plain.perfNowBest)} ns (${fmt(ck.plain.perfNowMedian)}) a call in the normal page and ${fmt(ck.coi.perfNowBest)} ns (${fmt(ck.coi.perfNowMedian)}) in the isolated one ` +
    `with \`performance\` held in a variable, as both SDKs read it (OpenTelemetry's \`otperformance\`, Canopy's \`js/clock.js\`); looking the global \`performance\` up on each call costs ` +
    `${fmt(ck.plain.globalNowBest)} ns (${fmt(ck.plain.globalNowMedian)}) and ${fmt(ck.coi.globalNowBest)} ns (${fmt(ck.coi.globalNowMedian)}): the lookup, not the clock, is most of it. ` +
    `\`Date.now()\` ${fmt(ck.plain.dateNowBest)} (${fmt(ck.plain.dateNowMedian)}) and ${fmt(ck.coi.dateNowBest)} (${fmt(ck.coi.dateNowMedian)}) ns. ` +
    (cheaper > 0.85 ? "Cross-origin isolation does **not** make `performance.now()` meaningfully cheaper in this Chromium (it gets a finer resolution, not a cheaper call). "
      : `In the isolated page it is ${fmt((1 - cheaper) * 100)}% cheaper. `) +
    "Clock reads per span (counted by wrapping both functions): " +
    SCENARIOS.map((sc) => `${sc}: Canopy ${fmt(per("canopy", sc).perfNow, 2)} \`performance.now()\` + ${fmt(per("canopy", sc).dateNow, 2)} \`Date.now()\`, OpenTelemetry ${fmt(per("otel", sc).perfNow, 2)} + ${fmt(per("otel", sc).dateNow, 2)}`).join("; ") + ". " +
    `So about ${fmt(clockNs("canopy", "plain"))} ns of Canopy's manual span is reading the clock in a normal page (${fmt(clockNs("canopy", "coi"))} ns isolated), ` +
    `and ${fmt(clockNs("otel", "plain"))} ns of OpenTelemetry's (${fmt(clockNs("otel", "coi"))} ns isolated).`, "");
  if (prof) {
    const line = (rows) => rows.filter(([, v]) => v >= 1).map(([k, v]) => `${k} ${fmt(v)}%`).join(", ");
    L.push("**Where the time goes** (sampling CPU profile of one export-included manual-span run, normal page; wall-clock samples, so rough under load; " +
      "`(program)` and unnamed natives are browser work outside any script, in tasks of their own (such as sending the request and pumping the streams behind `CompressionStream` and `Response`); " +
      "the profiler charges clock reads to their JavaScript callers, so OpenTelemetry's are in its JavaScript):", "");
    for (const sdk of SDKS) {
      const pr = prof[sdk];
      L.push(`- ${NAMES[sdk]}: span calls are ${fmt(pr.callsShare)}% of the busy time, export and the rest ${fmt(100 - pr.callsShare)}%. ` +
        (sdk === "canopy" ? `Span calls: ${line(pr.calls)}. ` : "") + `Export: ${line(pr.rest)}.`);
    }
    L.push("");
  }

  L.push("### Bytes on the wire", "");
  L.push(`The same spans through each SDK's exporter to the sink: ${WIRE_ACTIONS} user actions of 5 spans, 500 spans (an active \`loadData\` span with 2 attributes; a CLIENT span with ` +
    "`http.request.method`, `url.full`, `server.address`, `server.port`, `http.response.status_code`; 3 internal children with 0-1 attributes). " +
    `*Real fetches*: ${FETCH_ACTIONS} \`fetch\`es through each SDK's own fetch instrumentation, each inside an active span with one more child (300 spans), so each SDK records what it records for a fetch ` +
    "(OpenTelemetry adds resource-timing events and its older HTTP attributes). *As sent* is the request body the sink received; *gzip* compresses each SDK's JSON the same way (zlib level 6, CompressionStream's level). " +
    "Request headers are not counted.", "");
  L.push("| workload | SDK | requests | sent as | bytes/span as sent | JSON bytes/span | gzip bytes/span |", "|---|---|---|---|---|---|---|");
  for (const v of Object.values(wire.out)) {
    const miss = v.got !== v.spans ? ` (${v.got} of ${v.spans} spans arrived)` : "";
    L.push(`| ${v.name} | ${NAMES[v.sdk]} | ${v.requests}${miss} | ${v.encodings === "gzip" ? "gzip JSON" : "plain JSON"} | ${fmt(v.sentPer)} | ${fmt(v.jsonPer)} | ${fmt(v.gzipPer)} |`);
  }
  L.push("");
  return L.join("\n");
}

function writeSection(md) {
  const file = join(repo, "BENCHMARKS.md");
  const START = "<!-- sdk-bench:start (written by `make bench`; edits here are replaced) -->";
  const END = "<!-- sdk-bench:end -->";
  const block = `${START}\n${md}\n${END}`;
  let text = readFileSync(file, "utf8"); // read just before writing: others edit this file too
  const a = text.indexOf(START.slice(0, 22)), b = text.indexOf(END);
  if (a >= 0 && b > a) text = text.slice(0, a) + block + text.slice(b + END.length);
  else {
    const i = text.indexOf("\n## ");
    text = i >= 0 ? `${text.slice(0, i + 1)}${block}\n\n${text.slice(i + 1)}` : `${text.trimEnd()}\n\n${block}\n`;
  }
  writeFileSync(file, text);
}

// ---- main --------------------------------------------------------------------------------------
/** The commit measured, and the sources that differ from it, read when the run starts (the
 *  bench's own files and the package are loaded then). */
function describeTree() {
  try {
    const head = execFileSync("git", ["-C", repo, "rev-parse", "--short", "HEAD"]).toString().trim();
    // The tree measured is not HEAD when sources changed since: say so. (Each porcelain line is
    // "XY path": trim the end only, the first line may start with a space.)
    const dirty = execFileSync("git", ["-C", repo, "status", "--porcelain", "--", "src", "js", "pkg-template", "npm", "bench", "examples/relay/src", "Cargo.toml", "Cargo.lock"]).toString().trimEnd();
    return dirty ? `${head}\` plus uncommitted changes to \`${dirty.split("\n").map((l) => l.slice(3)).join(", ")}` : head;
  } catch { return "?"; }
}

let treeAtStart = "?";

async function main() {
  treeAtStart = describeTree();
  const t0 = Date.now();
  const nodePaths = [preparePackages()];
  const res = {};
  if (PARTS.has("size")) {
    log("sizes");
    res.size = await measureSize(nodePaths);
  }
  const browserParts = ["speed", "wire", "fetch", "memory", "ready"].filter((p) => PARTS.has(p));
  let chromiumVersion = null;
  if (browserParts.length) {
    const www = await buildSite(nodePaths);
    server = await startServer(www);
    mkdirSync(join(work, "profile"));
    browser = await launchChromium({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: LAUNCH_ARGS, userDataDir: join(work, "profile") });
    chromiumVersion = (await browser.version()).replace(/^[A-Za-z]+\//, "");
    log(`Chromium ${chromiumVersion} (pid ${browser.pid}), server ${server.origin}`);
  }
  if (PARTS.has("speed")) {
    const pages = [];
    for (const setting of SETTINGS) {
      for (const sdk of SDKS) for (const mode of ["record", "export"]) pages.push(await openPage(sdk, setting, `${sdk}-${setting}-${mode}`, mode));
    }
    // Canopy with compression off, to show what gzip costs on the main thread (normal page).
    pages.push(await openPage("canopy", "plain", "canopy-plain-export-uncompressed", "export-uncompressed"));
    log("speed: clock reads per span, warm-up");
    res.speed = await measureSpeed(pages);
    log("profile");
    res.prof = {};
    for (const sdk of SDKS) res.prof[sdk] = await profile(pages.find((p) => p.sdk === sdk && p.setting === "plain" && p.mode === "export"));
    for (const p of pages) {
      await pageMessages(p);
      await p.page.close();
    }
  }
  if (PARTS.has("wire")) {
    log("wire");
    res.wire = await measureWire();
    sampleLoad();
  }
  const ctx = { openPage, call, server, browser, log, countTaken, pageMessages };
  if (PARTS.has("fetch")) {
    log("requests: fetch and XHR, no SDK / Canopy / OpenTelemetry");
    res.requests = await measureRequests(ctx);
    sampleLoad();
  }
  if (PARTS.has("memory")) {
    log("memory per queued span");
    res.memory = await measureMemory(ctx);
    sampleLoad();
  }
  if (PARTS.has("ready")) {
    log("time to SDK ready, cold and warm");
    res.ready = await measureReady(ctx);
    sampleLoad();
  }
  if (browser) {
    await bounded(browser.close(), 15000, "closing Chromium");
    browser = null;
  }
  if (PARTS.has("relay")) {
    log("relay: Canopy's relay and the Flask endpoint");
    try {
      res.relay = await measureRelay({ log, relayBin: process.env.BENCH_RELAY_BIN, nullBin: process.env.BENCH_NULL_BIN, venv: process.env.BENCH_VENV, work });
    } catch (e) {
      log(`relay: not measured: ${e.message}`);
      res.relayError = String(e.message).split("\n")[0];
    }
    sampleLoad();
  }

  const otelDir = join(here, "node_modules", "@opentelemetry");
  const otelPkgs = ["sdk-trace-web", "sdk-trace-base", "exporter-trace-otlp-http", "instrumentation-fetch", "instrumentation-xml-http-request", "instrumentation", "context-zone", "resources", "api",
    // otel-full-app.js only (the size comparison with Canopy's default features)
    "instrumentation-document-load", "instrumentation-user-interaction", "sdk-logs", "exporter-logs-otlp-http", "api-logs"];
  const facts = {
    date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
    commit: treeAtStart,
    tarball: basename(tarball),
    tarballTime: statSync(tarball).mtime.toISOString().slice(0, 16).replace("T", " ") + " UTC",
    canopyVersion: versionOf(join(nodePaths[0], "canopy-web")),
    nproc: cpus().length,
    cpu: cpus()[0].model.trim(),
    chromium: `Chromium ${chromiumVersion}`,
    esbuild: esbuild.version,
    otel: otelPkgs.map((n) => `\`@opentelemetry/${n}\` ${versionOf(join(otelDir, n))}`).join(", ") + `, \`zone.js\` ${versionOf(join(here, "node_modules", "zone.js"))}, \`web-vitals\` ${versionOf(join(here, "node_modules", "web-vitals"))}`,
    load: { start: loads[0], min: Math.min(...loads), max: Math.max(...loads) },
    spread: res.speed ? spreadOf(res.speed.result) : null,
    seconds: (Date.now() - t0) / 1000,
  };
  const L = [];
  if (res.size && res.speed && res.wire) L.push(report({ size: res.size, speed: res.speed, wire: res.wire, prof: res.prof, relay: res.relay, requests: res.requests, memory: res.memory, ready: res.ready, facts }));
  else L.push(`(BENCH_ONLY=${[...PARTS].join(",")}: the size, speed and wire tables need all three; load average ${fmt(facts.load.min, 2)}-${fmt(facts.load.max, 2)} on ${facts.nproc} cores)`, "");
  const again = (part) => `Reproduce these rows alone with \`BENCH_ONLY=${part} BENCH_WRITE=0 make bench\` (\`make bench\` runs everything and rewrites this section).`;
  if (res.requests) L.push(...reportRequests(res.requests, again("fetch")));
  if (res.memory) L.push(...reportMemory(res.memory, again("memory")));
  if (res.ready) L.push(...reportReady(res.ready, again("ready")));
  if (res.relay) L.push(...reportRelay(res.relay, again("relay")));
  else if (res.relayError) L.push("### Relay: Canopy's relay against the write-up's Flask endpoint", "", `**Not measured in this run:** ${res.relayError}`, "");
  const md = L.join("\n");
  console.log(md);
  if (res.prof) {
    console.log("\nTop self time in the profiled manual-span run, normal page:");
    for (const sdk of SDKS) {
      console.log(`  ${NAMES[sdk]}, span calls:\n    ${res.prof[sdk].topCalls.join("\n    ")}`);
      console.log(`  ${NAMES[sdk]}, export and the rest:\n    ${res.prof[sdk].topRest.join("\n    ")}`);
    }
  }
  if (WRITE && EVERYTHING) {
    writeSection(md);
    log("wrote the SDK section of BENCHMARKS.md");
  } else if (WRITE) {
    log("BENCH_ONLY is set: BENCHMARKS.md left alone (it is written only by a run of every part)");
  }
  if (process.env.BENCH_DUMP) {
    const { raw: _raw, ...requests } = res.requests || {};
    writeFileSync(process.env.BENCH_DUMP, JSON.stringify({ ...res, requests, wire: res.wire && res.wire.out, samples: res.wire && res.wire.samples, facts }, null, 1));
  }
}

let code = 0;
try {
  await main();
} catch (e) {
  console.error("bench failed:", e && e.stack ? e.stack : e);
  code = 1;
} finally {
  clearTimeout(watchdog);
  await cleanup();
}
process.exit(code);
