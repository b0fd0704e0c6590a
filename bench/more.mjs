// The browser parts of `make bench` added for issue 9 ("Speed"): time added per fetch and per
// XMLHttpRequest, memory per queued span, and time from navigation start to SDK ready. Each runs
// Canopy and the OpenTelemetry JS web stack side by side in the same Chromium as bench/run.mjs;
// run.mjs calls them with its helpers (ctx) and puts their tables in its report.
//
//   measureRequests(ctx), measureMemory(ctx), measureReady(ctx) -> results
//   reportRequests(r), reportMemory(r), reportReady(r) -> Markdown lines
const NAMES = { none: "no SDK", canopy: "Canopy", otel: "OpenTelemetry JS" };
const SDKS = ["canopy", "otel"];

export const REQ_BLOCK = Number(process.env.BENCH_REQ_BLOCK || 100);
export const REQ_BLOCKS = Number(process.env.BENCH_REQ_BLOCKS || 72); // per SDK and kind: 7,200 requests
export const REQ_PAGES = Number(process.env.BENCH_REQ_PAGES || 6); // pages per SDK, the blocks spread over them
export const MEM_SPANS = Number(process.env.BENCH_MEM_SPANS || 10000);
export const MEM_ROUNDS = Number(process.env.BENCH_MEM_ROUNDS || 3);
export const READY_ROUNDS = Number(process.env.BENCH_READY_ROUNDS || 15);

