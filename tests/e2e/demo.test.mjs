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
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SETUP_MS = 15 * 60_000; // a fresh clone: virtualenv from PyPI, npm ci, the relay's first build
const START_MS = 120_000;
const WAIT_MS = 30_000; // the browser exports every 5 s, Flask every 1 s
const STOP_MS = 20_000;

let demo, demoExit, output = "", urls = {}, groups = [], browser, stopped = false;
const timings = {};

function freePorts(n) {
  const servers = Array.from({ length: n }, () => createServer());
  return Promise.all(servers.map((s) => new Promise((ok, fail) => {
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => ok(s.address().port));
  }))).then(async (ports) => {
    await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
    return ports;
  });
}

/** Runs scripts/demo.sh with args to its end (bounded); resolves with its output. */
function runDemoScript(args, env, timeoutMs) {
  return new Promise((ok, fail) => {
    const child = spawn(join(root, "scripts", "demo.sh"), args, { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => { out += d; });
    child.stderr.on("data", (d) => { out += d; });
    const timer = setTimeout(() => {
      try { process.kill(-child.pid, "SIGKILL"); } catch (_) {}
      fail(new Error(`scripts/demo.sh ${args.join(" ")} took over ${timeoutMs / 1000} s:\n${out}`));
    }, timeoutMs);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) ok(out);
      else fail(new Error(`scripts/demo.sh ${args.join(" ")} failed (${code ?? signal}):\n${out}`));
    });
  });
}

function alive(pgid) {
  try { process.kill(-pgid, 0); return true; } catch (e) { return e.code === "EPERM"; }
}

/** Last resort (a failed stop, or the test process exiting): SIGKILL the demo and its services. */
function killAll() {
  if (stopped) return;
  for (const g of groups) { try { process.kill(-g, "SIGKILL"); } catch (_) {} }
  if (demo && demo.exitCode === null && demo.signalCode === null) { try { process.kill(-demo.pid, "SIGKILL"); } catch (_) {} }
  stopped = true;
}
process.on("exit", killAll);

async function relayJson(path) {
  const res = await fetch(`${urls.viewer}${path.replace(/^\//, "")}`);
  assert.equal(res.status, 200, `GET ${path}: ${res.status}`);
  return res.json();
}

async function until(pred, what, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${ms / 1000} s waiting for ${what}\n--- demo output ---\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Resolves with null after ms, without keeping the process alive. */
const sleep = (ms) => new Promise((r) => setTimeout(() => r(null), ms).unref());
const attr = (span, key) => span.attributes.find((a) => a.key === key)?.value;

before(async () => {
  const env = { ...process.env, NO_COLOR: "1" };
  // The test is local only: nothing goes to Honeycomb or another upstream.
  for (const k of ["HONEYCOMB_API_KEY", "CANOPY_UPSTREAM", "CANOPY_TEE", "CANOPY_QUIET", "CANOPY_LISTEN"]) delete env[k];

  let t = Date.now();
  await runDemoScript(["--setup"], env, SETUP_MS);
  timings.setup = Date.now() - t;

  const [app, backend, relay] = await freePorts(3);
  mkdirSync(join(root, "target", "demo"), { recursive: true });
  const pidfile = join(root, "target", "demo", `e2e-${process.pid}.pids`);
  t = Date.now();
  demo = spawn(join(root, "scripts", "demo.sh"), ["--no-setup"], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...env, CANOPY_DEMO_APP_PORT: String(app), CANOPY_DEMO_BACKEND_PORT: String(backend), CANOPY_DEMO_RELAY_PORT: String(relay), CANOPY_DEMO_PIDFILE: pidfile },
  });
  demoExit = new Promise((ok) => demo.on("exit", (code, signal) => ok({ code, signal })));
  demo.stdout.setEncoding("utf8");
  demo.stderr.setEncoding("utf8");
  demo.stdout.on("data", (d) => { output += d; });
  demo.stderr.on("data", (d) => { output += d; });
  await until(() => {
    if (demo.exitCode !== null) assert.fail(`scripts/demo.sh exited (${demo.exitCode}) before it was ready:\n${output}`);
    return /^demo: ready$/m.test(output);
  }, "demo: ready", START_MS);
  timings.start = Date.now() - t;
  groups = readFileSync(pidfile, "utf8").trim().split("\n").map((l) => Number(l.split(" ")[1]));
  assert.equal(groups.length, 3, "relay, backend and app each in a process group");
  urls.app = output.match(/^demo: app\s+(http:\S+)$/m)[1];
  urls.viewer = output.match(/^demo: trace viewer\s+(http:\S+)$/m)[1];
  assert.equal(urls.app, `http://127.0.0.1:${app}/`);
  assert.equal(urls.viewer, `http://127.0.0.1:${relay}/`);

  browser = await launchChromium();
}, { timeout: SETUP_MS + START_MS + 60_000 });

