// Page-side benchmark runner shared by both SDK harnesses (bundled into each). The harness
// gives an `impl` with the same operations for its SDK; this exposes them as `window.B`.

const CHUNK = 512; // one export batch (maxExportBatchSize in both harnesses)
const SPANS_PER_CALL = { manual: 1, nested: 4, options: 1, attrs: 1 };

function describe(e) {
  if (Array.isArray(e)) return `[${e.map(describe).join(", ")}]`;
  if (e instanceof Error) return `${e.name}: ${e.message}${e.cause ? ` (cause: ${describe(e.cause)})` : ""}`;
  try { return JSON.stringify(e); } catch { return String(e); }
}

// Errors and warnings the page logs, read by the runner at the end (no DevTools console
// domain is enabled during the benchmark).
const errors = [];
for (const level of ["error", "warn"]) {
  const orig = console[level];
  console[level] = function (...args) {
    if (errors.length < 20) errors.push(`${level}: ${args.map(String).join(" ").slice(0, 300)}`);
    return orig.apply(this, args);
  };
}
addEventListener("error", (e) => errors.length < 20 && errors.push(`error event: ${e.message}`));
addEventListener("unhandledrejection", (e) => errors.length < 20 && errors.push(`unhandled rejection: ${describe(e.reason)}`));

