// The package's main entry (pkg/index.js) in headless Chromium, loaded as the browser loads it
// (no bundler): init loads the .wasm itself, spans started before it is ready are recorded, and
// nothing it does throws into the page.
// Run: node --test tests/e2e/   (after `make pkg`)
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { launch, receivedLogs, receivedSpans, attr, waitFor, spansOfService } from "./harness.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const WAIT_MS = 10000;

let h;
before(async () => { h = await launch(); });
after(async () => { await h.close(); });
beforeEach(() => { h.sink.reset(); });

/** A fresh page at `path` (default /__entry.html) whose module script imports the entry as `window.canopy`. */
async function entryPage({ head = "", path = "/__entry.html", entry = "/pkg/index.js", routes = {} } = {}) {
  const context = await h.browser.newContext();
  const page = await context.newPage();
  const log = [];
  page.on("console", (m) => log.push({ type: m.type(), text: m.text() }));
  page.on("pageerror", (e) => log.push({ type: "pageerror", text: String(e) }));
  for (const [url, handler] of Object.entries(routes)) await page.route(`${h.base}${url}`, handler);
  const html = `<!doctype html><html><head><meta charset="utf-8">${head}
    <script type="module">import * as canopy from "${entry}"; window.canopy = canopy; document.body.dataset.ready = "1";</script>
    </head><body></body></html>`;
  await page.route(`${h.base}${path}`, (r) => r.fulfill({ contentType: "text/html", body: html }));
  await page.goto(`${h.base}${path}`);
  await page.waitForFunction(() => document.body && document.body.dataset.ready === "1", null, { timeout: WAIT_MS });
  page.log = log;
  return page;
}

/** A positive barrier instead of a quiet window: the page posts a `barrier` span to the sink
 *  itself (with the unpatched fetch) after everything it did; once that is in, an export Canopy
 *  wrongly started before it has had its chance to arrive. */
async function barrier(page) {
  await page.evaluate(() => fetch("/v1/traces", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "barrier" } }] }, scopeSpans: [{ spans: [{ name: "barrier" }] }] }] }),
  }));
  await waitFor("the page's barrier request", () => spansOfService(h.sink, "barrier").length > 0, WAIT_MS);
}

async function spansUntil(pred, what) {
  let spans;
  await waitFor(what, () => pred((spans = receivedSpans(h.sink))), WAIT_MS, () => `; got ${spans.map((s) => s.name).join(", ") || "nothing"}`);
  return spans;
}

const one = (spans, name) => {
  const found = spans.filter((s) => s.name === name);
  assert.equal(found.length, 1, `exactly one span ${name}; got ${spans.map((s) => s.name).join(", ")}`);
  return found[0];
};

const errors = (page) => page.log.filter((m) => m.type === "error" || m.type === "pageerror").map((m) => m.text);