after(async () => {
  await browser?.close();
  if (!stopped && demo && demo.exitCode === null) {
    try { process.kill(demo.pid, "SIGTERM"); } catch (_) {}
    await Promise.race([demoExit, sleep(STOP_MS)]);
  }
  killAll();
  console.log(`# demo timings: set-up ${timings.setup} ms, start ${timings.start} ms, load to trace ${timings.trace} ms`);
});

test("the feed is one trace from the browser through Flask, nested right; the error is recorded", { timeout: 120_000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 800 } });
  const page = await context.newPage();
  const pageErrors = [];
  const feedRequests = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("request", (r) => { if (new URL(r.url()).pathname === "/api/activities/home") feedRequests.push(r.headers()["traceparent"]); });
  try {
    const t = Date.now();
    await page.goto(urls.app);
    await page.waitForSelector("#feed li", { timeout: WAIT_MS });
    assert.equal(await page.locator("#feed li").count(), 3, "the three mock activities");
    assert.match(await page.textContent("#feed"), /Cloud is very fun!/);
    await page.click("#boom");
    await page.getByRole("button", { name: "the feed broke: retry" }).waitFor({ timeout: WAIT_MS });

    assert.equal(feedRequests.length, 1, "StrictMode: the feed loads once");
    const [, traceId, fetchSpanId, flags] = (feedRequests[0] ?? "").split("-");
    assert.match(feedRequests[0] ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, "the feed request carries a sampled traceparent");

    // Wait for both exports (the browser's and Flask's) to reach the relay.
    const spans = await until(async () => {
      const res = await fetch(`${urls.viewer}api/traces/${traceId}`);
      if (res.status !== 200) return false;
      const { spans } = await res.json();
      const names = new Set(spans.map((s) => s.name));
      return ["loadData", "processData", "home-activities-mock-data"].every((n) => names.has(n)) &&
        spans.some((s) => s.kind === "client") && spans.some((s) => s.kind === "server") && spans;
    }, `trace ${traceId} with the browser's and Flask's spans`);
    // The button's click is an interaction span, and React renders (and fails) while the click
    // is dispatched: the error is recorded under it.
    const errorTrace = await until(async () => {
      const { traces } = await relayJson("/api/traces");
      const summary = traces.find((s) => s.rootName === "click button#boom");
      const trace = summary && await relayJson(`/api/traces/${summary.traceId}`);
      return trace && trace.spans.some((s) => s.name === "react.error") && trace;
    }, "the click's trace with the error boundary's span");
    timings.trace = Date.now() - t;

    // One trace id across the browser and Flask.
    assert.ok(spans.every((s) => s.traceId === traceId), "every span has the feed request's trace id");
    assert.deepEqual(new Set(spans.map((s) => s.service)), new Set(["frontend", "backend-flask"]));
    assert.equal(flags, "01");

    const one = (pred, what) => {
      const found = spans.filter(pred);
      assert.equal(found.length, 1, `one ${what}: ${JSON.stringify(spans.map((s) => [s.name, s.kind, s.service]))}`);
      return found[0];
    };
    const load = one((s) => s.name === "loadData", "loadData");
    const fetchSpan = one((s) => s.kind === "client", "fetch (CLIENT) span");
    const server = one((s) => s.kind === "server", "Flask SERVER span");
    const mock = one((s) => s.name === "home-activities-mock-data", "home-activities-mock-data");
    const processData = one((s) => s.name === "processData", "processData");

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

    // The render error, recorded by <TraceErrorBoundary>.
    const err = errorTrace.spans.find((s) => s.name === "react.error");
    assert.equal(err.parentSpanId, errorTrace.spans.find((s) => s.name === "click button#boom").spanId, "a child of the click");
    assert.equal(err.status, "error");
    const ev = err.events.find((e) => e.name === "exception");
    assert.ok(ev, "an exception event");
    assert.equal(attr(ev, "exception.message"), "the feed broke");
    assert.equal(attr(ev, "exception.type"), "Error");
    assert.match(String(attr(err, "react.component_stack")), /at App/);
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
    assert.deepEqual(viewerErrors, [], "no errors in the viewer");
  } finally {
    await context.close();
  }
});

test("Ctrl-C (SIGINT) stops the relay, the backend and the app", { timeout: STOP_MS + 10_000 }, async () => {
  assert.ok(groups.every(alive), "all running before");
  process.kill(demo.pid, "SIGINT");
  const exit = await Promise.race([demoExit, sleep(STOP_MS)]);
  assert.ok(exit, `scripts/demo.sh stopped within ${STOP_MS / 1000} s`);
  assert.equal(exit.code, 0, "Ctrl-C is the way to stop it: exit 0");
  assert.deepEqual(groups.filter(alive), [], "no process of the demo remains");
  assert.match(output, /^demo: stopped$/m);
  stopped = true;
});
