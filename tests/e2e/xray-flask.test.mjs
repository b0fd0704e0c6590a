// xray: true end to end with the real AWS X-Ray SDK for Python (aws-xray-sdk 2.15.0, Flask 3.1.3):
// a page on the sink's origin calls a Flask backend on another 127.0.0.1 port that is wired as in
// the seed (`XRayMiddleware(app, xray_recorder)`, tests/support/xray_flask/app.py), and the segment
// the SDK sends to its daemon (a UDP socket here, via AWS_XRAY_DAEMON_ADDRESS) continues the
// browser's trace under the fetch's CLIENT span. With xray: false, Flask starts a trace of its own.
// In Chromium and Firefox. Needs .tools/xray-venv (scripts/setup.sh makes it).
// Run: node --test tests/e2e/xray-flask.test.mjs   (after ./scripts/setup.sh and ./scripts/pkg.sh)
import { describe, test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { browsers, launch, receivedSpans } from "./harness.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const PYTHON = `${root}.tools/xray-venv/bin/python`;
const APP = `${root}tests/support/xray_flask/app.py`;
const PATH = "/api/activities/home";
const SPAN_KIND_CLIENT = 3;

/** A UDP socket standing in for the X-Ray daemon: every datagram, parsed as the daemon would
 *  (`{"format":"json","version":1}` + newline + one segment document). */
async function startDaemon() {
  const socket = createSocket("udp4");
  const segments = [];
  const bad = [];
  const waiters = new Set();
  socket.on("message", (msg) => {
    const text = msg.toString("utf8");
    const nl = text.indexOf("\n");
    try {
      const header = JSON.parse(text.slice(0, nl));
      assert.deepEqual(header, { format: "json", version: 1 });
      segments.push(JSON.parse(text.slice(nl + 1)));
    } catch (e) {
      bad.push(`${e.message}: ${text.slice(0, 200)}`);
    }
    for (const w of waiters) w();
  });
  await new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", resolve);
  });
  return {
    port: socket.address().port,
    segments,
    bad,
    reset() { segments.length = 0; bad.length = 0; },
    /** The first segment `pred` accepts; fails after `ms`. */
    waitFor(what, pred, ms = 10000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const s = segments.find(pred);
          if (!s) return;
          clearTimeout(timer); waiters.delete(check); resolve(s);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${what} segment within ${ms} ms; got ${JSON.stringify(segments)}${bad.length ? `; unparsable: ${bad.join(" | ")}` : ""}`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
    close() { socket.close(); },
  };
}

/** tests/support/xray_flask/app.py on 127.0.0.1 (a free port it picks and prints), sending to `daemonPort`. */
async function startFlask(daemonPort) {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run scripts/setup.sh`);
  const env = { ...process.env, AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemonPort}`, PYTHONUNBUFFERED: "1" };
  delete env.AWS_XRAY_TRACING_NAME; delete env.AWS_XRAY_SDK_ENABLED; delete env.AWS_XRAY_URL;
  const child = spawn(PYTHON, [APP], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  child.stdout.on("data", (d) => { out += d; });
  child.stderr.on("data", (d) => { err += d; });
  const exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { clearInterval(poll); reject(new Error(`Flask did not start within 15 s:\n${out}\n${err}`)); }, 15000);
    const poll = setInterval(() => { // poll interval over Flask's output (bounded by the timer above)
      const m = /listening (\d+)/.exec(out);
      if (m) { clearTimeout(timer); clearInterval(poll); resolve(Number(m[1])); }
    }, 20);
    exited.then(({ code, signal }) => { clearTimeout(timer); clearInterval(poll); reject(new Error(`Flask exited (${code ?? signal}):\n${out}\n${err}`)); });
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    log: () => err,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** In the page: init, then loadData → fetch(flask) → json, flushed. Bounded to 20 s. */
async function loadData(page, flaskOrigin, xray) {
  let t;
  const timeout = new Promise((_, rej) => { t = setTimeout(() => rej(new Error("page code timed out after 20 s")), 20000); });
  try {
    return await Promise.race([page.evaluate(async ([origin, path, xray]) => {
      const c = window.canopy;
      c.init({ serviceName: "frontend", endpoint: "/v1/traces", propagateTraceHeaderCorsUrls: [origin], xray });
      const got = await c.startActiveSpan("loadData", async () => {
        const res = await fetch(origin + path);
        return { status: res.status, body: await res.json() };
      });
      await c.forceFlush();
      return got;
    }, [flaskOrigin, PATH, xray]), timeout]);
  } finally {
    clearTimeout(t);
  }
}

/** The exported loadData → GET (CLIENT, url.full = flask's URL) pair, with the tree checked. */
function browserSpans(h, url) {
  const spans = receivedSpans(h.sink);
  const names = spans.map((s) => `${s.name} (kind ${s.kind})`).join(", ") || "none";
  const load = spans.filter((s) => s.name === "loadData");
  assert.equal(load.length, 1, `one loadData span exported; got: ${names}`);
  const client = spans.filter((s) => s.kind === SPAN_KIND_CLIENT);
  assert.equal(client.length, 1, `one CLIENT span exported; got: ${names}`);
  const [parent, fetchSpan] = [load[0], client[0]];
  assert.equal(fetchSpan.name, "GET");
  assert.equal(fetchSpan.attributes.find((a) => a.key === "url.full")?.value.stringValue, url);
  assert.ok(!parent.parentSpanId, "loadData is the root");
  assert.equal(fetchSpan.traceId, parent.traceId, "one trace");
  assert.equal(fetchSpan.parentSpanId, parent.spanId, "GET is loadData's child");
  return { parent, fetchSpan };
}

const xrayTraceId = (otelTraceId) => `1-${otelTraceId.slice(0, 8)}-${otelTraceId.slice(8)}`;
const isFlaskGet = (url) => (s) => s.http?.request?.method === "GET" && s.http?.request?.url === url;

for (const browser of browsers()) describe(browser, () => {
  let h, daemon, flask;
  before(async () => {
    daemon = await startDaemon();
    flask = await startFlask(daemon.port);
    h = await launch(browser);
  });
  after(async () => {
    await h?.close();
    await flask?.stop();
    daemon?.close();
  });
  beforeEach(() => { h.sink.reset(); daemon.reset(); });
  /** The segment of Flask's GET `url`, within 10 s (Flask's log in the failure). */
  const flaskSegment = (url) => daemon.waitFor("Flask GET", isFlaskGet(url))
    .catch((e) => { throw new Error(`${e.message}\nFlask's log:\n${flask.log().slice(-4000)}`); });

  test("xray: true: Flask's XRayMiddleware segment continues the browser's trace under the fetch's CLIENT span", async () => {
    const url = flask.origin + PATH;
    const page = await h.page();
    const got = await loadData(page, flask.origin, true);
    assert.equal(got.status, 200);
    assert.equal(got.body[0].handle, "Andrew Brown", "the page read Flask's JSON (CORS answered)");

    const { fetchSpan } = browserSpans(h, url);
    const segment = await flaskSegment(url);
    assert.equal(segment.name, "backend-flask", "named by xray_recorder.configure(service=...)");
    assert.equal(segment.trace_id, xrayTraceId(fetchSpan.traceId), "the browser's trace, in X-Ray form");
    assert.equal(segment.parent_id, fetchSpan.spanId, "under the fetch's CLIENT span");
    assert.match(segment.id, /^[0-9a-f]{16}$/);
    assert.notEqual(segment.id, fetchSpan.spanId);
    assert.equal(segment.http.response.status, 200);
    assert.ok(segment.end_time >= segment.start_time, "a finished segment");
    const secs = parseInt(fetchSpan.traceId.slice(0, 8), 16);
    assert.ok(Math.abs(secs - segment.start_time) < 60, `the trace id's epoch seconds (${secs}) are the request's time (${segment.start_time})`);
    // Sent at all means sampled (Sampled=0 sends nothing); and it is a whole segment, not in progress.
    assert.notEqual(segment.in_progress, true);
    assert.equal(daemon.segments.filter(isFlaskGet(url)).length, 1, "one segment for the request");
    assert.deepEqual(daemon.bad, []);
    await page.context().close();
  });

  test("xray: false: Flask's segment starts a new X-Ray trace", async () => {
    const url = flask.origin + PATH;
    const page = await h.page();
    const got = await loadData(page, flask.origin, false);
    assert.equal(got.status, 200);

    const { fetchSpan } = browserSpans(h, url);
    const segment = await flaskSegment(url);
    assert.match(segment.trace_id, /^1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    assert.notEqual(segment.trace_id, xrayTraceId(fetchSpan.traceId), "not the browser's trace");
    assert.ok(!segment.trace_id.endsWith(fetchSpan.traceId.slice(8)), "not derived from the browser's trace id");
    assert.equal(segment.parent_id, undefined, "a root segment: no parent");
    assert.deepEqual(daemon.bad, []);
    await page.context().close();
  });
});