test("init loads the .wasm itself; spans started before it is ready keep their tree, times and calls", async () => {
  const page = await entryPage();
  const r = await page.evaluate(async (endpoint) => {
    const c = window.canopy;
    const t0 = Date.now();
    const started = c.init({ serviceName: "entry", endpoint, batch: { scheduledDelayMillis: 60000 } });
    const runningAtOnce = c.isRunning();
    const root = c.startSpan("root", { attributes: { a: 1 }, kind: "client" });
    const chained = root.setAttribute("b", "x").addEvent("ev", { k: 2 });
    root.setAttributes({ arr: [1, 2] });
    root.addEvent("at", Date.now());
    const child = root.startSpan("child");
    const early = root.spanContext();
    const sameActive = c.startActiveSpan("active", (s) => {
      c.startSpan("inner").end();
      return c.getActiveSpan() === s;
    });
    const viaOption = c.startSpan("viaOption", { parent: child });
    c.withSpan(child, () => c.startSpan("viaWithSpan").end());
    const asyncDone = c.startActiveSpan("async", async (s) => {
      await started;
      s.startSpan("afterReady").end();
      c.startSpan("viaPendingParent", { parent: viaOption }).end();
      return "value";
    });
    let thrown;
    try {
      c.startActiveSpan("throws", () => { throw new TypeError("bad thing"); });
    } catch (e) {
      thrown = e instanceof TypeError && e.message;
    }
    const rejected = c.startActiveSpan("rejects", async () => { throw new Error("later"); }).catch((e) => e.message);
    c.startSpan("fresh", { root: true }).end();
    // A sparse links array (length 2^30 + 1) is read up to a bound, not to its length.
    const sparseLinks = [{ context: { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 1 } }];
    sparseLinks[2 ** 30] = sparseLinks[0];
    c.startSpan("sparseLinks", { links: sparseLinks }).end();
    child.end();
    root.setStatus({ code: 1 }).updateName("root-renamed");
    root.end();
    root.end(); // a second end changes nothing
    const ok = await started;
    const tReady = Date.now();
    viaOption.end(); // ended after Canopy runs: goes straight to the real span
    const value = await asyncDone;
    const rejection = await rejected;
    const late = root.spanContext();
    await c.forceFlush();
    return { t0, tReady, ok, runningAtOnce, running: c.isRunning(), chained: chained === root, early, late, sameActive, thrown, value, rejection };
  }, `${h.base}/v1/traces`);
  assert.equal(r.ok, true, "init resolves true");
  assert.equal(r.runningAtOnce, false, "not running before the .wasm is ready");
  assert.equal(r.running, true);
  assert.ok(r.chained, "setters chain");
  assert.deepEqual(r.early, { traceId: "0".repeat(32), spanId: "0".repeat(16), traceFlags: 0, isRemote: false }, "before it is ready a span has the invalid context");
  assert.equal(r.thrown, "bad thing", "a throw reaches the caller unchanged");
  assert.equal(r.value, "value");
  assert.equal(r.rejection, "later");
  assert.ok(r.sameActive, "getActiveSpan is the active span before the .wasm is ready");

  const names = ["root-renamed", "child", "active", "inner", "viaOption", "viaWithSpan", "async", "afterReady", "viaPendingParent", "throws", "rejects", "fresh", "sparseLinks"];
  const spans = await spansUntil((s) => names.every((n) => s.some((x) => x.name === n)), "every span");
  const get = (n) => one(spans, n);
  const root = get("root-renamed");
  assert.deepEqual(get("sparseLinks").links.map((l) => l.spanId), ["00f067aa0ba902b7"], "one link from the sparse array's first entry");
  assert.deepEqual(r.late, { traceId: root.traceId, spanId: root.spanId, traceFlags: 1, isRemote: false }, "once ready, the span reports its real ids");
  assert.equal(root.parentSpanId, undefined);
  assert.equal(root.kind, 3, "kind client");
  assert.equal(attr(root, "a"), 1);
  assert.equal(attr(root, "b"), "x");
  assert.deepEqual(attr(root, "arr").values.map((v) => Number(v.intValue)), [1, 2]);
  assert.deepEqual(root.events.map((e) => e.name), ["ev", "at"]);
  assert.equal(attr(root.events[0], "k"), 2);
  assert.equal(root.status.code, 1);
  const ms = (ns) => Number(BigInt(ns) / 1000000n);
  assert.ok(ms(root.startTimeUnixNano) >= r.t0 - 5 && ms(root.startTimeUnixNano) <= r.tReady, "the start time is when startSpan was called");
  assert.ok(ms(root.endTimeUnixNano) <= r.tReady, "the end time is when end() was called, not when it was recorded");
  assert.ok(ms(root.events[0].timeUnixNano) <= r.tReady, "event times are when addEvent was called");

  const under = (n, parent) => {
    const s = get(n);
    assert.equal(s.parentSpanId, parent.spanId, `${n} is a child of ${parent.name}`);
    assert.equal(s.traceId, parent.traceId);
    return s;
  };
  const child = under("child", root);
  const active = get("active");
  assert.equal(active.parentSpanId, undefined);
  under("inner", active);
  const viaOption = under("viaOption", child);
  assert.ok(ms(viaOption.endTimeUnixNano) >= r.tReady - 1, "a call after it is ready goes straight to the real span");
  under("viaWithSpan", child);
  under("afterReady", get("async"));
  under("viaPendingParent", viaOption);
  const throws = get("throws");
  assert.equal(throws.status.code, 2);
  assert.equal(throws.status.message, "bad thing");
  assert.equal(attr(throws.events.find((e) => e.name === "exception"), "exception.type"), "TypeError");
  assert.equal(get("rejects").status.code, 2);
  assert.equal(get("fresh").parentSpanId, undefined);
  assert.notEqual(get("fresh").traceId, root.traceId);
  assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length, "no span is exported twice");
  assert.deepEqual(errors(page), []);
  await page.context().close();
});

