// The Leptos example end to end: examples/leptos-app (Cruddur's home feed, client-side rendered,
// traced only with #[instrument] and canopy-web's tracing layer) is built with cargo and the
// wasm-bindgen CLI, served by a small static server here that proxies /api to the demo's Flask
// backend and /v1/traces to the relay (one origin, as the React demo's Vite server does), and
// loaded in headless Chromium. The relay's /api/traces must then hold one trace with the React
// demo's shape: loadData → fetch (CLIENT) → Flask (SERVER) → home-activities-mock-data, and
// processData under loadData after the await.
// Run: node --test tests/e2e/leptos-app.test.mjs   (scripts/demo.sh --setup makes the relay and
// the Flask virtualenv; the first cargo build of the app takes about two minutes on 2 cores)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launchChromium } from "./harness.mjs";
import { feedSpans, feedTrace, freePorts, root, runBounded as run, runDemoScript, until as untilBounded } from "./demo-harness.mjs";
import { spawn } from "node:child_process";
import { createServer, request } from "node:http";
import { copyFileSync, mkdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";

const out = join(root, "target", "leptos-app");
const SETUP_MS = 15 * 60_000; // demo set-up from a fresh clone, and the app's first build
const START_MS = 60_000;
const WAIT_MS = 30_000; // the SDK exports every 5 s, Flask every 1 s

const children = [];
let server, browser, relayUrl, appUrl, output = "";

/** Starts a long-running service in its own process group (killed in `after`). */
function launch(name, cmd, args, env) {
  const child = spawn(cmd, args, { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.on("data", (d) => { output += `${name}: ${d}`; });
  child.stderr.on("data", (d) => { output += `${name}: ${d}`; });
  children.push(child);
  return child;
}

function killAll() {
  for (const c of children) { try { process.kill(-c.pid, "SIGKILL"); } catch (_) {} }
  children.length = 0;
}
process.on("exit", killAll);

/** `until` of demo-harness.mjs; a `pred` that throws (a service not listening yet) is not yet. */
const until = (pred, what, ms = WAIT_MS) =>
  untilBounded(() => pred().catch(() => false), what, ms, () => `\n--- output ---\n${output}`);

function listen(srv) {
  return new Promise((ok) => srv.listen(0, "127.0.0.1", () => ok(srv.address().port)));
}

const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };

/** The app's origin: target/leptos-app's files, /api → Flask, /v1/traces → the relay. The
 *  request goes on unchanged (Host included), as Vite's proxy does. */
function appServer(backend, relay) {
  return createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    const upstream = path.startsWith("/api/") ? backend : path === "/v1/traces" ? relay : null;
    if (upstream) {
      const u = new URL(upstream);
      const fwd = request({ host: u.hostname, port: u.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      fwd.on("error", () => { res.writeHead(502); res.end(); });
      req.pipe(fwd);
      return;
    }
    const file = normalize(join(out, path === "/" ? "index.html" : path));
    if (!file.startsWith(out)) { res.writeHead(403); res.end(); return; }
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": types[extname(file)] || "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
}

before(async () => {
  const env = { ...process.env, NO_COLOR: "1" };
  for (const k of ["HONEYCOMB_API_KEY", "CANOPY_UPSTREAM", "CANOPY_TEE", "CANOPY_QUIET", "CANOPY_LISTEN"]) delete env[k];
  // The relay and the Flask virtualenv (cached).
  await runDemoScript(["--setup"], env, SETUP_MS);
  // The app: cargo, then the wasm-bindgen CLI (the version pinned in Cargo.toml).
  await run("cargo", ["build", "--quiet", "-p", "canopy-leptos-app", "--target", "wasm32-unknown-unknown"], env, SETUP_MS);
  await run("wasm-bindgen", ["--target", "web", "--no-typescript", "--out-dir", join(out, "pkg"),
    join(root, "target", "wasm32-unknown-unknown", "debug", "canopy-leptos-app.wasm")], env, START_MS);
  mkdirSync(out, { recursive: true });
  copyFileSync(join(root, "examples", "leptos-app", "index.html"), join(out, "index.html"));

  const [relayPort, backendPort] = await freePorts(2);
  relayUrl = `http://127.0.0.1:${relayPort}`;
  const backendUrl = `http://127.0.0.1:${backendPort}`;
  launch("relay", join(root, "target", "debug", "canopy-relay"), [],
    { ...env, CANOPY_LISTEN: `127.0.0.1:${relayPort}`, CANOPY_SHUTDOWN_GRACE_MS: "3000" });
  const flaskEnv = { ...env, OTEL_SERVICE_NAME: "backend-flask", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${relayUrl}/v1/traces`,
    OTEL_BSP_SCHEDULE_DELAY: "1000", CANOPY_DEMO_BACKEND_PORT: String(backendPort), PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" };
  for (const k of ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"]) delete flaskEnv[k];
  launch("backend", join(root, "target", "demo", "venv", "bin", "python"), [join(root, "examples", "backend-flask", "app.py")], flaskEnv);
  await until(async () => (await fetch(`${relayUrl}/healthz`)).ok, "the relay", START_MS);
  await until(async () => (await fetch(`${backendUrl}/healthz`)).ok, "Flask", START_MS);

  server = appServer(backendUrl, relayUrl);
  appUrl = `http://127.0.0.1:${await listen(server)}/`;
  browser = await launchChromium();
}, { timeout: 2 * SETUP_MS + 3 * START_MS });

after(async () => {
  await browser?.close();
  server?.close();
  killAll();
});

const attr = (span, key) => span.attributes.find((a) => a.key === key)?.value;

test("the Leptos feed is one trace from #[instrument] through Flask, nested right", { timeout: 120_000 }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const pageErrors = [];
  const feedRequests = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") pageErrors.push(`console: ${m.text()}`); });
  page.on("request", (r) => { if (new URL(r.url()).pathname === "/api/activities/home") feedRequests.push(r.headers()["traceparent"]); });
  try {
    await page.goto(appUrl);
    await page.waitForSelector("#feed li", { timeout: WAIT_MS });
    assert.equal(await page.locator("#feed li").count(), 3, "the three mock activities");
    assert.match(await page.textContent("#feed"), /Cloud is very fun!/);

    assert.equal(feedRequests.length, 1, "the feed loads once");
    const [, traceId, fetchSpanId, flags] = (feedRequests[0] ?? "").split("-");
    assert.match(feedRequests[0] ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, "gloo-net's request carries a sampled traceparent");
    assert.equal(flags, "01");

    const spans = await feedTrace(`${relayUrl}/`, traceId, until);

    const { load, fetchSpan, server, mock, processData } = feedSpans(spans);

    assert.ok(spans.every((s) => s.traceId === traceId), "one trace id from the browser through Flask");
    assert.deepEqual(new Set(spans.map((s) => s.service)), new Set(["frontend-leptos", "backend-flask"]));
    assert.equal(load.parentSpanId, undefined, "loadData is the root");
    assert.equal(attr(load, "level"), "INFO");
    assert.equal(attr(load, "code.namespace"), "canopy_leptos_app::app", "the tracing target");
    assert.equal(fetchSpan.parentSpanId, load.spanId, "the fetch span's parent is loadData (#[instrument] across the await)");
    assert.equal(fetchSpan.spanId, fetchSpanId, "the traceparent sent names the fetch span");
    assert.match(String(attr(fetchSpan, "url.full")), /\/api\/activities\/home$/);
    assert.equal(attr(fetchSpan, "http.response.status_code"), 200);
    assert.equal(server.service, "backend-flask");
    assert.equal(server.parentSpanId, fetchSpan.spanId, "the Flask server span's parent is the fetch span");
    assert.equal(mock.parentSpanId, server.spanId, "home-activities-mock-data is a child of the Flask server span");
    assert.equal(processData.parentSpanId, load.spanId, "processData (after the await) is a child of loadData");
    assert.ok(BigInt(processData.startTimeUnixNano) >= BigInt(fetchSpan.endTimeUnixNano), "processData starts after the fetch ended");
    assert.equal(attr(processData, "app.activities"), 3);
    assert.equal(processData.events.find((e) => e.name === "sorted") && true, true, "the info! event");
    assert.equal(spans.length, 5, `nothing else in the trace: ${spans.map((s) => s.name).join(", ")}`);
    assert.deepEqual(pageErrors, [], "no page errors or warnings");
  } finally {
    await context.close();
  }
});