const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }) : "n/a");
const quantile = (xs, f) => {
  const t = Float64Array.from(xs).sort();
  const i = (t.length - 1) * f, lo = Math.floor(i);
  return t[lo] + (t[Math.ceil(i)] - t[lo]) * (i - lo);
};
const median = (xs) => quantile(xs, 0.5);
const sd = (xs) => { const m = xs.reduce((a, b) => a + b, 0) / xs.length; return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A small deterministic PRNG (mulberry32), so the noise estimate is the same for the same data. */
function rng(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Noise of `stat` over the no-SDK pages' requests: the standard deviation of `stat` over
 *  bootstrap resamples of the pages (drawn with replacement, each with all its blocks), so the
 *  spread between pages counts, and with it the spread between blocks (resampling the blocks of
 *  each drawn page again would count that twice). Rough with a few pages.
 *  `pages`: per page, its blocks (arrays of µs). */
function blockNoise(pages, stat, draws = 400) {
  const rand = rng(12345);
  const vals = [];
  for (let d = 0; d < draws; d++) {
    const all = [];
    for (let i = 0; i < pages.length; i++) for (const block of pages[Math.floor(rand() * pages.length)]) all.push(...block);
    vals.push(stat(all));
  }
  return sd(vals);
}

// ---- 1. time added per fetch and per XMLHttpRequest -------------------------------------------
/** The six orders of three pages. */
const PERMS = [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 2, 1], [2, 1, 0], [1, 0, 2]];

export async function measureRequests(ctx) {
  const { openPage, call, server, log } = ctx;
  // Each page runs every order of the three pages equally often (see the loop below).
  if (REQ_BLOCKS % (PERMS.length * REQ_PAGES) !== 0) throw new Error(`BENCH_REQ_BLOCKS (${REQ_BLOCKS}) must be a multiple of ${PERMS.length} x BENCH_REQ_PAGES (${REQ_PAGES})`);
  const order0 = ["none", "canopy", "otel"];
  // REQ_PAGES pages per SDK, each its own browser context (and renderer process): pages that run
  // the same code differ by tens of µs a request here (six no-SDK pages' medians spread 25-85 µs),
  // as much as what is measured; spreading an SDK's blocks over several pages averages that out,
  // and the noise below counts it.
  const pages = {};
  for (const sdk of order0) {
    pages[sdk] = [];
    for (let i = 0; i < REQ_PAGES; i++) pages[sdk].push(await openPage(sdk, "coi", `req-${sdk}-${i}`, "requests"));
  }
  const url = (sdk) => `/api/ping?k=req-${sdk}`;
  const all = () => order0.flatMap((sdk) => pages[sdk]);
  // Warm-up (JIT, connection, the SDKs' first spans and export), not counted.
  for (const p of all()) for (const kind of ["fetch", "xhr"]) await call(p, "requests", [kind, 50, url(p.sdk)]);
  await sleep(1000); // OpenTelemetry ends a fetch span after its resource timing entry (up to 300 ms)
  for (const p of all()) {
    await call(p, "flush", [], 30000);
    ctx.countTaken(p);
  }
  for (const sdk of order0) server.pings(`req-${sdk}`);
  // blocks[kind][sdk][page]: the blocks (arrays of µs) each page measured.
  const blocks = { fetch: {}, xhr: {} };
  for (const kind of ["fetch", "xhr"]) for (const sdk of order0) blocks[kind][sdk] = pages[sdk].map(() => []);
  const t0 = Date.now();
  // The order of the three pages runs through all six permutations, each page (in turn) through
  // all six: what runs just before a block (another page's requests, or the work an SDK defers
  // after them) changes the block's times by tens of µs here, so no SDK may always follow the same
  // one. (A rotation did that: the no-SDK page's XHR blocks always followed OpenTelemetry's.)
  for (let b = 0; b < REQ_BLOCKS; b++) {
    const i = Math.floor(b / PERMS.length) % REQ_PAGES;
    const order = PERMS[b % PERMS.length].map((j) => order0[j]);
    for (const kind of b % 2 ? ["xhr", "fetch"] : ["fetch", "xhr"]) {
      for (const sdk of order) blocks[kind][sdk][i].push(await call(pages[sdk][i], "requests", [kind, REQ_BLOCK, url(sdk)]));
    }
    if ((b + 1) % 5 === 0) log(`requests: block ${b + 1}/${REQ_BLOCKS} of ${REQ_BLOCK} per SDK and kind`);
  }
  const seconds = (Date.now() - t0) / 1000;
  // Every traced request should have carried traceparent and become one exported span.
  await sleep(1000); // OpenTelemetry ends a fetch span after its resource timing entry (up to 300 ms)
  const checks = {};
  for (const sdk of order0) {
    let spans = 0;
    for (const p of pages[sdk]) {
      await call(p, "flush", [], 30000);
      spans += ctx.countTaken(p);
    }
    checks[sdk] = { ...server.pings(`req-${sdk}`), spans };
  }
  const out = { block: REQ_BLOCK, blocks: REQ_BLOCKS, pages: REQ_PAGES, seconds, checks, rows: {} };
  for (const kind of ["fetch", "xhr"]) {
    const base = blocks[kind].none;
    const baseAll = base.flat(2);
    for (const [statName, stat] of [["median", median], ["p99", (xs) => quantile(xs, 0.99)]]) {
      const b = stat(baseAll);
      // The noise of a difference of two such statistics: √2 x the baseline's, x 2 (≈ 95 %).
      // (Half of the pages against the other half, the control, spreads about √2 x as much.)
      const noise = 2 * Math.SQRT2 * blockNoise(base, stat);
      const perPage = base.map((p) => stat(p.flat()));
      // A control: the no-SDK pages split in two halves, one less the other (nothing differs).
      const half = (k) => stat(base.filter((_, i) => i % 2 === k).flat(2));
      const row = { base: b, noise, pageSpread: Math.max(...perPage) - Math.min(...perPage), control: REQ_PAGES > 1 ? half(1) - half(0) : NaN };
      for (const sdk of SDKS) {
        const v = stat(blocks[kind][sdk].flat(2));
        row[sdk] = { value: v, added: v - b };
      }
      out.rows[`${kind}/${statName}`] = row;
    }
  }
  out.raw = blocks;
  for (const p of all()) await p.page.close();
  return out;
}

export function reportRequests(r, command) {
  const L = [];
  const within = (x, noise) => Math.abs(x) < noise;
  L.push("### Time added per request (fetch and XMLHttpRequest)", "");
  L.push(`${r.pages} pages each (${3 * r.pages} in all) in the same Chromium, each page in its own browser context, all cross-origin isolated (so \`performance.now()\` has 5 µs resolution, not 100 µs): **no SDK**, **Canopy** (\`init\` with its defaults: fetch and XHR instrumentation on) and **OpenTelemetry JS** ` +
    "(the stack above plus `@opentelemetry/instrumentation-xml-http-request`, both instrumentations registered). Both SDKs export their spans in batches to the sink as above, and both add `traceparent` to these requests (same origin: both SDKs propagate to it by default; the server counted the headers). " +
    `Each page makes GET requests to \`/api/ping\` on the bench server (127.0.0.1, answers 200 \`{"ok":true}\` at once), one after the other, outside any span, in blocks of ${fmt(r.block)}: ` +
    `in each of ${r.blocks} rounds, one page of each kind (in turn) runs a fetch block (response body read) and an XHR block (to \`loadend\`), the three pages in an order that runs through all six permutations (and fetch or XHR first in turn), so **${fmt(r.block * r.blocks)} fetches and ${fmt(r.block * r.blocks)} XHRs per SDK** (plus 50 of each per page first, not counted). ` +
    `Why several pages: pages that run the same code differ by tens of µs a request here, as much as what is measured. In this run the no-SDK pages' own medians spread ${fmt(r.rows["fetch/median"].pageSpread)} µs (fetch) and ${fmt(r.rows["xhr/median"].pageSpread)} µs (XHR), and half of them against the other half (a control: nothing differs, with half the pages on each side, so it moves about √2 times as much as the differences below) came to ${fmt(r.rows["fetch/median"].control)} µs (fetch) and ${fmt(r.rows["xhr/median"].control)} µs (XHR) on the median. ` +
    "Why the permutations: what ran just before a block moves its times too. In an experiment when this design was chosen (commit d2515f5), with the three pages in a rotating order each SDK's XHR blocks always followed the same other page's (the no-SDK page's always OpenTelemetry's), and Canopy's pages came out 35-45 µs slower per XHR than the no-SDK pages with Canopy not even started (80-105 µs added with it); with the orders balanced, 20 and -10 µs not started. " +
    "Each request's time is wall-clock, `performance.now()` before the call to the end, in the page. *Added* is the SDK's median (or p99) over its pages less the no-SDK pages'. " +
    "*Noise* is how far such a difference moves with nothing changed: twice the standard deviation of the no-SDK pages' median (or p99) over bootstrap resamples of the pages, times √2 for a difference of two. " +
    `${command}`, "");
  L.push("| µs per request | no SDK | OTel JS | Canopy | OTel JS added | Canopy added | Canopy / OTel (added) | noise (±) |", "|---|---|---|---|---|---|---|---|");
  for (const kind of ["fetch", "xhr"]) {
    for (const stat of ["median", "p99"]) {
      const row = r.rows[`${kind}/${stat}`];
      const c = row.canopy.added, o = row.otel.added;
      const note = (x) => (within(x, row.noise) ? " (within noise)" : "");
      let ratio;
      if (o <= 0 || c <= 0) ratio = `n/a (${o <= 0 ? "OTel's" : "Canopy's"} added time is ≤ 0)`;
      else ratio = `${fmt(c / o, 2)}${within(c - o, row.noise) ? " (difference within noise)" : ""}`;
      L.push(`| ${kind === "fetch" ? "`fetch`" : "`XMLHttpRequest`"}, ${stat} | ${fmt(row.base)} | ${fmt(row.otel.value)} | ${fmt(row.canopy.value)} | ${fmt(o)}${note(o)} | ${fmt(c)}${note(c)} | ${ratio} | ${fmt(row.noise)} |`);
    }
  }
  L.push("");
  const ck = r.checks;
  L.push(`Checks: ${SDKS.map((s) => `${NAMES[s]}: ${fmt(ck[s].traceparent)} of ${fmt(ck[s].requests)} requests carried \`traceparent\`, ${fmt(ck[s].spans)} spans exported`).join("; ")}; ` +
    `no SDK: ${fmt(ck.none.traceparent)} of ${fmt(ck.none.requests)} with \`traceparent\`. The measured requests took ${fmt(r.seconds, 1)} s in all.`, "");
  return L;
}