export function expose(sdk, impl) {
  window.B = {
    sdk,
    errors,
    isolated: globalThis.crossOriginIsolated === true,
    /** mode "export": batches of 512 (as the SDKs' defaults); "export-uncompressed": the same
     *  with Canopy's compression off; "record": nothing is exported until flushed (batch and
     *  queue 32768, timer 60 s);
     *  "requests": as "export", with the SDK's fetch and XMLHttpRequest instrumentation on (Canopy's
     *  always is; OpenTelemetry's XHR instrumentation is registered only in this mode). "queue":
     *  nothing is exported until flushed (queue and batch 32768, timer 10 minutes). */
    setup: (key, mode) => impl.setup(location.origin + `/sink/${key}/v1/traces`,
      mode === "record"
        ? { maxQueueSize: 32768, maxExportBatchSize: 32768, scheduledDelayMillis: 60000 }
        : mode === "queue"
          ? { maxQueueSize: 32768, maxExportBatchSize: 32768, scheduledDelayMillis: 600000 }
          : { maxQueueSize: 32768, maxExportBatchSize: CHUNK, scheduledDelayMillis: 5000 },
      mode === "export-uncompressed" ? "none" : undefined, mode),
    flush: () => impl.flush().catch((e) => { throw new Error(`${sdk} flush failed: ${describe(e)}`); }),

    /** Span calls only: `spans` spans in one synchronous loop (the "record" pages export
     *  nothing until flushed, so no export runs inside). Node reads the page's main-thread
     *  CPU time around this call; "none" is the baseline. Returns the wall time too. */
    spans(scenario, spans) {
      if (scenario === "none") return { spans: 0, ms: 0 };
      const calls = Math.floor(spans / SPANS_PER_CALL[scenario]);
      const a = performance.now();
      impl[scenario](calls);
      return { spans: calls * SPANS_PER_CALL[scenario], ms: performance.now() - a };
    },

    /** `chunks` chunks of 512 spans (one export batch each), `gapMs` apart so each batch is
     *  exported before the next chunk, as in an app, then a flush. Node measures the page's
     *  main-thread time around this (span calls + export); scenario "none" is the baseline. */
    async paced(scenario, chunks, gapMs) {
      const fn = scenario === "none" ? () => {} : impl[scenario];
      const calls = scenario === "none" ? 0 : CHUNK / SPANS_PER_CALL[scenario];
      for (let c = 0; c < chunks; c++) {
        fn(calls);
        await new Promise((r) => setTimeout(r, gapMs));
      }
      await impl.flush();
      return chunks * calls * (SPANS_PER_CALL[scenario] || 0);
    },

    /** `n` calls of performance.now() with `performance` held in a variable, as both SDKs read
     *  it ("perf": OpenTelemetry's `otperformance`, Canopy's js/clock.js), performance.now()
     *  looking the global up each time ("global"), or Date.now() ("date"); Node reads the CPU time. */
    clock(kind, n) {
      let x = 0;
      const perf = performance;
      if (kind === "perf") for (let i = 0; i < n; i++) x += perf.now();
      else if (kind === "global") for (let i = 0; i < n; i++) x += performance.now();
      else for (let i = 0; i < n; i++) x += Date.now();
      return x >= 0;
    },

    /** performance.now() and Date.now() calls per span on the hot path (fewer spans than one
     *  export batch, so no export runs). */
    countClockCalls(scenario) {
      const spans = 256;
      let perf = 0, date = 0;
      const origPerf = performance.now, origDate = Date.now;
      performance.now = function () { perf++; return origPerf.call(performance); };
      Date.now = function () { date++; return origDate.call(Date); };
      try {
        impl[scenario](spans / SPANS_PER_CALL[scenario]);
      } finally {
        delete performance.now;
        Date.now = origDate;
      }
      return { perfNow: perf / spans, dateNow: date / spans };
    },

    /** `n` requests to `url` one after the other, each `fetch` (body read) or `XMLHttpRequest`
     *  (to loadend), none inside a span; returns each one's wall time in µs (performance.now(),
     *  5 µs resolution in a cross-origin-isolated page). */
    async requests(kind, n, url) {
      const out = [];
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        if (kind === "fetch") {
          const r = await fetch(url);
          await r.text();
        } else {
          await new Promise((resolve, reject) => {
            const x = new XMLHttpRequest();
            x.open("GET", url);
            x.onloadend = () => (x.status === 200 ? resolve() : reject(new Error(`XHR status ${x.status}`)));
            x.send();
          });
        }
        out.push((performance.now() - t) * 1000);
      }
      return out;
    },

    /** `spans` spans of the wire workload (actions of 5), left in the SDK's queue. */
    queue(spans) {
      for (let i = 0; i < spans / 5; i++) impl.action(i);
      return Math.floor(spans / 5) * 5;
    },

    /** Bytes of the SDK's WebAssembly memory (0 for an SDK without one). */
    wasmBytes: () => (impl.wasmMemory ? impl.wasmMemory().buffer.byteLength : 0),

    /** The wire workload: `actions` user actions of 5 spans each (see workload in the harness),
     *  flushed every `flushEvery` actions. */
    async workload(actions, flushEvery) {
      for (let i = 0; i < actions; i++) {
        impl.action(i);
        if ((i + 1) % flushEvery === 0) await impl.flush();
      }
      await impl.flush();
      return actions * 5;
    },

    /** `actions` real fetches through the SDK's own fetch instrumentation, each inside an active
     *  span with one more child: 3 spans per action, with whatever the SDK records for a fetch. */
    async instrumented(actions) {
      for (let i = 0; i < actions; i++) await impl.fetchAction(i);
      // OpenTelemetry's fetch instrumentation ends the span up to 300 ms after the response
      // (it waits for the resource timing entry).
      await new Promise((r) => setTimeout(r, 1000));
      await impl.flush();
      return actions * 3;
    },
  };
  document.body.dataset.ready = "1";
}

/** The attributes of the wire workload's spans, the same for both SDKs. */
export function actionSpans(i) {
  const origin = location.origin;
  return {
    root: { "app.page": "/home", "app.action": "reload feed" },
    client: {
      "http.request.method": "GET",
      "url.full": `${origin}/api/activities/home?page=${i % 7}`,
      "server.address": location.hostname,
      "server.port": Number(location.port),
      "http.response.status_code": 200,
    },
    process: { "app.items": 20 + (i % 13) },
    cache: { "cache.hit": i % 3 === 0 },
  };
}
