// The demo end to end, as `make demo` runs it: scripts/demo.sh sets up (cached under target/ and
// examples/react-app/node_modules, so fast when warm) and starts the relay, the Flask backend and
// the Vite app on free ports. Headless Chromium loads the feed and clicks the error button; the
// relay's /api/traces must then hold one trace from the browser through Flask, nested right, and
// the recorded error. A screenshot of the viewer showing that trace goes to target/demo-trace.png.
// Ctrl-C (SIGINT) must stop every process the demo started.
// Run: node --test tests/e2e/demo.test.mjs   (after `make pkg`, or the set-up builds it; needs
// PyPI and the npm registry on the first run)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launchChromium } from "./harness.mjs";
import { SETUP_MS, START_MS, STOP_MS, alive, feedSpans, feedTrace, root, startDemo, timeLimit, until as untilBounded } from "./demo-harness.mjs";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const WAIT_MS = 30_000; // the browser exports every 5 s, Flask every 1 s

let d, urls = {}, browser;

async function relayJson(path) {
  const res = await fetch(`${urls.viewer}${path.replace(/^\//, "")}`);
  assert.equal(res.status, 200, `GET ${path}: ${res.status}`);
  return res.json();
}

const until = (pred, what, ms = WAIT_MS) => untilBounded(pred, what, ms, d.context);
const attr = (span, key) => span.attributes.find((a) => a.key === key)?.value;
const timings = {};

before(async () => {
  // The test is local only: nothing goes to Honeycomb or another upstream (startDemo drops the
  // developer's service variables).
  d = await startDemo();
  urls = d.urls;
  Object.assign(timings, d.timings);
  browser = await launchChromium();
}, { timeout: SETUP_MS + START_MS + 60_000 });

after(async () => {
  await browser?.close();
  await d?.stop();
  console.log(`# demo timings: set-up ${timings.setup} ms, start ${timings.start} ms, load to trace ${timings.trace} ms`);
});