// ---- 2. memory per queued span ------------------------------------------------------------------
async function gcHeap(page) {
  for (let i = 0; i < 3; i++) await page.send("HeapProfiler.collectGarbage", {}, 30000);
  return (await page.send("Runtime.getHeapUsage", {}, 10000)).usedSize;
}

export async function measureMemory(ctx) {
  const { openPage, call, server, log } = ctx;
  const out = { spans: MEM_SPANS, rounds: MEM_ROUNDS, samples: { canopy: [], otel: [] }, problems: [] };
  for (let r = 0; r < MEM_ROUNDS; r++) {
    for (const sdk of r % 2 ? [...SDKS].reverse() : SDKS) {
      const key = `mem-${sdk}-${r}`;
      const p = await openPage(sdk, "plain", key, "queue");
      // Warm-up: the code paths, the SDK's lazily made state and a first export.
      await call(p, "queue", [500]);
      await call(p, "flush", [], 30000);
      ctx.countTaken(p);
      const heap0 = await gcHeap(p.page);
      const wasm0 = await call(p, "wasmBytes");
      // Half, a reading, then the other half: the per-span figure at N/2 shows how it moves with N.
      const half = await call(p, "queue", [MEM_SPANS / 2]);
      const heapHalf = await gcHeap(p.page);
      const wasmHalf = await call(p, "wasmBytes");
      const made = half + (await call(p, "queue", [MEM_SPANS - half]));
      const early = ctx.countTaken(p);
      if (early) out.problems.push(`${sdk} round ${r + 1}: ${early} spans were exported before the flush`);
      const heap1 = await gcHeap(p.page);
      const wasm1 = await call(p, "wasmBytes");
      await call(p, "flush", [], 60000);
      const got = ctx.countTaken(p);
      if (got !== made) out.problems.push(`${sdk} round ${r + 1}: ${made} spans queued, ${got} exported by the flush`);
      out.samples[sdk].push({ js: heap1 - heap0, wasm: wasm1 - wasm0, wasmTotal: wasm1, spans: made, halfPer: (heapHalf - heap0 + wasmHalf - wasm0) / half });
      await ctx.pageMessages(p);
      await p.page.close();
    }
    log(`memory: round ${r + 1}/${MEM_ROUNDS}`);
  }
  out.result = {};
  for (const sdk of SDKS) {
    const s = out.samples[sdk];
    const per = s.map((x) => (x.js + x.wasm) / x.spans);
    out.result[sdk] = { per: median(per), js: median(s.map((x) => x.js / x.spans)), wasm: median(s.map((x) => x.wasm / x.spans)),
      min: Math.min(...per), max: Math.max(...per), wasmTotal: Math.max(...s.map((x) => x.wasmTotal)), halfPer: median(s.map((x) => x.halfPer)) };
  }
  return out;
}

