// The demo's "break the feed" in all four of the seed's services (issue 11), with each service's
// variables set as a user sets them and local stand-ins answering on 127.0.0.1:
//   Honeycomb        HONEYCOMB_API_KEY + CANOPY_UPSTREAM → a recording OTLP/HTTP server
//   Rollbar          ROLLBAR_ACCESS_TOKEN + ROLLBAR_ENDPOINT → a recording item API
//   AWS X-Ray        CANOPY_XRAY_DAEMON → a UDP socket standing in for the daemon
//   CloudWatch Logs  CANOPY_CLOUDWATCH_LOG_GROUP + AWS_ENDPOINT_URL → moto's AWS emulator
//                    (.tools/moto-venv, made by scripts/setup.sh), read back with GetLogEvents
// One click, one trace: each service gets its part, carrying that trace's id.
// Run: node --test tests/e2e/demo-services.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { launchChromium } from "./harness.mjs";
import { SETUP_MS, START_MS, root, startDemo, until as untilBounded } from "./demo-harness.mjs";

const WAIT_MS = 30_000;
const GROUP = "/canopy/demo-e2e";
let d, browser, moto;
const upstream = [], rollbar = [], xray = [];
let upstreamServer, rollbarServer, udp;

const until = (pred, what, ms = WAIT_MS) => untilBounded(pred, what, ms, () => d ? d.context() : "");

/** A recording HTTP server on 127.0.0.1 answering `answer` (status, content type, body). */
function recorder(into, answer) {
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    let body = Buffer.concat(chunks);
    if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
    into.push({ path: req.url, headers: req.headers, body });
    const [status, type, text] = answer;
    res.writeHead(status, { "content-type": type });
    res.end(text);
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

/** moto's server on a port it picks (read from its "Running on" line), bounded. */
function startMoto() {
  const bin = join(root, ".tools/moto-venv/bin/moto_server");
  assert.ok(existsSync(bin), `${bin} is missing: run scripts/setup.sh (it makes .tools/moto-venv with moto, the AWS emulator)`);
  const child = spawn(bin, ["-H", "127.0.0.1", "-p", "0"], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  let err = "";
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => { child.kill("SIGKILL"); fail(new Error(`moto_server did not start within 30 s:\n${err}`)); }, 30_000);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (t) => {
      err += t;
      const m = /Running on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) { clearTimeout(timer); ok({ child, url: m[1] }); }
    });
    child.on("exit", (code) => { clearTimeout(timer); fail(new Error(`moto_server exited (${code}):\n${err}`)); });
  });
}

/** CloudWatch Logs' GetLogEvents against moto (which checks no signature, only the service scope). */
async function getLogEvents() {
  const res = await fetch(moto.url, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": "Logs_20140328.GetLogEvents",
      authorization: "AWS4-HMAC-SHA256 Credential=testing/20261206/us-east-1/logs/aws4_request, SignedHeaders=host, Signature=0",
    },
    body: JSON.stringify({ logGroupName: GROUP, logStreamName: "canopy-relay", startFromHead: true }),
  });
  if (res.status !== 200) return [];
  return (await res.json()).events || [];
}

before(async () => {
  moto = await startMoto();
  upstreamServer = await recorder(upstream, [200, "application/x-protobuf", ""]);
  rollbarServer = await recorder(rollbar, [200, "application/json", '{"err":0,"result":{"uuid":"00000000-0000-0000-0000-000000000000"}}']);
  udp = createSocket("udp4");
  udp.on("message", (m) => xray.push(m.toString("utf8")));
  await new Promise((ok) => udp.bind(0, "127.0.0.1", ok));
  d = await startDemo({
    HONEYCOMB_API_KEY: "hc-test-key",
    CANOPY_UPSTREAM: `http://127.0.0.1:${upstreamServer.address().port}/v1/traces`,
    ROLLBAR_ACCESS_TOKEN: "rollbar-test-token",
    ROLLBAR_ENDPOINT: `http://127.0.0.1:${rollbarServer.address().port}/api/1/item/`,
    CANOPY_XRAY_DAEMON: `127.0.0.1:${udp.address().port}`,
    CANOPY_CLOUDWATCH_LOG_GROUP: GROUP,
    AWS_ENDPOINT_URL: moto.url,
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_REGION: "us-east-1",
  });
  browser = await launchChromium();
}, { timeout: SETUP_MS + START_MS + 60_000 });

