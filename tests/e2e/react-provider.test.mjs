// canopy-web/react in headless Chromium: <TraceProvider> under React.StrictMode, the hooks, and
// <TraceErrorBoundary>. The page (tests/e2e/react-app/) is bundled with esbuild against pkg/
// (resolved through package.json's exports, as an app resolves the installed package) and
// React's development build, so StrictMode really runs every effect twice.
// Run: node --test tests/e2e/   (after `make pkg`)
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, rm, symlink } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { launch, receivedSpans, attr, pageSession } from "./harness.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const WAIT_MS = 10000;
const outName = `target/e2e-react-${process.pid}`;
const out = `${root}${outName}`;

let h;
before(async () => {
  await rm(out, { recursive: true, force: true });
  await mkdir(`${out}/node_modules`, { recursive: true });
  await symlink(`${root}pkg`, `${out}/node_modules/canopy-web`, "dir");
  const { build } = await import("../../tools/node_modules/esbuild/lib/main.js");
  await build({
    entryPoints: [`${root}tests/e2e/react-app/app.jsx`],
    outfile: `${out}/app.js`,
    bundle: true,
    format: "esm",
    jsx: "automatic",
    define: { "process.env.NODE_ENV": '"development"' },
    // CANOPY_REACT_NODE_MODULES: another React to test against (e.g. a node_modules with react@18).
    nodePaths: [`${out}/node_modules`, ...(process.env.CANOPY_REACT_NODE_MODULES ? [process.env.CANOPY_REACT_NODE_MODULES] : []), `${root}tools/node_modules`],
    logLevel: "error",
  });
  // esbuild leaves `new URL("canopy_web_bg.wasm", import.meta.url)` alone: the .wasm goes next to the bundle.
  await copyFile(`${root}pkg/canopy_web_bg.wasm`, `${out}/canopy_web_bg.wasm`);
  for (const f of ["index.html", "data.json"]) await copyFile(`${root}tests/e2e/react-app/${f}`, `${out}/${f}`);
  h = await launch();
});
after(async () => {
  await h?.close();
  await rm(out, { recursive: true, force: true });
});
beforeEach(() => { h.sink.reset(); });

/** A fresh page; `requests` collects the requests for data.json with their traceparent headers. */
async function open({ routes = {} } = {}) {
  const context = await h.browser.newContext();
  const page = await context.newPage();
  page.log = [];
  page.requests = [];
  page.on("console", (m) => page.log.push({ type: m.type(), text: m.text() }));
  page.on("pageerror", (e) => page.log.push({ type: "pageerror", text: String(e) }));
  page.on("request", (r) => {
    if (r.url().endsWith("/data.json")) page.requests.push({ type: r.resourceType(), traceparent: r.headers()["traceparent"] });
  });
  for (const [url, handler] of Object.entries(routes)) await page.route(`${h.base}${url}`, handler);
  await page.goto(`${h.base}/${outName}/index.html`);
  await page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: WAIT_MS });
  return page;
}

async function until(pred, what) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Both StrictMode runs of the feed's effect are done: 2 loadData callbacks settled, 2 XHRs ended. */
async function feedSettled(page) {
  await page.waitForFunction(() => window.loadsDone === 2 && window.xhrsDone === 2, null, { timeout: WAIT_MS });
  assert.equal(page.requests.length, 4, "2 fetches and 2 XHRs");
}

const named = (spans, name) => spans.filter((s) => s.name === name);
const one = (spans, name) => {
  const found = named(spans, name);
  assert.equal(found.length, 1, `exactly one ${name}; got ${spans.map((s) => s.name).join(", ")}`);
  return found[0];
};
const dataSpans = (spans) => spans.filter((s) => s.kind === 3 && String(attr(s, "url.full")).endsWith("/data.json"));
const warnings = (page) => page.log.filter((m) => m.type === "warning" && /canopy/.test(m.text)).map((m) => m.text);

/** Each traced request carries one traceparent naming its own CLIENT span; returns those spans. */
function checkPropagation(requests, spans) {
  const clients = dataSpans(spans);
  assert.equal(clients.length, requests.length, `one CLIENT span per request (${requests.length} requests)`);
  const ids = new Set();
  for (const req of requests) {
    assert.match(req.traceparent ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, "exactly one traceparent value");
    const [, traceId, spanId] = req.traceparent.split("-");
    const span = clients.find((s) => s.spanId === spanId);
    assert.ok(span, `the traceparent names a CLIENT span (${req.traceparent})`);
    assert.equal(span.traceId, traceId);
    ids.add(spanId);
  }
  assert.equal(ids.size, requests.length, "no two requests share a span");
  return clients;
}