test("the feed is one trace from the browser through Flask, nested right; the error is recorded", { timeout: 120_000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 800 } });
  const page = await context.newPage();
  const pageErrors = [];
  const feedRequests = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  const breakRequests = [];
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.pathname === "/api/activities/home") (u.search ? breakRequests : feedRequests).push(r.headers()["traceparent"]);
  });
  try {
    const t = Date.now();
    await page.goto(urls.app);
    await page.waitForSelector("#feed li", { timeout: WAIT_MS });
    assert.equal(await page.locator("#feed li").count(), 3, "the three mock activities");
    assert.match(await page.textContent("#feed"), /Cloud is very fun!/);
    // A route change and back (History API, as a router does it).
    await page.click("#nav-notifications");
    await page.waitForSelector("#notifications", { timeout: WAIT_MS });
    await page.click("#nav-home");
    await page.waitForSelector("#feed li", { timeout: WAIT_MS });
    await page.click("#boom");
    await page.getByRole("button", { name: "the feed broke (HTTP 500): retry" }).waitFor({ timeout: WAIT_MS });

    assert.equal(feedRequests.length, 1, "StrictMode: the feed loads once");
    const [, traceId, fetchSpanId, flags] = (feedRequests[0] ?? "").split("-");
    assert.match(feedRequests[0] ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, "the feed request carries a sampled traceparent");

    // Wait for both exports (the browser's and Flask's) to reach the relay.
    const spans = await feedTrace(urls.viewer, traceId, until);
    assert.equal(breakRequests.length, 1, "break the feed: one failing request");
    const breakTraceId = breakRequests[0].split("-")[1];
    const errorTrace = await until(async () => {
      const res = await fetch(`${urls.viewer}api/traces/${breakTraceId}`);
      if (res.status !== 200) return false;
      const t = await res.json();
      const names = new Set(t.spans.map((s) => s.name));
      return names.has("breakFeed") && t.spans.some((s) => s.kind === "server") && t;
    }, "the break-the-feed trace");
    timings.trace = Date.now() - t;

    // One trace id across the browser and Flask.
    assert.ok(spans.every((s) => s.traceId === traceId), "every span has the feed request's trace id");
    assert.deepEqual(new Set(spans.map((s) => s.service)), new Set(["frontend", "backend-flask"]));
    assert.equal(flags, "01");

    const { load, fetchSpan, server, mock, processData } = feedSpans(spans);

    assert.equal(load.parentSpanId, undefined, "loadData is the root");
    assert.equal(load.service, "frontend");
    assert.equal(fetchSpan.parentSpanId, load.spanId, "the fetch span's parent is loadData");
    assert.equal(fetchSpan.spanId, fetchSpanId, "the traceparent sent names the fetch span");
    assert.match(String(attr(fetchSpan, "url.full")), /\/api\/activities\/home$/);
    assert.equal(attr(fetchSpan, "http.response.status_code"), 200);
    assert.equal(server.service, "backend-flask");
    assert.equal(server.parentSpanId, fetchSpan.spanId, "the Flask server span's parent is the fetch span");
    assert.equal(attr(server, "http.route"), "/api/activities/home");
    assert.equal(mock.service, "backend-flask");
    assert.equal(mock.parentSpanId, server.spanId, "home-activities-mock-data is a child of the Flask server span");
    assert.match(String(attr(mock, "app.now")), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/, "with app.now");
    assert.equal(processData.parentSpanId, load.spanId, "processData (after an await) is a child of loadData");
    assert.ok(BigInt(processData.startTimeUnixNano) >= BigInt(fetchSpan.startTimeUnixNano), "processData comes after the fetch started");
    assert.equal(spans.length, 5, `nothing else in the trace: ${spans.map((s) => s.name).join(", ")}`);

    // "break the feed": one trace with the browser's exception (and its stack), the failing
    // request and Flask's exception; <TraceErrorBoundary> then shows the fallback without
    // recording the same error twice.
    const err = errorTrace.spans.find((s) => s.name === "breakFeed");
    assert.equal(err.status, "error");
    const ev = err.events.find((e) => e.name === "exception");
    assert.ok(ev, "an exception event");
    assert.equal(attr(ev, "exception.message"), "the feed broke (HTTP 500)");
    assert.equal(attr(ev, "exception.type"), "Error");
    assert.match(String(attr(ev, "exception.stacktrace")), /App\.jsx/, "with the stack");
    const failedFetch = errorTrace.spans.find((s) => s.kind === "client");
    assert.equal(failedFetch.parentSpanId, err.spanId);
    assert.equal(attr(failedFetch, "http.response.status_code"), 500);
    const flaskErr = errorTrace.spans.find((s) => s.kind === "server");
    assert.equal(flaskErr.parentSpanId, failedFetch.spanId, "Flask continues the failing request's trace");
    assert.ok(flaskErr.events.some((e) => e.name === "exception" && /RuntimeError/.test(String(attr(e, "exception.type")))), "Flask's exception");
    const { traces } = await relayJson("/api/traces");
    assert.ok(!traces.some((t) => t.rootName === "react.error"), "the boundary does not record it again");
    const click = errorTrace.spans.find((s) => s.name === "click button#boom");
    assert.ok(click, "the click on the button is an interaction span");
    assert.equal(err.parentSpanId, click.spanId, "breakFeed, started by its handler, is the click's child");

    // What the page records with no code: the page load, the route changes (each under the click
    // that caused it), Web Vitals, and one session.id on every span.
    const pageLoad = await until(async () => {
      const { traces } = await relayJson("/api/traces");
      const s = traces.find((x) => x.rootName === "documentLoad");
      return s && relayJson(`/api/traces/${s.traceId}`);
    }, "the page load trace");
    const docLoad = pageLoad.spans.find((s) => s.name === "documentLoad");
    assert.ok(pageLoad.spans.some((s) => s.name === "documentFetch" && s.parentSpanId === docLoad.spanId), "documentFetch under documentLoad");
    assert.ok(pageLoad.spans.some((s) => s.name === "resourceFetch" && /\.js/.test(String(attr(s, "http.url")))), "the app's scripts as resourceFetch");
    const routes = [];
    for (const name of ["click button#nav-notifications", "click button#nav-home"]) {
      const t = await until(async () => {
        const { traces } = await relayJson("/api/traces");
        const s = traces.find((x) => x.rootName === name);
        const tr = s && await relayJson(`/api/traces/${s.traceId}`);
        return tr && tr.spans.some((x) => x.name === "routeChange") && tr;
      }, `the ${name} trace with its route change`);
      const route = t.spans.find((x) => x.name === "routeChange");
      assert.equal(route.parentSpanId, t.spans.find((x) => x.name === name).spanId, "the route change is the click's child");
      routes.push([attr(route, "url.path"), attr(route, "canopy.route.previous_path")]);
    }
    assert.deepEqual(routes, [["/notifications", "/"], ["/", "/notifications"]]);
    const vitals = await until(async () => {
      const { traces } = await relayJson("/api/traces");
      const names = new Set(traces.map((x) => x.rootName));
      return ["FCP", "TTFB"].every((n) => names.has(n)) && names;
    }, "Web Vitals (FCP, TTFB) as spans");
    assert.ok(vitals.has("FCP"));
    const sessions = new Set([...spans, ...errorTrace.spans, ...pageLoad.spans].filter((s) => s.service === "frontend").map((s) => attr(s, "session.id")));
    assert.equal(sessions.size, 1, `one session across the page's spans: ${[...sessions]}`);
    assert.match([...sessions][0], /^[0-9a-f]{32}$/);
    // Its log lines (they may come in a later export than the spans) and its exceptions with the
    // stack parsed into frames, beside the spans.
    const withLogs = await until(async () => {
      const t = await relayJson(`/api/traces/${breakTraceId}`);
      return t.logs.length >= 2 && t;
    }, "the break-the-feed log lines");
    assert.deepEqual(withLogs.logs.map((l) => [l.severity, l.body]), [["WARN", "breaking the feed on purpose"], ["ERROR", "the feed failed"]]);
    assert.ok(withLogs.logs.every((l) => l.spanId === err.spanId), "each log line carries the span it was written in");
    const browserEx = withLogs.exceptions.find((x) => x.spanId === err.spanId);
    assert.equal(browserEx.message, "the feed broke (HTTP 500)");
    assert.ok(browserEx.frames.some((f) => /App\.jsx/.test(f.filename) && f.lineno > 0), `parsed frames: ${JSON.stringify(browserEx.frames)}`);
    assert.ok(withLogs.exceptions.some((x) => x.spanId === flaskErr.spanId), "Flask's exception is listed too");
    assert.deepEqual(pageErrors, [], "no uncaught page errors");

    // The viewer shows that trace as a nested waterfall.
    const viewer = await context.newPage();
    const viewerErrors = [];
    viewer.on("pageerror", (e) => viewerErrors.push(String(e)));
    await viewer.goto(`${urls.viewer}#trace/${traceId}`);
    await until(async () => (await viewer.locator("#waterfall li.span").count()) === spans.length, "the waterfall");
    const tree = await viewer.evaluate(() => [...document.querySelectorAll("#waterfall li.span")].map((li) => ({
      id: li.dataset.spanId,
      domParent: li.parentElement.closest("li.span")?.dataset.spanId ?? "",
    })));
    for (const s of spans) {
      assert.equal(tree.find((n) => n.id === s.spanId)?.domParent, s.parentSpanId ?? "", `${s.name} sits under its parent in the waterfall`);
    }
    await viewer.locator(`li[data-span-id="${mock.spanId}"] > .row`).click();
    await viewer.waitForSelector("#detail-name");
    assert.equal(await viewer.textContent("#detail-name"), "home-activities-mock-data");
    assert.match(await viewer.textContent("#details"), /app\.now/);
    mkdirSync(join(root, "target"), { recursive: true });
    await viewer.screenshot({ path: join(root, "target", "demo-trace.png"), fullPage: true });
    // The break-the-feed trace: the exception and the log lines under their span.
    await viewer.goto(`${urls.viewer}#trace/${breakTraceId}`);
    await until(async () => (await viewer.locator("ul.logs li.log").count()) === 2, "the log lines in the viewer");
    assert.match(await viewer.textContent(`li[data-span-id="${err.spanId}"] ul.exceptions`), /Error.*the feed broke \(HTTP 500\).*App\.jsx/s);
    await viewer.locator(`li[data-span-id="${err.spanId}"] > .row`).click();
    await viewer.waitForSelector("table.frames");
    assert.match(await viewer.textContent("#details"), /Exceptions \(1\)[\s\S]*App\.jsx[\s\S]*Logs \(2\)/);
    assert.ok(!/\bnull\b/.test(await viewer.textContent("main")), "no stray text in the page");
    await viewer.screenshot({ path: join(root, "target", "demo-break.png"), fullPage: true });
    assert.deepEqual(viewerErrors, [], "no errors in the viewer");
  } finally {
    await context.close();
  }
});

test("Ctrl-C (SIGINT) stops the relay, the backend and the app", { timeout: STOP_MS + 10_000 }, async () => {
  assert.ok(d.groups.every(alive), "all running before");
  process.kill(d.demo.pid, "SIGINT");
  const exit = await Promise.race([d.exit, timeLimit(STOP_MS)]);
  assert.ok(exit, `scripts/demo.sh stopped within ${STOP_MS / 1000} s`);
  assert.equal(exit.code, 0, "Ctrl-C is the way to stop it: exit 0");
  assert.deepEqual(d.groups.filter(alive), [], "no process of the demo remains");
  assert.match(d.output(), /^demo: stopped$/m);
  d.stopped = true;
});