after(async () => {
  await browser?.close();
  await d?.stop();
  upstreamServer?.close();
  rollbarServer?.close();
  udp?.close();
  moto?.child.kill("SIGTERM");
});

test("break the feed reaches Honeycomb, Rollbar, X-Ray and CloudWatch Logs, one trace id in all four", { timeout: 120_000 }, async () => {
  const out = d.output();
  for (const what of ["exceptions to Rollbar", "spans to the X-Ray daemon", `log records to CloudWatch Logs (${GROUP})`]) {
    assert.match(out, new RegExp(`the relay also sends ${what.replace(/[()/]/g, "\\$&")}`), "the demo says where data goes");
  }
  const context = await browser.newContext();
  const page = await context.newPage();
  const broken = [];
  page.on("request", (r) => { if (r.url().includes("/api/activities/home?fail=1")) broken.push(r.headers()); });
  await page.goto(d.urls.app);
  await page.waitForSelector("#feed li", { timeout: WAIT_MS });
  await page.click("#boom");
  await page.getByRole("button", { name: "the feed broke (HTTP 500): retry" }).waitFor({ timeout: WAIT_MS });
  assert.equal(broken.length, 1);
  const traceId = broken[0].traceparent.split("-")[1];
  const xrayRoot = `1-${traceId.slice(0, 8)}-${traceId.slice(8)}`;
  assert.match(broken[0]["x-amzn-trace-id"], new RegExp(`^Root=${xrayRoot};Parent=[0-9a-f]{16};Sampled=1$`), "the demo's ids are X-Ray's");
  const idBytes = Buffer.from(traceId, "hex");

  // Honeycomb: the trace's spans and its log lines, with the key the relay holds.
  await until(() => upstream.some((r) => r.path === "/v1/traces" && r.body.includes(idBytes) && r.body.includes("breakFeed")), "the spans upstream");
  await until(() => upstream.some((r) => r.path === "/v1/logs" && r.body.includes(idBytes) && r.body.includes("the feed failed")), "the log lines upstream");
  assert.ok(upstream.every((r) => r.headers["x-honeycomb-team"] === "hc-test-key"), "every request carries the key");

  // Rollbar: the browser's exception as an item that links back to the trace.
  const item = await until(() => rollbar.map((r) => ({ r, j: JSON.parse(r.body) }))
    .find(({ j }) => j.data?.body?.trace?.exception?.message === "the feed broke (HTTP 500)"), "the Rollbar item");
  assert.equal(item.r.headers["x-rollbar-access-token"], "rollbar-test-token");
  assert.equal(item.j.data.custom.trace_id, traceId);
  assert.equal(item.j.data.platform, "browser");
  assert.ok(item.j.data.body.trace.frames.some((f) => /App\.jsx/.test(f.filename) && f.lineno > 0), "frames from the stack");

  // X-Ray: segments of the trace, under its X-Ray id.
  const segments = await until(() => {
    const docs = xray.map((m) => JSON.parse(m.split("\n")[1])).filter((s) => s.trace_id === xrayRoot);
    return docs.some((s) => s.name === "frontend" || s.name === "breakFeed") && docs.some((s) => s.fault || s.error || (s.subsegments || []).length) && docs;
  }, "the X-Ray segments");
  assert.ok(xray.every((m) => m.startsWith('{"format":"json","version":1}\n')), "the daemon's header line");
  assert.ok(segments.length >= 1);

  // CloudWatch Logs: both log lines, each a JSON message with the trace id, sorted by time.
  const events = await until(async () => {
    const ev = (await getLogEvents()).filter((e) => e.message.includes(traceId));
    return ev.length >= 2 && ev;
  }, "the CloudWatch Logs events");
  const messages = events.map((e) => JSON.parse(e.message));
  assert.deepEqual(messages.map((m) => [m.severity, m.body]), [["WARN", "breaking the feed on purpose"], ["ERROR", "the feed failed"]]);
  assert.ok(messages.every((m) => m.trace_id === traceId && m.service === "frontend"));
  assert.ok(events[0].timestamp <= events[1].timestamp);
  await context.close();
});