test("StrictMode: one init, one fetch and XHR wrapper, one pipeline; the feed's spans nest", async () => {
  const page = await open();
  await page.evaluate(() => window.harness.mount("feed"));
  await page.waitForSelector("#feed", { timeout: WAIT_MS });
  await feedSettled(page);
  const r = await page.evaluate(async () => {
    const state = window.fetch[Symbol.for("canopy.fetch")];
    const result = {
      effectRuns: window.effectRuns,
      fetchWrappedOnce: !!state && state.original === window.nativeFetch,
      xhrWrapped: XMLHttpRequest.prototype.send !== window.nativeXhrSend,
    };
    await window.canopy.forceFlush();
    return result;
  });
  assert.equal(r.effectRuns, 2, "StrictMode ran the feed's effect twice (the test exercises the double mount)");
  assert.ok(r.fetchWrappedOnce, "fetch is wrapped once, around the native fetch");
  assert.ok(r.xhrWrapped);
  await until(() => h.sink.received.length >= 1, "the export");
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(h.sink.received.length, 1, "one export request for one flush");
  const spans = receivedSpans(h.sink);
  assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length, "no span twice");
  const clients = checkPropagation(page.requests, spans);
  const loads = named(spans, "loadData");
  assert.equal(loads.length, 2);
  const fetches = clients.filter((c) => loads.some((l) => l.spanId === c.parentSpanId));
  assert.equal(fetches.length, 2, "each loadData's fetch is its child");
  for (const p of named(spans, "processData")) {
    assert.ok(loads.some((l) => l.spanId === p.parentSpanId && l.traceId === p.traceId), "processData (after an await) is a child of loadData");
    assert.equal(attr(p, "feed.items"), 1);
  }
  assert.equal(attr({ attributes: spans[0].resource.attributes }, "service.name"), "react-test");
  assert.deepEqual(warnings(page), [], "no 'init called while already running' or any other warning");
  await page.context().close();
});

test("TraceErrorBoundary records the exception and component stack on an error span, then renders the fallback", async () => {
  const page = await open();
  await page.evaluate(() => window.harness.mount("errors"));
  await page.click("#bomb", { timeout: WAIT_MS });
  await page.waitForSelector("#fallback", { timeout: WAIT_MS });
  assert.match(await page.textContent("#fallback"), /^kaboom bomb/);
  assert.ok(await page.isVisible("#bomb2"), "the other boundary's children still render");
  await page.click("#bomb2");
  await page.waitForSelector("#fallback2", { timeout: WAIT_MS });
  const seen = await page.evaluate(() => window.onErrorSeen);
  await page.click("#reset");
  await page.waitForSelector("#bomb", { timeout: WAIT_MS });
  await page.evaluate(() => window.canopy.forceFlush());
  const spans = await until(() => {
    const s = receivedSpans(h.sink);
    return s.some((x) => x.name === "sidebar.error") && s;
  }, "the error spans");
  const err = one(spans, "react.error");
  assert.equal(err.status.code, 2);
  assert.equal(err.status.message, "kaboom bomb");
  const ex = err.events.find((e) => e.name === "exception");
  assert.ok(ex, "an exception event");
  assert.equal(attr(ex, "exception.type"), "Error");
  assert.equal(attr(ex, "exception.message"), "kaboom bomb");
  assert.match(attr(ex, "exception.stacktrace"), /Bomb/);
  const stack = attr(err, "react.component_stack");
  assert.match(stack, /at Bomb/, "the component stack names the component that threw");
  assert.match(stack, /at TraceErrorBoundary/);
  assert.equal(attr(err, "app.area"), "feed");
  assert.deepEqual(seen, { message: "kaboom bomb", traceId: err.traceId }, "onError gets the error and the span");
  const side = one(spans, "sidebar.error");
  assert.equal(side.status.message, "kaboom bomb2");
  await page.context().close();
});