test("log records written while the .wasm loads are kept with their time and the span that was active", async () => {
  const page = await entryPage();
  const r = await page.evaluate(async (endpoint) => {
    const c = window.canopy;
    const started = c.init({ serviceName: "entry-logs", endpoint, batch: { scheduledDelayMillis: 60000 } });
    const tWrite = Date.now();
    const before = c.isRunning();
    c.startActiveSpan("boot", (s) => {
      c.log.info("inside boot", { step: 1 });
      s.end();
    });
    c.log.warn("outside");
    const named = c.startSpan("named");
    c.log.debug("for a pending span", undefined, named);
    named.end();
    await started;
    await c.forceFlush();
    return { tWrite, before };
  }, `${h.base}/v1/traces`);
  assert.equal(r.before, false, "written before Canopy ran");
  const logs = await waitFor("3 log records", () => { const l = receivedLogs(h.sink); return l.length >= 3 && l; }, WAIT_MS);
  assert.equal(logs.length, 3, "every record arrives");
  assert.equal(logs[2].spanId, one(receivedSpans(h.sink), "named").spanId, "a PendingSpan named as the record's span");
  const boot = one(receivedSpans(h.sink), "boot");
  assert.equal(logs[0].body.stringValue, "inside boot");
  assert.equal(logs[0].spanId, boot.spanId, "the span active when it was written, chosen by Rust at replay");
  assert.equal(logs[0].traceId, boot.traceId);
  assert.equal(logs[1].spanId, undefined, "outside any span");
  assert.ok(Math.abs(Number(logs[0].timeUnixNano) / 1e6 - r.tWrite) < 50, "its own time, not the replay's");
});

test("while the .wasm loads, hostile arguments never throw into the page and leave nothing behind", async () => {
  const page = await entryPage();
  const r = await page.evaluate(async (endpoint) => {
    const c = window.canopy;
    const started = c.init({ serviceName: "entry-hostile", endpoint, batch: { scheduledDelayMillis: 60000 } });
    const boom = () => { throw new Error("boom"); };
    const getter = { a: 1, get b() { return boom(); } };
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const cases = {
      "a name whose toString throws": () => c.startSpan({ toString: boom }).end(),
      "attributes with a throwing getter": () => c.startSpan("hostile-attrs", { attributes: getter }).end(),
      "options that are a revoked Proxy": () => c.startSpan("hostile-options", revoked.proxy).end(),
      "links whose slice and length throw": () => c.startSpan("hostile-links", { links: new Proxy([], { get: boom }) }).end(),
      "setAttributes, addEvent and setStatus with getters": () => {
        const s = c.startSpan("hostile-calls");
        s.setAttributes(getter);
        s.addEvent("e", getter);
        s.setStatus({ get code() { return boom(); } });
        s.setAttribute("arr", revoked.proxy);
        s.end();
      },
      "a log whose message and attributes throw": () => c.log.info({ toString: boom }, getter),
      "a log for a revoked Proxy span": () => c.log.info("x", undefined, revoked.proxy),
      "withSpan with a revoked Proxy": () => c.withSpan(revoked.proxy, () => 1),
    };
    const thrown = {};
    for (const [name, f] of Object.entries(cases)) {
      try { f(); } catch (e) { thrown[name] = String(e); }
    }
    const before = c.isRunning();
    c.startSpan("after-hostile").end();
    await started;
    await c.forceFlush();
    return { thrown, before };
  }, `${h.base}/v1/traces`);
  assert.equal(r.before, false, "called while the .wasm loaded");
  assert.deepEqual(r.thrown, {}, "no call threw");
  const spans = await spansUntil((s) => s.some((x) => x.name === "after-hostile"), "the spans after the hostile calls");
  const keys = (name) => (one(spans, name).attributes ?? []).map((a) => a.key).filter((k) => k !== "session.id");
  assert.deepEqual(keys("hostile-attrs"), ["a"], "the readable attribute is kept");
  assert.deepEqual(keys("after-hostile"), [], "nothing left pending for a later span");
  assert.equal(one(spans, "hostile-calls").events.length, 1);
  assert.deepEqual(errors(page), []);
});