export function reportMemory(m, command) {
  const L = [];
  const c = m.result.canopy, o = m.result.otel;
  L.push("### Memory per queued span", "");
  L.push(`Each SDK in a fresh page (queue and batch size 32768, timer 10 minutes, so nothing is exported until a flush) queues ${fmt(m.spans)} spans of the wire workload ` +
    "(user actions of 5 spans: an active root with 2 attributes, a CLIENT span with 5 HTTP attributes, 3 children with 0-1 attributes). " +
    "Before and after, the page's garbage is collected (the DevTools protocol's `HeapProfiler.collectGarbage`, three times) and its JavaScript heap read (`Runtime.getHeapUsage`, used bytes); " +
    "for Canopy also its `WebAssembly.Memory` (noted by the harness when the glue instantiates the module). Wasm memory grows in 64 KiB pages and never shrinks: its growth is what the queue took beyond the free memory the module already had, spare capacity of growing buffers included, " +
    `so the figure per span moves with the number queued: at ${fmt(m.spans / 2)} spans (a reading half-way, same pages) it was ${fmt(c.halfPer)} bytes for Canopy and ${fmt(o.halfPer)} for OpenTelemetry. ` +
    `After 500 spans queued and flushed first (warm-up). The sink checked that nothing was exported before the flush and that the flush sent every span. ${m.rounds} rounds, alternating which SDK goes first; medians, range in parentheses. ${command}`, "");
  L.push("| bytes per queued span | OTel JS | Canopy | Canopy / OTel |", "|---|---|---|---|");
  L.push(`| JS heap | ${fmt(o.js)} | ${fmt(c.js)} | |`);
  L.push(`| wasm memory growth | - | ${fmt(c.wasm)} | |`);
  L.push(`| **total** | **${fmt(o.per)}** (${fmt(o.min)}-${fmt(o.max)}) | **${fmt(c.per)}** (${fmt(c.min)}-${fmt(c.max)}) | ${fmt(c.per / o.per, 2)} |`);
  L.push("");
  L.push(`Canopy's wasm memory was ${fmt(c.wasmTotal / 1048576, 1)} MiB at the end. ` +
    (m.problems.length ? `**Problems:** ${m.problems.join("; ")}.` : "Every span stayed queued until the flush, and the flush exported all of them, for both."), "");
  return L;
}

