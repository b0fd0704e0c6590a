// fetch / XMLHttpRequest client spans in real headless Chromium and Firefox: attributes, timing, errors,
// patching edge cases (read-only fetch, other wrappers, re-init), workers.
import { describe, test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { startServer, closedPort } from "../support/testserver.mjs";
import { startSink } from "../support/sink.mjs";
import { attr, browsers, launchBrowser } from "./harness.mjs";

for (const name of browsers()) describe(name, () => {
  let browser, app, sink, deadPort;
  before(async () => {
    app = await startServer({ cors: true });
    sink = await startSink(0);
    deadPort = await closedPort();
    browser = await launchBrowser(name);
  });
  after(async () => {
    await browser?.close();
    app?.server.close();
    sink?.server.close();
  });
  beforeEach(() => { sink.received.length = 0; });

  const endpoint = () => `http://127.0.0.1:${sink.port}/v1/traces`;
  const spans = () => sink.received.flatMap((r) => r.body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
  const clientSpans = () => spans().filter((s) => s.kind === 3);

  async function open(prelude = "") {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.consoleMessages = [];
    page.on("console", (m) => page.consoleMessages.push({ type: m.type(), text: m.text() }));
    page.on("pageerror", (e) => page.consoleMessages.push({ type: "pageerror", text: String(e) }));
    if (prelude) await page.addInitScript(prelude);
    await page.goto(`http://127.0.0.1:${app.port}/tests/e2e/pages/api.html`);
    await page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: 10000 });
    return page;
  }

  test("a fetch span covers the whole body, with semantic-convention attributes and timing phases", async () => {
    const page = await open();
    await page.evaluate(async (endpoint) => {
      const c = window.canopy;
      c.init({ serviceName: "inst", endpoint });
      const res = await fetch("/stream?chunks=5&ms=80");
      await res.text(); // the body takes ~400 ms after the headers
      await new Promise((r) => setTimeout(r, 50));
      await c.forceFlush();
    }, endpoint());
    const [s] = clientSpans();
    assert.ok(s, "a client span");
    assert.equal(s.name, "GET");
    assert.equal(attr(s, "http.request.method"), "GET");
    assert.equal(attr(s, "url.full"), `http://127.0.0.1:${app.port}/stream?chunks=5&ms=80`);
    assert.equal(attr(s, "server.address"), "127.0.0.1");
    assert.equal(attr(s, "server.port"), app.port);
    assert.equal(attr(s, "http.response.status_code"), 200);
    const ms = Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1e6;
    assert.ok(ms >= 300, `the span includes the body (${ms} ms)`);
    const response = s.attributes.find((a) => a.key === "canopy.timing.response_ms");
    assert.ok(response && response.value.doubleValue >= 250, "response phase measured from resource timing");
    assert.ok(s.attributes.some((a) => a.key === "canopy.timing.request_ms"), "time to first byte");
    assert.equal(s.status, undefined);
    assert.ok(!spans().some((x) => String(attr(x, "url.full")).includes("/v1/traces")), "the exporter makes no spans");
    await page.context().close();
  });

  test("failures: HTTP 404 and 500, refused connection, abort, timeout", async () => {
    const page = await open();
    const results = await page.evaluate(async ({ endpoint, deadPort }) => {
      const c = window.canopy;
      c.init({ serviceName: "inst", endpoint });
      const out = {};
      out.s404 = (await fetch("/status/404")).status;
      out.s500 = (await fetch("/status/500", { method: "POST", body: "x" })).status;
      out.refused = await fetch(`http://127.0.0.1:${deadPort}/x`).catch((e) => e.name);
      const ac = new AbortController();
      const p = fetch("/slow?ms=2000", { signal: ac.signal });
      setTimeout(() => ac.abort(), 50);
      out.aborted = await p.catch((e) => e.name);
      out.timeout = await fetch("/slow?ms=2000", { signal: AbortSignal.timeout(50) }).catch((e) => e.name);
      await c.forceFlush();
      return out;
    }, { endpoint: endpoint(), deadPort });
    assert.deepEqual(results, { s404: 404, s500: 500, refused: "TypeError", aborted: "AbortError", timeout: "TimeoutError" });
    const byUrl = (part) => clientSpans().find((s) => String(attr(s, "url.full")).includes(part));
    const s404 = byUrl("/status/404");
    assert.equal(s404.status.code, 2);
    assert.equal(attr(s404, "error.type"), "404");
    const s500 = byUrl("/status/500");
    assert.equal(s500.name, "POST");
    assert.equal(attr(s500, "error.type"), "500");
    const refused = byUrl(`:${deadPort}/`);
    assert.equal(refused.status.code, 2);
    assert.equal(attr(refused, "error.type"), "TypeError");
    assert.equal(refused.events[0].name, "exception");
    assert.equal(attr(refused, "http.response.status_code"), undefined);
    const aborted = clientSpans().filter((s) => String(attr(s, "url.full")).includes("/slow"));
    assert.deepEqual(aborted.map((s) => attr(s, "error.type")).sort(), ["AbortError", "TimeoutError"]);
    await page.context().close();
  });

  test("credentials and signatures never reach url.full", async () => {
    const page = await open();
    await page.evaluate(async (endpoint) => {
      window.canopy.init({ serviceName: "inst", endpoint });
      await fetch(`${location.origin}/echo?sig=secret&x=1`).then((r) => r.text());
      await window.canopy.forceFlush();
    }, endpoint());
    const [s] = clientSpans();
    assert.equal(attr(s, "url.full"), `http://127.0.0.1:${app.port}/echo?sig=REDACTED&x=1`);
    await page.context().close();
  });

  test("XMLHttpRequest spans: success, HTTP error, abort, timeout, network error, sync", async () => {
    const page = await open();
    await page.evaluate(async ({ endpoint, deadPort }) => {
      const c = window.canopy;
      c.init({ serviceName: "inst", endpoint });
      const run = (method, url, setup = () => {}) => new Promise((resolve) => {
        const x = new XMLHttpRequest();
        x.open(method, url);
        setup(x);
        x.addEventListener("loadend", () => resolve(x.status));
        x.send();
      });
      await run("GET", "/json");
      await run("DELETE", "/status/403");
      await run("GET", "/slow?ms=2000", (x) => setTimeout(() => x.abort(), 30));
      await run("GET", "/slow?ms=2000", (x) => { x.timeout = 30; });
      await run("GET", `http://127.0.0.1:${deadPort}/x`);
      const sync = new XMLHttpRequest();
      sync.open("GET", "/echo?sync=1", false);
      sync.send();
      await c.forceFlush();
    }, { endpoint: endpoint(), deadPort });
    const byUrl = (part) => clientSpans().find((s) => String(attr(s, "url.full")).includes(part));
    assert.equal(attr(byUrl("/json"), "http.response.status_code"), 200);
    assert.equal(byUrl("/json").status, undefined);
    assert.equal(byUrl("/status/403").name, "DELETE");
    assert.equal(attr(byUrl("/status/403"), "error.type"), "403");
    const slow = clientSpans().filter((s) => String(attr(s, "url.full")).includes("/slow"));
    assert.deepEqual(slow.map((s) => attr(s, "error.type")).sort(), ["AbortError", "TimeoutError"]);
    assert.equal(attr(byUrl(`:${deadPort}/`), "error.type"), "NetworkError");
    assert.equal(attr(byUrl("/echo?sync=1"), "http.response.status_code"), 200, "synchronous XHR");
    await page.context().close();
  });

  test("an XMLHttpRequest span ends when the response is done, not after the page's own handlers", async () => {
    const HANDLERS = ["onreadystatechange", "onload", "onloadend", "load listener", "readystatechange listener", "readystatechange listener after send"];
    const page = await open();
    await page.evaluate(async ([endpoint, HANDLERS]) => {
      const c = window.canopy;
      c.init({ serviceName: "inst", endpoint });
      const busy = (ms) => { const t = performance.now(); while (performance.now() - t < ms) {} };
      // The page's own handlers, set before send as apps do (or a `readystatechange` listener
      // added after it), each busy for 300 ms: the span covers the request, not them.
      for (const handler of HANDLERS) {
        await new Promise((resolve) => {
          const x = new XMLHttpRequest();
          x.open("GET", `/echo?busy=${handler.replaceAll(" ", "-")}`);
          const heavy = () => { if (x.readyState === 4) busy(300); if (handler === "onloadend") resolve(); };
          if (handler === "load listener") x.addEventListener("load", heavy);
          else if (handler === "readystatechange listener") x.addEventListener("readystatechange", heavy);
          else if (handler.startsWith("on")) x[handler] = heavy;
          if (handler !== "onloadend") x.addEventListener("loadend", () => resolve());
          x.send();
          if (handler === "readystatechange listener after send") x.addEventListener("readystatechange", heavy);
        });
      }
      await c.forceFlush();
    }, [endpoint(), HANDLERS]);
    for (const handler of HANDLERS.map((h) => h.replaceAll(" ", "-"))) {
      const s = clientSpans().find((x) => String(attr(x, "url.full")).endsWith(`busy=${handler}`));
      assert.ok(s, handler);
      const ms = Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1e6;
      assert.ok(ms < 250, `${handler}: the span lasted ${ms.toFixed(1)} ms, the page's 300 ms handler included`);
    }
    await page.context().close();
  });

  test("an Event.timeStamp getter that throws never reaches the page; the XHR span still ends", async () => {
    const page = await open();
    const errors = await page.evaluate(async (endpoint) => {
      const c = window.canopy;
      const errors = [];
      addEventListener("error", (e) => errors.push(String(e.message)));
      c.init({ serviceName: "inst", endpoint });
      Object.defineProperty(Event.prototype, "timeStamp", { configurable: true, get() { throw new Error("hostile timeStamp"); } });
      await new Promise((resolve) => {
        const x = new XMLHttpRequest();
        x.open("GET", "/echo?hostile-timestamp=1");
        x.addEventListener("loadend", () => resolve());
        x.send();
      });
      await c.forceFlush();
      return errors;
    }, endpoint());
    assert.deepEqual(errors, []);
    const s = clientSpans().find((x) => String(attr(x, "url.full")).includes("hostile-timestamp"));
    assert.ok(s, "the span was exported");
    assert.equal(attr(s, "http.response.status_code"), 200);
    assert.ok(!page.consoleMessages.some((m) => m.type === "pageerror"), JSON.stringify(page.consoleMessages));
    await page.context().close();
  });

  test("forceFlush called from the page's own loadend handler includes that XHR's span, with nothing else queued", async () => {
    const page = await open();
    const flushed = await page.evaluate(async (endpoint) => {
      const c = window.canopy;
      c.init({ serviceName: "inst", endpoint }); // the default 5 s delay
      const t0 = performance.now();
      await new Promise((resolve) => {
        const x = new XMLHttpRequest();
        x.open("GET", "/echo?flush-in-loadend=1");
        x.onloadend = () => c.forceFlush().then(resolve); // runs before Canopy's own listener in Chromium
        x.send();
      });
      return performance.now() - t0;
    }, endpoint());
    const s = clientSpans().find((x) => String(attr(x, "url.full")).includes("flush-in-loadend"));
    assert.ok(s, `the XHR's span was exported by that flush (after ${Math.round(flushed)} ms)`);
    assert.ok(flushed < 4000, `the flush did not wait for the 5 s delay (${Math.round(flushed)} ms)`);
    await page.context().close();
  });

  test("a read-only fetch: init warns once and everything else keeps working", async () => {
    const page = await open(`Object.defineProperty(window, "fetch", { value: window.fetch, writable: false, configurable: false });`);
    const r = await page.evaluate(async (endpoint) => {
      const c = window.canopy;
      const before = window.fetch;
      c.init({ serviceName: "inst", endpoint });
      const status = (await fetch("/json")).status;
      await new Promise((resolve) => { const x = new XMLHttpRequest(); x.open("GET", "/echo?xhr=1"); x.onloadend = resolve; x.send(); });
      c.startSpan("manual").end();
      await c.forceFlush();
      return { status, same: window.fetch === before };
    }, endpoint());
    assert.deepEqual(r, { status: 200, same: true });
    const warns = page.consoleMessages.filter((m) => m.type === "warning" && /fetch could not be patched/.test(m.text));
    assert.equal(warns.length, 1);
    const names = spans().map((s) => s.name).sort();
    assert.deepEqual(names, ["GET", "manual"], "XHR is still traced and manual spans still export; fetch is not");
    await page.context().close();
  });

  test("shutdown restores the original fetch, but never removes another library's wrapper", async () => {
    const page = await open();
    const r = await page.evaluate(async (endpoint) => {
      const c = window.canopy;
      const original = window.fetch;
      const originalSend = XMLHttpRequest.prototype.send;
      c.init({ serviceName: "inst", endpoint });
      // addEventListener is inherited from EventTarget: Canopy's own, while it runs, goes again.
      const ownAdd = () => Object.prototype.hasOwnProperty.call(XMLHttpRequest.prototype, "addEventListener");
      const wrapped = window.fetch !== original && XMLHttpRequest.prototype.send !== originalSend && ownAdd();
      await c.shutdown();
      const restored = window.fetch === original && XMLHttpRequest.prototype.send === originalSend && !ownAdd();

      c.init({ serviceName: "inst", endpoint });
      const ours = window.fetch;
      let calls = 0;
      const theirs = function (...args) { calls++; return ours.apply(this, args); };
      window.fetch = theirs; // another library wraps after us
      await c.shutdown();
      const kept = window.fetch === theirs;
      const status = (await fetch("/json")).status; // passes through our (now inert) wrapper
      await c.forceFlush();
      return { wrapped, restored, kept, status, calls };
    }, endpoint());
    assert.deepEqual(r, { wrapped: true, restored: true, kept: true, status: 200, calls: 1 });
    assert.equal(clientSpans().length, 0, "an inert wrapper makes no spans");
    const last = app.seen.filter((s) => s.path === "/json").at(-1);
    assert.equal(last.traceparent, undefined, "and sends no headers");
    await page.context().close();
  });

  test("init, shutdown, init (React StrictMode) never double-wraps: one span and one header per request", async () => {
    const page = await open();
    const layers = await page.evaluate(async (endpoint) => {
      const c = window.canopy;
      c.init({ serviceName: "inst", endpoint });
      c.init({ serviceName: "inst", endpoint });
      await c.shutdown();
      c.init({ serviceName: "inst", endpoint });
      await fetch("/echo?strict=1").then((r) => r.text());
      await c.forceFlush();
      let layers = 0, f = window.fetch;
      while (f && f[Symbol.for("canopy.fetch")]) { layers++; f = f[Symbol.for("canopy.fetch")].original; }
      return layers;
    }, endpoint());
    assert.equal(layers, 1);
    assert.equal(clientSpans().length, 1);
    const seen = app.seen.filter((s) => s.path === "/echo?strict=1");
    assert.equal(seen.length, 1);
    assert.equal(seen[0].traceparentValues.length, 1);
    await page.context().close();
  });

  test("a fetch wrapper installed before Canopy is called as the page called it, with our headers in its init", async () => {
    const page = await open();
    const r = await page.evaluate(async (endpoint) => {
      const c = window.canopy;
      const native = window.fetch;
      const calls = [];
      // A CSRF wrapper as apps write them: it spreads the init's headers and reads the URL as text.
      window.fetch = (url, opts = {}) => {
        // (Canopy's own export goes through it too: the fetch it found is the page's.)
        if (/wrapped=/.test(String(url))) calls.push({ url: typeof url, method: opts.method || "GET", traceparent: typeof opts.headers?.traceparent });
        return native(url, { ...opts, headers: { ...opts.headers, "x-csrf-token": "secret" } });
      };
      c.init({ serviceName: "inst", endpoint });
      const post = await fetch("/echo?wrapped=1", { method: "POST", body: "x", headers: { "content-type": "text/plain", "x-app": "1" } }).then((res) => res.json());
      const plain = await fetch(new URL("/echo?wrapped=2", location.href)).then((res) => res.json());
      await c.forceFlush();
      return { calls, post: { method: post.method, body: post.bodyText, headers: post.headers }, plain: plain.method };
    }, endpoint());
    assert.deepEqual(r.calls, [
      { url: "string", method: "POST", traceparent: "string" },
      { url: "string", method: "GET", traceparent: "string" },
    ]);
    assert.equal(r.post.method, "POST");
    assert.equal(r.post.body, "x");
    assert.equal(r.post.headers["x-app"], "1", "the page's own headers arrive");
    assert.equal(r.post.headers["x-csrf-token"], "secret", "and the wrapper's");
    assert.equal(r.post.headers["content-type"], "text/plain");
    assert.equal(r.plain, "GET");
    const seen = app.seen.filter((x) => /wrapped=/.test(x.path));
    assert.equal(seen.length, 2);
    for (const x of seen) assert.match(x.traceparent ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, `${x.path} carries a traceparent`);
    assert.equal(clientSpans().length, 2);
    await page.context().close();
  });

  test("a fetch wrapper installed before Canopy keeps headers given as a Map or as pairs", async () => {
    const page = await open();
    const r = await page.evaluate(async (endpoint) => {
      const c = window.canopy;
      const native = window.fetch;
      // A wrapper that reads any form of headers through Headers, as careful libraries do.
      window.fetch = (url, opts = {}) => {
        const headers = new Headers(opts.headers);
        headers.set("x-csrf-token", "secret");
        return native(url, { ...opts, headers });
      };
      c.init({ serviceName: "inst", endpoint });
      const map = await fetch("/echo?form=map", { headers: new Map([["x-app", "map"]]) }).then((res) => res.json());
      const pairs = await fetch("/echo?form=pairs", { headers: [["x-app", "pairs"]] }).then((res) => res.json());
      await c.forceFlush();
      return [map.headers["x-app"], map.headers["x-csrf-token"], pairs.headers["x-app"]];
    }, endpoint());
    assert.deepEqual(r, ["map", "secret", "pairs"]);
    const seen = app.seen.filter((x) => /form=/.test(x.path));
    assert.equal(seen.length, 2);
    for (const x of seen) assert.match(x.traceparent ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, `${x.path} carries a traceparent`);
    await page.context().close();
  });

  test("XMLHttpRequest reused, re-opened in flight, or refused by open: one span per request sent, each with its own outcome", { timeout: 60000 }, async () => {
    const page = await open();
    const r = await page.evaluate(async (endpoint) => {
      const c = window.canopy;
      c.init({ serviceName: "inst", endpoint });
      const done = (x) => new Promise((res) => x.addEventListener("loadend", res, { once: true }));
      // One object, 30 requests: the span of each ends once, with its own status.
      const x = new XMLHttpRequest();
      for (let i = 0; i < 30; i++) {
        x.open("GET", `/json?reuse=${i}`);
        const d = done(x);
        x.send();
        await d;
      }
      // Re-opened while in flight: the browser cancels the first without any event.
      const y = new XMLHttpRequest();
      y.open("GET", "/slow?ms=2000&reopen=1");
      y.send();
      y.open("GET", "/json?reopen=2");
      const dy = done(y);
      y.send();
      await dy;
      // Polling with one object, the next request opened from the page's own readystatechange
      // (no load or loadend follows then) and from its load listener: each ends with its status.
      for (const from of ["readystatechange", "load"]) {
        const p = new XMLHttpRequest();
        let n = 0;
        await new Promise((res) => {
          p.addEventListener(from, () => {
            if (p.readyState !== 4 || ++n === 3) return;
            p.open("GET", `/json?poll=${from}-${n}`);
            p.send();
          });
          // The last request is ended by its own loadend (bounded by the test's timeout).
          p.addEventListener("loadend", () => { if (n === 3) res(); });
          p.open("GET", `/json?poll=${from}-0`);
          p.send();
        });
      }
      // A method open refuses: nothing is sent, and nothing is recorded.
      const z = new XMLHttpRequest();
      const errors = [];
      try { z.open("TRACE", "/json?refused=1"); } catch (e) { errors.push(e.name); }
      try { z.send(); } catch (e) { errors.push(e.name); }
      // The URL's toString runs once, as without Canopy.
      let calls = 0;
      const w = new XMLHttpRequest();
      w.open("GET", { toString() { calls++; return "/json?tostring=1"; } });
      const dw = done(w);
      w.send();
      await dw;
      await c.forceFlush();
      return { errors, calls };
    }, endpoint());
    assert.deepEqual(r.errors, ["SecurityError", "InvalidStateError"]);
    assert.equal(r.calls, 1);
    const spans = clientSpans();
    const url = (s) => attr(s, "url.full") ?? "";
    const reuse = spans.filter((s) => /reuse=/.test(url(s)));
    assert.equal(reuse.length, 30, "one span per request of the reused object");
    assert.equal(new Set(reuse.map(url)).size, 30);
    for (const s of reuse) assert.equal(attr(s, "http.response.status_code"), 200);
    const first = spans.filter((s) => /reopen=1/.test(url(s)));
    const second = spans.filter((s) => /reopen=2/.test(url(s)));
    assert.equal(first.length, 1);
    assert.equal(attr(first[0], "http.response.status_code"), undefined, "the cancelled request has no status");
    assert.equal(first[0].status?.code, 2, "and is an error");
    assert.equal(second.length, 1);
    assert.equal(attr(second[0], "http.response.status_code"), 200);
    assert.equal(spans.filter((s) => /refused=/.test(url(s))).length, 0, "no span for a request never sent");
    for (const from of ["readystatechange", "load"]) {
      const polled = spans.filter((s) => url(s).includes(`poll=${from}-`));
      assert.equal(polled.length, 3, `one span per request polled from ${from}`);
      for (const s of polled) assert.equal(attr(s, "http.response.status_code"), 200, `${url(s)} has its own status`);
    }
    assert.equal(spans.filter((s) => /tostring=/.test(url(s))).length, 1);
    await page.context().close();
  });

  test("in a Worker: fetch is traced and spans are exported", async () => {
    const page = await open();
    const result = await page.evaluate(async (endpoint) => {
      const src = `
        import wasmInit from "${location.origin}/pkg/canopy_web.js";
        import * as c from "${location.origin}/pkg/api.js";
        c.attach(await wasmInit());
        c.init({ serviceName: "worker", endpoint: ${JSON.stringify(endpoint)} });
        await c.startActiveSpan("work", async () => { await fetch("${location.origin}/json").then((r) => r.json()); });
        await c.forceFlush();
        postMessage("done");`;
      const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
      const w = new Worker(url, { type: "module" });
      return await new Promise((resolve) => {
        w.onmessage = (e) => resolve(e.data);
        w.onerror = (e) => resolve("error: " + e.message);
        setTimeout(() => resolve("timeout"), 10000);
      });
    }, endpoint());
    assert.equal(result, "done");
    const work = spans().find((s) => s.name === "work");
    const get = clientSpans().find((s) => String(attr(s, "url.full")).endsWith("/json"));
    assert.ok(work && get, "both spans exported from the worker");
    assert.equal(get.parentSpanId, work.spanId);
    const seen = app.seen.filter((s) => s.path === "/json").at(-1);
    assert.equal(seen.traceparent.split("-")[2], get.spanId, "the worker's request carried the span's traceparent");
    await page.context().close();
  });
});