test("without init nothing throws and nothing is recorded; init later works", async () => {
  const page = await entryPage();
  const r = await page.evaluate(async (endpoint) => {
    const c = window.canopy;
    const s = c.startSpan("nothing").setAttribute("a", 1);
    s.addEvent("e").recordException(new Error("x"));
    s.end();
    const v = c.startActiveSpan("nothing2", (x) => c.withSpan(x, () => 7));
    const a = c.getActiveSpan();
    await c.forceFlush();
    await c.shutdown();
    const ok = await c.init({ serviceName: "later", endpoint, documentLoad: false, longAnimationFrames: false }); // counts its own spans (a long frame under load would be one)
    c.startSpan("recorded").end();
    await c.forceFlush();
    return { v, a: a === undefined, ok, nativeBefore: true };
  }, `${h.base}/v1/traces`);
  assert.equal(r.v, 7);
  assert.ok(r.a);
  assert.equal(r.ok, true);
  const spans = await spansUntil((s) => s.some((x) => x.name === "recorded"), "the span after init");
  assert.deepEqual(spans.map((s) => s.name), ["recorded"]);
  assert.deepEqual(errors(page), []);
  await page.context().close();
});

test("a bad config: init resolves false and logs why; the API stays a no-op; a good config then starts", async () => {
  const page = await entryPage();
  const r = await page.evaluate(async (endpoint) => {
    const c = window.canopy;
    const native = window.fetch;
    const bad = c.init({ serviceName: "", sampleRate: 3 });
    c.startSpan("pendingThenDropped").end();
    const okBad = await bad;
    c.startSpan("noop").end();
    const unpatched = window.fetch === native;
    const ok = await c.init({ serviceName: "good", endpoint, documentLoad: false, longAnimationFrames: false }); // counts its own spans (a long frame under load would be one)
    c.startSpan("good").end();
    await c.forceFlush();
    return { okBad, unpatched, ok, patched: window.fetch !== native };
  }, `${h.base}/v1/traces`);
  assert.equal(r.okBad, false);
  assert.ok(r.unpatched, "fetch is not patched after a failed init");
  assert.equal(r.ok, true);
  assert.ok(r.patched);
  const logged = errors(page);
  assert.equal(logged.length, 1, `one error: ${logged.join(" | ")}`);
  assert.match(logged[0], /serviceName is required/);
  assert.match(logged[0], /sampleRate/);
  assert.match(logged[0], /tracing is off/);
  const spans = await spansUntil((s) => s.some((x) => x.name === "good"), "the good span");
  assert.deepEqual(spans.map((s) => s.name), ["good"], "spans from before the failed start are dropped");
  await page.context().close();
});

// A page whose environment throws part-way through init (here a patched addEventListener that
// refuses `popstate`, as the route listener asks for it after fetch is wrapped): init resolves
// false and takes down what it installed. It used to leave fetch wrapped and an export pipeline
// running (in Node, retrying forever) while saying tracing was off.
test("an init that throws part-way leaves nothing installed", async () => {
  const page = await entryPage();
  const r = await page.evaluate(async (endpoint) => {
    const c = window.canopy;
    const native = window.fetch;
    const add = window.addEventListener;
    window.addEventListener = function (type, ...rest) {
      if (type === "popstate") throw new TypeError("popstate refused by the page");
      return add.call(this, type, ...rest);
    };
    const ok = await c.init({ serviceName: "half", endpoint, documentLoad: false });
    window.addEventListener = add;
    c.startSpan("after-failed-init").end();
    await c.forceFlush();
    const unpatched = window.fetch === native;
    const again = await c.init({ serviceName: "whole", endpoint, documentLoad: false, longAnimationFrames: false });
    c.startSpan("after-good-init").end();
    await c.forceFlush();
    return { ok, unpatched, again, running: c.isRunning() };
  }, `${h.base}/v1/traces`);
  assert.equal(r.ok, false, "init resolves false");
  assert.ok(r.unpatched, "fetch is not left wrapped");
  const logged = errors(page);
  assert.equal(logged.length, 1, `one error: ${logged.join(" | ")}`);
  assert.match(logged[0], /^canopy: .*popstate refused by the page/);
  assert.match(logged[0], /tracing is off/);
  assert.equal(r.again, true, "a later init starts");
  const spans = await spansUntil((s) => s.some((x) => x.name === "after-good-init"), "the good span");
  assert.deepEqual(spans.map((s) => s.name), ["after-good-init"], "nothing from the failed init");
  await page.context().close();
});