// ---- 3. time from navigation start to SDK ready -----------------------------------------------------
export async function measureReady(ctx) {
  const { browser, server, log } = ctx;
  const out = { rounds: READY_ROUNDS, samples: {} };
  for (const sdk of SDKS) out.samples[sdk] = { cold: [], warm: [], coldJs: [], coldWasm: [], warmJs: [], warmWasm: [] };
  const read = (page, n) => page.waitFor(`location.search === "?n=${n}" && window.READY`, 30000);
  const timings = (page) => page.eval(`(() => { const e = performance.getEntriesByType("resource"); const f = (s) => { const x = e.find((r) => r.name.endsWith(s)); return x ? x.responseEnd : null; };
    return { js: f(".js"), wasm: f(".wasm") }; })()`);
  for (let r = 0; r < READY_ROUNDS; r++) {
    for (const sdk of r % 2 ? [...SDKS].reverse() : SDKS) {
      // A new browser context: an empty HTTP cache (cold); then the same page again (warm).
      const base = `${server.origin}/cache/ready-${sdk}.html`;
      const page = await browser.newPage(`${base}?n=1`);
      try {
        const s = out.samples[sdk];
        for (const [n, kind] of [[1, "cold"], [2, "warm"]]) {
          if (n === 2) await page.send("Page.navigate", { url: `${base}?n=2` });
          const ready = await read(page, n);
          if (!ready.ok) throw new Error(`${sdk}: init did not succeed`);
          const t = await timings(page);
          s[kind].push(ready.ms);
          s[`${kind}Js`].push(t.js);
          if (t.wasm !== null) s[`${kind}Wasm`].push(t.wasm);
        }
      } finally {
        await page.close();
      }
      server.take(`ready-${sdk}`);
    }
    if ((r + 1) % 5 === 0) log(`ready: round ${r + 1}/${READY_ROUNDS}`);
  }
  out.result = {};
  for (const sdk of SDKS) {
    const s = out.samples[sdk];
    out.result[sdk] = {};
    for (const k of Object.keys(s)) out.result[sdk][k] = s[k].length ? median(s[k]) : null;
    out.result[sdk].coldMin = Math.min(...s.cold);
    out.result[sdk].warmMin = Math.min(...s.warm);
  }
  return out;
}

export function reportReady(x, command) {
  const L = [];
  const c = x.result.canopy, o = x.result.otel;
  L.push("### Time from page start to SDK ready", "");
  L.push("A page that does nothing but start the SDK as an app would: for Canopy, `init({ serviceName, endpoint })` (fetch and XHR instrumentation on by default), ready when its Promise resolves (the bundle loaded, `canopy_web_bg.wasm` fetched, compiled and instantiated, the config applied, fetch and XHR patched); " +
    "for OpenTelemetry JS, the stack above (`WebTracerProvider` + `BatchSpanProcessor` + OTLP exporter, `ZoneContextManager`, fetch and XHR instrumentations) registered, ready when that synchronous code has run. " +
    "Each bundle is esbuild-minified ESM loaded with `<script type=\"module\">`; the time is `performance.now()` at that moment, i.e. ms since navigation start. " +
    "*Cold*: a new browser context (empty HTTP cache); *warm*: the same page navigated to again in that context, the bundle and the .wasm served from the HTTP cache (`max-age=3600`; the HTML is `no-store`). " +
    `${x.rounds} rounds, alternating which SDK goes first; medians, best in parentheses. From the bench server on 127.0.0.1, so no network latency: on a real network the .wasm's extra request and bytes add more. ${command}`, "");
  L.push("| ms from navigation start | OTel JS | Canopy | Canopy / OTel | OTel JS bundle loaded | Canopy bundle loaded | Canopy .wasm loaded |", "|---|---|---|---|---|---|---|");
  for (const kind of ["cold", "warm"]) {
    L.push(`| ${kind} load | ${fmt(o[kind], 1)} (${fmt(o[`${kind}Min`], 1)}) | ${fmt(c[kind], 1)} (${fmt(c[`${kind}Min`], 1)}) | ${fmt(c[kind] / o[kind], 2)} | ${fmt(o[`${kind}Js`], 1)} | ${fmt(c[`${kind}Js`], 1)} | ${fmt(c[`${kind}Wasm`], 1)} |`);
  }
  L.push("", "*Loaded* columns: the `responseEnd` of the resource's Resource Timing entry (median), ms since navigation start.", "");
  return L;
}