test("TraceErrorBoundary does not record again an error a failing startActiveSpan recorded", async () => {
  const page = await open();
  await page.evaluate(() => window.harness.mount("errors"));
  await page.click("#bomb3", { timeout: WAIT_MS });
  await page.waitForSelector("#fallback3", { timeout: WAIT_MS });
  assert.equal(await page.evaluate(() => window.saveErrorSpan), "none", "onError gets no span: nothing recorded");
  await page.click("#bomb", { timeout: WAIT_MS }); // a fresh error after it, recorded: the export's end marker
  await page.waitForSelector("#fallback", { timeout: WAIT_MS });
  await page.evaluate(() => window.canopy.forceFlush());
  const spans = await until(() => {
    const s = receivedSpans(h.sink);
    return s.some((x) => x.name === "react.error") && s;
  }, "the spans");
  const save = one(spans, "save");
  assert.equal(save.status.code, 2);
  assert.equal(attr(save.events.find((e) => e.name === "exception"), "exception.message"), "kaboom save");
  assert.equal(named(spans, "save.error").length, 0, "the boundary recorded nothing for it");
  const exceptions = spans.flatMap((s) => (s.events || []).filter((e) => e.name === "exception").map((e) => attr(e, "exception.message")));
  assert.equal(exceptions.filter((m) => m === "kaboom save").length, 1, "recorded once in all");
  await page.context().close();
});

test("unmount flushes the pending spans and makes fetch and XMLHttpRequest pass straight through; a remount starts again", async () => {
  const page = await open();
  await page.evaluate(() => window.harness.mount("feed"));
  await page.waitForSelector("#feed", { timeout: WAIT_MS });
  await feedSettled(page);
  // Only this page's spans: an earlier test's closed page may still deliver its own now.
  const session = await pageSession(page);
  assert.equal(receivedSpans(h.sink).filter((s) => attr(s, "session.id") === session).length, 0, "nothing exported yet (60 s delay)");
  await page.evaluate(() => window.harness.unmount());
  const spans = await until(() => {
    const s = receivedSpans(h.sink);
    return named(s, "loadData").length === 2 && named(s, "processData").length === 2 && s;
  }, "the flush on unmount");
  checkPropagation(page.requests, spans);
  const after = await page.evaluate(async () => {
    const restored = { fetch: window.fetch === window.nativeFetch, xhr: XMLHttpRequest.prototype.send === window.nativeXhrSend, running: window.canopy.isRunning() };
    await fetch("data.json").then((r) => r.text());
    await new Promise((resolve) => {
      const x = new XMLHttpRequest();
      x.open("GET", "data.json");
      x.onloadend = resolve;
      x.send();
    });
    return restored;
  });
  assert.deepEqual(after, { fetch: true, xhr: true, running: false });
  assert.deepEqual(page.requests.slice(4).map((r) => r.traceparent), [undefined, undefined], "no traceparent after unmount");
  // This page's export requests (an earlier test's closed page may deliver its own meanwhile).
  const requestsOfPage = () => h.sink.received.filter((r) => receivedSpans({ received: [r] }).some((s) => attr(s, "session.id") === session));
  const exported = requestsOfPage().length;
  await page.evaluate(() => window.canopy.forceFlush());
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(requestsOfPage().length, exported, "nothing more is exported");

  h.sink.reset();
  await page.evaluate(() => window.harness.mount("clicker"));
  await page.click("#click", { timeout: WAIT_MS });
  await page.waitForSelector('#click[data-n="1"]', { timeout: WAIT_MS });
  const again = await page.evaluate(async () => {
    await window.lastClick;
    const state = window.fetch[Symbol.for("canopy.fetch")];
    await window.canopy.forceFlush();
    return { running: window.canopy.isRunning(), wrappedOnce: !!state && state.original === window.nativeFetch };
  });
  assert.deepEqual(again, { running: true, wrappedOnce: true });
  const s2 = await until(() => named(receivedSpans(h.sink), "afterAwait").length === 1 && receivedSpans(h.sink), "spans after the remount");
  one(s2, "click");
  assert.equal(requestsOfPage().length, 1, "one export after the remount");
  assert.deepEqual(warnings(page), []);
  await page.context().close();
});