test("a .wasm that cannot load: init resolves false, logs once, the page keeps working", async () => {
  const page = await entryPage({ routes: { "/pkg/canopy_web_bg.wasm": (route) => route.abort("connectionrefused") } });
  const r = await page.evaluate(async (endpoint) => {
    const c = window.canopy;
    const started = c.init({ serviceName: "nowasm", endpoint });
    const s = c.startSpan("pending");
    s.end();
    const ok = await started;
    const res = await fetch("/pkg/package.json");
    await c.forceFlush();
    return { ok, status: res.status, running: c.isRunning(), traceparent: res.headers.get("traceparent") };
  }, `${h.base}/v1/traces`);
  assert.equal(r.ok, false);
  assert.equal(r.running, false);
  assert.equal(r.status, 200, "the page's own requests work");
  const logged = errors(page).filter((t) => /canopy/.test(t));
  assert.equal(logged.length, 1, logged.join(" | "));
  assert.match(logged[0], /could not load canopy_web_bg\.wasm/);
  await barrier(page);
  assert.deepEqual(spansOfService(h.sink, "nowasm"), [], "nothing exported");
  await page.context().close();
});

test("shutdown before the .wasm is ready: Canopy never starts and the pending spans are dropped", async () => {
  const page = await entryPage();
  const r = await page.evaluate(async (endpoint) => {
    const c = window.canopy;
    const native = window.fetch;
    const started = c.init({ serviceName: "cancelled", endpoint });
    c.startSpan("dropped").end();
    await c.shutdown();
    const ok = await started;
    await c.load();
    c.startSpan("after").end();
    await c.forceFlush();
    return { ok, running: c.isRunning(), unpatched: window.fetch === native };
  }, `${h.base}/v1/traces`);
  assert.equal(r.ok, false);
  assert.equal(r.running, false);
  assert.ok(r.unpatched);
  await barrier(page);
  assert.deepEqual(spansOfService(h.sink, "cancelled"), [], "nothing exported");
  await page.context().close();
});

test("init twice keeps the first configuration and one pipeline", async () => {
  const page = await entryPage();
  await page.evaluate(async (endpoint) => {
    const c = window.canopy;
    const a = c.init({ serviceName: "first", endpoint, batch: { scheduledDelayMillis: 60000 }, documentLoad: false, longAnimationFrames: false }); // counts its own spans (a long frame under load would be one)
    const b = c.init({ serviceName: "second", endpoint });
    c.startSpan("s1").end();
    await Promise.all([a, b]);
    await c.init({ serviceName: "third", endpoint });
    c.startSpan("s2").end();
    await fetch("/pkg/package.json").then((res) => res.text());
    await c.forceFlush();
  }, `${h.base}/v1/traces`);
  await spansUntil((s) => s.some((x) => x.name === "s2"), "the spans");
  assert.equal(h.sink.received.length, 1, "one export request for one flush");
  const spans = receivedSpans(h.sink);
  assert.deepEqual(spans.map((s) => s.name).sort(), ["GET", "s1", "s2"]);
  assert.equal(attr({ attributes: spans[0].resource.attributes }, "service.name"), "first");
  const warnings = page.log.filter((m) => m.type === "warning" && /already/.test(m.text));
  assert.equal(warnings.length, 2, "each extra init warns");
  await page.context().close();
});

test("a server-rendered page: spans started while it loads join the server's trace even if the .wasm arrives after the load event", async () => {
  const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const page = await entryPage({
    head: `<meta name="traceparent" content="${tp}"><meta name="tracestate" content="vendor=1">
      <script type="module">
        import { init, startSpan } from "/pkg/index.js";
        window.started = init({ serviceName: "ssr", endpoint: "/v1/traces" });
        window.boot = startSpan("boot");
        window.boot2 = startSpan("boot2");
        window.addEventListener("load", () => { window.afterLoad = startSpan("afterLoad"); window.loaded = Date.now(); });
      </script>`,
    routes: {
      "/pkg/canopy_web_bg.wasm": async (route) => {
        await new Promise((r) => setTimeout(r, 600));
        await route.continue();
      },
    },
  });
  const r = await page.evaluate(async () => {
    const ok = await window.started;
    const ready = Date.now();
    window.boot.end();
    window.boot2.end();
    window.afterLoad.end();
    window.canopy.startSpan("live").end();
    await window.canopy.forceFlush();
    return { ok, loadedFirst: window.loaded < ready };
  });
  assert.equal(r.ok, true);
  assert.ok(r.loadedFirst, "the load event came before the .wasm");
  const spans = await spansUntil((s) => s.some((x) => x.name === "live"), "the spans");
  const boot = one(spans, "boot");
  assert.equal(boot.traceId, "0af7651916cd43dd8448eb211c80319c");
  assert.equal(boot.parentSpanId, "b7ad6b7169203331");
  assert.equal(boot.traceState, "vendor=1");
  const boot2 = one(spans, "boot2");
  assert.equal(boot2.traceId, boot.traceId);
  assert.equal(boot2.parentSpanId, "b7ad6b7169203331");
  assert.equal(boot2.traceState, "vendor=1");
  assert.notEqual(one(spans, "afterLoad").traceId, boot.traceId, "a span started after the load event is a new trace");
  assert.notEqual(one(spans, "live").traceId, boot.traceId, "so is a span started once Canopy runs");
  await page.context().close();
});

/** A Vite < 8 dev server's pre-bundled copy of `entry` (pkg/index.js or pkg/core/index.js) in
 *  node_modules/.vite/deps, with the package's three .wasm files served where npm installed them;
 *  returns which .wasm requests the page made, in order, and whether init succeeded. */
async function viteDeps(entry) {
  const { build } = await import("../../tools/node_modules/esbuild/lib/main.js");
  // web-vitals, the package's dependency, from where an app's node_modules would have it.
  const out = await build({ entryPoints: [`${root}${entry}`], bundle: true, format: "esm", write: false, logLevel: "silent", nodePaths: [`${root}tools/node_modules`] });
  const bundle = out.outputFiles[0].text;
  const seen = [];
  const serve = (name, file) => async (route) => {
    seen.push(name);
    return route.fulfill({ contentType: "application/wasm", body: await readFile(`${root}pkg/${file}`) });
  };
  const page = await entryPage({
    path: "/app/index.html",
    entry: "/app/node_modules/.vite/deps/canopy-web.js?v=1234",
    routes: {
      "/app/node_modules/.vite/deps/canopy-web.js?v=1234": (route) => route.fulfill({ contentType: "text/javascript", body: bundle }),
      // What Vite's dev server answers for a missing file: the app's index.html.
      "/app/node_modules/.vite/deps/canopy_web_bg.wasm": (route) => { seen.push("deps"); return route.fulfill({ contentType: "text/html", body: "<!doctype html>" }); },
      "/app/node_modules/canopy-web/dev/canopy_web_bg.wasm": serve("dev", "dev/canopy_web_bg.wasm"),
      "/app/node_modules/canopy-web/canopy_web_bg.wasm": serve("package", "canopy_web_bg.wasm"),
      "/app/node_modules/canopy-web/core/canopy_web_bg.wasm": serve("core", "core/canopy_web_bg.wasm"),
    },
  });
  const ok = await page.evaluate((endpoint) => window.canopy.init({ serviceName: "vite7", endpoint }), `${h.base}/v1/traces`);
  await page.context().close();
  return { ok, seen };
}

test("Vite < 8 dev server: a pre-bundled copy in node_modules/.vite/deps finds the package's .wasm", async () => {
  assert.deepEqual(await viteDeps("pkg/index.js"), { ok: true, seen: ["deps", "package"] });
});

test("Vite < 8 dev server: the core and development entries' pre-bundled copies find their own .wasm", async () => {
  assert.deepEqual(await viteDeps("pkg/core/index.js"), { ok: true, seen: ["deps", "core"] });
  assert.deepEqual(await viteDeps("pkg/dev/index.js"), { ok: true, seen: ["deps", "dev"] });
});

test("each production glue refuses the other build's .wasm at instantiation (the import module names the build)", async () => {
  const page = await entryPage();
  const r = await page.evaluate(async () => {
    const out = {};
    for (const [glue, wasm] of [["/pkg/canopy_web.js", "/pkg/core/canopy_web_bg.wasm"], ["/pkg/core/canopy_web.js", "/pkg/canopy_web_bg.wasm"]]) {
      const m = await import(glue);
      try {
        await m.default({ module_or_path: wasm });
        out[glue] = "linked";
      } catch (e) {
        // A missing import module is a TypeError, a missing or mistyped import a LinkError.
        out[glue] = e instanceof WebAssembly.LinkError || e instanceof TypeError ? "refused" : String(e);
      }
    }
    return out;
  });
  assert.deepEqual(r, { "/pkg/canopy_web.js": "refused", "/pkg/core/canopy_web.js": "refused" });
  await page.context().close();
});