test("useTracedCallback: a stable callback whose span parents the fetch and, after an await, its children", async () => {
  const page = await open();
  await page.evaluate(() => window.harness.mount("clicker"));
  await page.click("#click", { timeout: WAIT_MS });
  await page.waitForSelector('#click[data-n="1"]', { timeout: WAIT_MS });
  await page.click("#click");
  await page.waitForSelector('#click[data-n="2"]', { timeout: WAIT_MS });
  const r = await page.evaluate(async () => {
    const value = await window.lastClick;
    await window.canopy.forceFlush();
    return { value, stable: window.stable };
  });
  assert.equal(r.value, "click 1", "the callback returns fn's value and sees the latest render");
  assert.equal(r.stable, true, "the same callback and tracer on every render");
  const spans = await until(() => named(receivedSpans(h.sink), "afterAwait").length === 2 && receivedSpans(h.sink), "the click spans");
  const clicks = named(spans, "click");
  assert.equal(clicks.length, 2);
  for (const c of clicks) assert.equal(attr(c, "ui.action"), "load");
  const clients = checkPropagation(page.requests, spans);
  for (const c of clients) assert.ok(clicks.some((k) => k.spanId === c.parentSpanId), "the fetch is a child of its click");
  for (const a of named(spans, "afterAwait")) assert.ok(clicks.some((k) => k.spanId === a.parentSpanId));
  assert.equal(new Set(clicks.map((c) => c.traceId)).size, 2, "one trace per click");
  await page.context().close();
});

// Server rendering (Next.js, renderToString): the provider renders its children on the server, and
// hydration must find them, not the fallback, whatever waitMillis says (a mismatch made React throw
// the server's HTML away, or with the provider at the root, show the page twice).
test("children rendered by the server are hydrated at once, with no mismatch", async () => {
  const wasmPath = `/${outName}/canopy_web_bg.wasm`;
  // The .wasm is held back until the children have mounted: no timing decides the test.
  let release;
  const held = new Promise((r) => { release = r; });
  const page = await open({ routes: { [wasmPath]: async (route) => { await held; await route.continue(); } } });
  // What react-dom/server renders for the same tree on a server.
  await page.evaluate(() => window.harness.hydrate("early", '<p id="early">early</p>'));
  try {
    await page.waitForFunction(() => window.earlyRunning !== undefined, null, { timeout: WAIT_MS });
  } finally {
    release();
  }
  assert.equal(await page.evaluate(() => window.earlyRunning), false, "hydrated before Canopy ran");
  await page.waitForFunction(() => window.canopy.isRunning(), null, { timeout: WAIT_MS });
  assert.deepEqual(await page.evaluate(() => window.hydrationErrors), [], "no hydration error");
  assert.equal(await page.evaluate(() => document.getElementById("root").innerHTML), '<p id="early">early</p>', "the server's HTML, once");
  assert.deepEqual(page.log.filter((m) => m.type === "error" || m.type === "pageerror"), []);
  // The spans the hydrated children started before Canopy ran are kept (and leave before the
  // page closes, so that the next test does not count them).
  await page.evaluate(() => window.canopy.forceFlush());
  await until(() => named(receivedSpans(h.sink), "early").filter((s) => attr(s, "running") === false).length >= 2, "the hydrated children's spans");
  await page.context().close();
});

test("children wait for Canopy (fallback meanwhile); with waitMillis 0 they render at once and early spans are kept", async () => {
  const slowWasm = async (route) => {
    await new Promise((r) => setTimeout(r, 400));
    await route.continue();
  };
  const wasmPath = `/${outName}/canopy_web_bg.wasm`;
  const page = await open({ routes: { [wasmPath]: slowWasm } });
  await page.evaluate(() => window.harness.mount("early"));
  await page.waitForSelector("#waiting", { timeout: WAIT_MS });
  await page.waitForSelector("#early", { timeout: WAIT_MS });
  assert.equal(await page.evaluate(() => window.earlyRunning), true, "children mounted once Canopy ran");
  await page.context().close();

  const page2 = await open({ routes: { [wasmPath]: slowWasm } });
  await page2.evaluate(() => window.harness.mount("early", { waitMillis: 0 }));
  await page2.waitForSelector("#early", { timeout: WAIT_MS });
  assert.equal(await page2.evaluate(() => window.earlyRunning), false, "children mounted before Canopy ran");
  await page2.evaluate(() => window.canopy.forceFlush());
  // (The first page's spans may arrive too: closing it sent them on page hide. Theirs say running: true.)
  const earlyOnes = () => named(receivedSpans(h.sink), "early").filter((s) => attr(s, "running") === false);
  await until(() => earlyOnes().length >= 2, "the early spans");
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(earlyOnes().length, 2, "StrictMode's two effect runs, each recorded once");
  await page2.context().close();
});
