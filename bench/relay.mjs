// The relay rows of `make bench`: Canopy's relay (examples/relay, a release build) against the
// approach it replaces, the seed write-up's Flask endpoint `/api/send-trace` (bench/send_trace/app.py,
// re-creating each browser span with the OpenTelemetry Python SDK), under the same load.
//
//   measureRelay({ log, relayBin, venv, work }) -> results;  reportRelay(results) -> Markdown lines
//
// Both forward to the same local OTLP sink (bench/otlp_sink.mjs, its own process), which counts
// the spans that really arrive. The load: the same 50 spans per request (32 page batches from
// examples/relay/bench/make_bodies.py, in rotation), each SDK's format: to the relay as canopy-web
// sends them (OTLP/HTTP JSON, gzip, with x-canopy-sent-at); to Flask as the write-up's reportSpan()
// sends them (a JSON list of {_spanContext, _ended, duration, startTime, endTime, name,
// parentSpanId}). CONNECTIONS keep-alive connections from this process, each sending a request as
// soon as the previous answered, for SECONDS after a 2 s warm-up. Every process started here is
// on 127.0.0.1 and is stopped (by its pid) before this returns.
import { execFileSync, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, statSync } from "node:fs";
import { Agent, request } from "node:http";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..");
export const RELAY_SECONDS = Number(process.env.BENCH_RELAY_SECONDS || 10);
export const RELAY_CONNECTIONS = Number(process.env.BENCH_RELAY_CONNECTIONS || 16);
const SPANS = 50;
const WARMUP_S = 2;
const GUNICORN_WORKERS = 2;

const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }) : "n/a");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs, f) => {
  const t = Float64Array.from(xs).sort();
  if (!t.length) return NaN;
  const i = (t.length - 1) * f, lo = Math.floor(i);
  return t[lo] + (t[Math.ceil(i)] - t[lo]) * (i - lo);
};

/** CPU seconds (user + system) of `pid` and its child processes, from /proc. */
function cpuSeconds(pid) {
  const tick = 100; // USER_HZ
  const one = (p) => {
    try {
      const s = readFileSync(`/proc/${p}/stat`, "utf8");
      const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
      return (Number(f[11]) + Number(f[12])) / tick;
    } catch { return 0; }
  };
  let total = one(pid);
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim();
      for (const k of kids ? kids.split(" ") : []) total += one(k);
    }
  } catch { /* gone */ }
  return total;
}

const running = new Set(); // processes started here and not yet exited

/** Stops every process this module started that is still running (for run.mjs's cleanup). */
export async function stopRelayProcesses() {
  await Promise.all([...running].map(kill));
}

/** Starts `cmd` with its stdout and stderr going to `logFile` (as a container's log would; no
 *  pipe for this process to read during the load); resolves with { proc, url } once the file
 *  matches `re` (group 1: the URL). */
async function start(cmd, args, { env, cwd, re, logFile, ms = 30000 }) {
  const fd = openSync(logFile, "w");
  let proc;
  try {
    proc = spawn(cmd, args, { env, cwd, stdio: ["ignore", fd, fd] });
  } finally {
    closeSync(fd);
  }
  running.add(proc);
  let exited = null;
  proc.on("exit", (code, sig) => { running.delete(proc); exited = `${code ?? sig}`; });
  const output = () => { try { return readFileSync(logFile, "utf8"); } catch { return ""; } };
  const end = Date.now() + ms;
  for (;;) {
    const m = re.exec(output());
    if (m) return { proc, url: m[1], output };
    if (exited !== null || Date.now() > end) {
      await kill(proc);
      throw new Error(`${cmd} ${exited !== null ? `exited (${exited})` : `did not start in ${ms} ms`}:\n${output().slice(-2000)}`);
    }
    await sleep(100);
  }
}

/** Stops a process we started (SIGTERM, then SIGKILL after 10 s); resolves when it has exited. */
function kill(proc) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => { try { proc.kill("SIGKILL"); } catch {} }, 10000);
    proc.once("exit", () => { clearTimeout(t); resolve(); });
    try { proc.kill("SIGTERM"); } catch { clearTimeout(t); resolve(); }
  });
}

function getJson(url) {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 5000 }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => { try { resolve(JSON.parse(Buffer.concat(chunks).toString())); } catch (e) { reject(e); } });
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

/** Request `i`'s body: `bodies` in rotation. */
const rotation = (bodies) => (i) => bodies[i % bodies.length];

/** Request `i`'s body: the gzip `bodies` in rotation, each copy with `i` in its gzip header's
 *  MTIME (which decompression ignores), so no two requests are the same bytes: as in real
 *  traffic, and the relay drops a request that repeats a delivered one byte for byte. */
const uniqueGzip = (bodies) => (i) => {
  const b = Buffer.from(bodies[i % bodies.length]);
  b.writeUInt32LE(i >>> 0, 4);
  return b;
};

/** Closed-loop load: `conns` connections, each POSTing body `bodyOf(n)` for its next request `n`
 *  when its previous request answered; warm-up, then `seconds` measured. Latency per request in
 *  ms. */
async function load(url, bodyOf, headersOf, conns, seconds, onWindow) {
  const agent = new Agent({ keepAlive: true, maxSockets: conns });
  const u = new URL(url);
  let next = 0, stop = false, measuring = false;
  const lat = [];
  let ok = 0, bad = 0, failed = 0, allOk = 0;
  const statuses = {};
  const one = (body) => new Promise((resolve) => {
    const t = process.hrtime.bigint();
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent, headers: { ...headersOf(), "content-length": body.length }, timeout: 30000 }, (res) => {
      res.resume();
      res.on("end", () => resolve({ ms: Number(process.hrtime.bigint() - t) / 1e6, status: res.statusCode }));
    });
    req.on("error", () => resolve({ ms: NaN, status: 0 }));
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end(body);
  });
  const worker = async () => {
    while (!stop) {
      const counted = measuring;
      const r = await one(bodyOf(next++));
      if (r.status >= 200 && r.status < 300) allOk++;
      if (!counted || !measuring) continue; // only requests sent and answered inside the window
      if (r.status >= 200 && r.status < 300) { ok++; lat.push(r.ms); } else if (r.status) { bad++; statuses[r.status] = (statuses[r.status] || 0) + 1; } else failed++;
    }
  };
  const workers = Array.from({ length: conns }, worker);
  await sleep(WARMUP_S * 1000);
  const before = onWindow ? onWindow() : null;
  const t0 = process.hrtime.bigint();
  measuring = true;
  await sleep(seconds * 1000);
  measuring = false;
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const after = onWindow ? onWindow() : null;
  stop = true;
  await Promise.race([Promise.all(workers), sleep(35000)]);
  agent.destroy();
  return { ok, bad, failed, elapsed, lat, before, after, allOk, statuses };
}

/** The 32 bodies of 50 spans, in both formats. */
function makeBodies(work) {
  const dir = join(work, "relay-bodies");
  mkdirSync(dir, { recursive: true });
  execFileSync("python3", [join(repo, "examples", "relay", "bench", "make_bodies.py"), dir, String(SPANS), "32"], { stdio: ["ignore", "ignore", "inherit"], timeout: 60000 });
  const otlpGz = [], seed = [];
  let jsonBytes = 0;
  for (let i = 0; i < 32; i++) {
    const json = readFileSync(join(dir, `body-${i}.json`));
    jsonBytes += json.length;
    otlpGz.push(readFileSync(join(dir, `body-${i}.json.gz`)));
    const doc = JSON.parse(json.toString());
    const spans = doc.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
    const hr = (ns) => { const n = BigInt(ns); return [Number(n / 1000000000n), Number(n % 1000000000n)]; };
    // What the write-up's reportSpan() posts for each OpenTelemetry JS span (its fields, its names).
    seed.push(Buffer.from(JSON.stringify(spans.map((s) => ({
      _spanContext: { traceId: s.traceId, spanId: s.spanId, traceFlags: 1 },
      _ended: true,
      duration: hr(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)),
      startTime: hr(s.startTimeUnixNano),
      endTime: hr(s.endTimeUnixNano),
      name: s.name,
      parentSpanId: s.parentSpanId,
    })))));
  }
  return { otlpGz, seed, otlpJsonBytes: jsonBytes / 32, otlpGzBytes: otlpGz.reduce((n, b) => n + b.length, 0) / 32, seedBytes: seed.reduce((n, b) => n + b.length, 0) / 32 };
}

async function sinkCounts(sink) { return getJson(`${sink}/counts`); }

/** Waits until the sink's span count stops moving (at most `ms`). */
async function settle(sink, ms) {
  const end = Date.now() + ms;
  let last = -1, c;
  for (;;) {
    c = await sinkCounts(sink);
    if (c.spans === last || Date.now() > end) return c;
    last = c.spans;
    await sleep(1500);
  }
}

export async function measureRelay({ log, relayBin, nullBin, venv, work }) {
  const out = { seconds: RELAY_SECONDS, conns: RELAY_CONNECTIONS, spans: SPANS, workers: GUNICORN_WORKERS, rows: {}, problems: [] };
  if (!relayBin) throw new Error("no relay binary (bench/run.sh builds it)");
  const bodies = makeBodies(work);
  Object.assign(out, { otlpJsonBytes: bodies.otlpJsonBytes, otlpGzBytes: bodies.otlpGzBytes, seedBytes: bodies.seedBytes });
  const procs = [];
  const env0 = { PATH: process.env.PATH, HOME: process.env.HOME || "/tmp", LANG: "C.UTF-8" };
  try {
    const sink = await start(process.execPath, [join(here, "otlp_sink.mjs")], { env: env0, logFile: join(work, "sink.log"), re: /listening on (http:\/\/127\.0\.0\.1:\d+)/ });
    procs.push(sink.proc);
    const run = async (name, target, path, bodyOf, headersOf, pid) => {
      const c0 = await sinkCounts(sink.url);
      const l0 = loadavg()[0];
      const cpu = { server: [0, 0], sink: [0, 0] };
      const r = await load(`${target}${path}`, bodyOf, headersOf, RELAY_CONNECTIONS, RELAY_SECONDS,
        () => [cpuSeconds(pid), cpuSeconds(sink.proc.pid)]);
      // What reached the sink: wait for the servers' batches to drain (Flask's processor sends every
      // 5 s); `stopped` counts again once the server has exited (its last batch goes at shutdown).
      const c1 = await settle(sink.url, 20000);
      const row = {
        name, requests: r.ok, non2xx: r.bad, statuses: r.statuses, failed: r.failed, seconds: r.elapsed,
        spansPerS: (r.ok * SPANS) / r.elapsed, requestsPerS: r.ok / r.elapsed,
        p50: quantile(r.lat, 0.5), p90: quantile(r.lat, 0.9), p99: quantile(r.lat, 0.99), max: r.lat.reduce((m, v) => (v > m ? v : m), -Infinity),
        serverCpuS: r.after[0] - r.before[0], sinkCpuS: r.after[1] - r.before[1],
        sent: r.allOk * SPANS, delivered: c1.spans - c0.spans, deliveredServer: c1.serverSpans - c0.serverSpans, sinkErrors: c1.errors - c0.errors,
        load: [l0, loadavg()[0]],
      };
      row.cpuMsPer1000 = (1000 * row.serverCpuS * 1000) / (r.ok * SPANS);
      row.stopped = async () => {
        const c2 = await settle(sink.url, 10000);
        row.delivered = c2.spans - c0.spans;
        row.deliveredServer = c2.serverSpans - c0.serverSpans;
        delete row.stopped;
      };
      log(`relay: ${name}: ${fmt(row.spansPerS)} spans/s, p50 ${fmt(row.p50, 2)} ms, p99 ${fmt(row.p99, 2)} ms, ${r.bad} non-2xx ${JSON.stringify(r.statuses)}, ${r.failed} failed; sink got ${row.delivered} spans`);
      return row;
    };

    // Canopy's relay.
    const relay = await start(relayBin, [], {
      env: { ...env0, CANOPY_LISTEN: "127.0.0.1:0", CANOPY_RATE_LIMIT: "0", CANOPY_QUIET: "1",
        // The load generator is one client IP: its per-client budgets off, as the request rate limit.
        CANOPY_CLIENT_SPAN_RATE: "0", CANOPY_CLIENT_BYTE_RATE: "0", CANOPY_MAX_IN_FLIGHT_PER_CLIENT: "0", CANOPY_UPSTREAM: `${sink.url}/v1/traces`, HONEYCOMB_API_KEY: "bench-key" },
      logFile: join(work, "relay.log"), re: /listening on (http:\/\/127\.0\.0\.1:\d+)/,
    });
    procs.push(relay.proc);
    out.rows.relay = await run("Canopy relay", relay.url, "/v1/traces", uniqueGzip(bodies.otlpGz),
      () => ({ "content-type": "application/json", "content-encoding": "gzip", "x-canopy-sent-at": String(Date.now()) }), relay.proc.pid);
    await kill(relay.proc);
    await out.rows.relay.stopped();

    // The ceiling of this load on this machine: an axum server (as the relay) that only reads each
    // request and answers 200, so the load generator and HTTP alone (no decoding, no forwarding).
    if (nullBin) {
      const idle = await start(nullBin, ["127.0.0.1:0"], { env: env0, logFile: join(work, "null.log"), re: /listening on (http:\/\/127\.0\.0\.1:\d+)/ });
      procs.push(idle.proc);
      out.rows.ceiling = await run("ceiling: an axum server that only reads each request and answers 200", idle.url, "/v1/traces", uniqueGzip(bodies.otlpGz),
        () => ({ "content-type": "application/json", "content-encoding": "gzip", "x-canopy-sent-at": String(Date.now()) }), idle.proc.pid);
      await kill(idle.proc);
      delete out.rows.ceiling.stopped;
    }

    // The write-up's Flask endpoint, served by gunicorn, then by Flask's own server as the user's
    // backend Dockerfile runs it (`python3 -m flask run`).
    const flaskEnv = { ...env0, OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_SERVICE_NAME: "backend-flask", PYTHONDONTWRITEBYTECODE: "1" };
    const servers = [
      ["flask", `Flask /api/send-trace, gunicorn (${GUNICORN_WORKERS} sync workers)`, join(venv, "bin", "gunicorn"),
        ["--workers", String(GUNICORN_WORKERS), "--bind", "127.0.0.1:0", "app:app"], /Listening at: (http:\/\/127\.0\.0\.1:\d+)/],
      ["flaskDev", "Flask /api/send-trace, `flask run` (Flask's threaded server)", join(venv, "bin", "python"),
        ["-m", "flask", "--app", "app", "run", "--host", "127.0.0.1", "--port", "0"], /Running on (http:\/\/127\.0\.0\.1:\d+)/],
    ];
    out.logBytes = {};
    for (const [key, name, cmd, args, re] of servers) {
      const logFile = join(work, `${key}.log`);
      const srv = await start(cmd, args, { cwd: join(here, "send_trace"), env: flaskEnv, logFile, re });
      procs.push(srv.proc);
      // Until the workers are up (gunicorn's import Flask and OpenTelemetry after the fork).
      const bootEnd = Date.now() + 30000;
      if (key === "flask") while ((srv.output().match(/Booting worker/g) || []).length < GUNICORN_WORKERS && Date.now() < bootEnd) await sleep(200);
      await sleep(1500);
      out.rows[key] = await run(name, srv.url, "/api/send-trace", rotation(bodies.seed), () => ({ "content-type": "application/json" }), srv.proc.pid);
      await kill(srv.proc);
      await out.rows[key].stopped();
      out.logBytes[key] = statSync(logFile).size;
    }
  } finally {
    for (const p of procs.reverse()) await kill(p);
  }
  return out;
}

export function reportRelay(x, command) {
  const L = [];
  const r = x.rows.relay, f = x.rows.flask, d = x.rows.flaskDev, c = x.rows.ceiling;
  L.push("### Relay: Canopy's relay against the write-up's Flask endpoint", "");
  L.push("What the user's write-up did instead of a relay: the browser POSTs its finished spans to the Flask backend's `/api/send-trace`, which re-creates each one with the OpenTelemetry Python SDK (`BatchSpanProcessor` + `OTLPSpanExporter`). " +
    "`bench/send_trace/app.py` is that endpoint as the write-up shows it (its `print` per span, `FlaskInstrumentor` and `RequestsInstrumentor` included), installed from `bench/send_trace/requirements.txt` (pinned: Flask 3.1.3, flask-cors 6.0.5, gunicorn 27.0.1, opentelemetry-sdk 1.45.1, instrumentation 0.66b1) into its own venv by `bench/run.sh`. " +
    `The write-up does not say how it is served, so two ways: **gunicorn with ${x.workers} sync workers** (how a Flask app is served in production, and the faster of the two) and **\`python3 -m flask run\`** (Flask's threaded server, what the user's backend Dockerfile runs). ` +
    `Their output (the \`print\`s, the request log) goes to a file, as a container's log (${fmt(x.logBytes.flask / 1048576, 1)} and ${fmt(x.logBytes.flaskDev / 1048576, 1)} MB in this run). ` +
    "Canopy's relay: `canopy-relay` built with `cargo build --release`, run with `CANOPY_RATE_LIMIT=0 CANOPY_CLIENT_SPAN_RATE=0 CANOPY_CLIENT_BYTE_RATE=0 CANOPY_MAX_IN_FLIGHT_PER_CLIENT=0` (the load generator is one client IP, so its per-client limits are off), `CANOPY_QUIET=1` and `CANOPY_UPSTREAM` (it decodes, validates, skew-checks, re-encodes as gzip protobuf and forwards). " +
    "All send to the same OTLP sink (`bench/otlp_sink.mjs`, a Node process answering 200 at once), which counts the spans that arrive.", "");
  L.push(`**Load, the same for each:** the same ${x.spans} spans per request (32 page batches from \`examples/relay/bench/make_bodies.py\`, in rotation), in each one's format: to the relay as \`canopy-web\` sends them (OTLP/HTTP JSON, gzip: ${fmt(x.otlpGzBytes)} B a request, ${fmt(x.otlpJsonBytes)} B unzipped, with attributes; each request's gzip header carries its own MTIME, so no two are the same bytes, as in real traffic: the relay drops a byte-for-byte copy of a delivered request), ` +
    `to Flask as the write-up's \`reportSpan()\` posts them (a JSON list of \`_spanContext\`, \`duration\`, \`startTime\`, \`endTime\`, \`name\`, \`parentSpanId\`: ${fmt(x.seedBytes)} B, no attributes, so less work for Flask). ` +
    `${x.conns} keep-alive connections from the bench's Node process, each sending its next request when the last one answered, ${fmt(x.seconds)} s measured after 2 s of warm-up; everything on 127.0.0.1 and on the same 2 cores (load generator, server, sink, and whatever else runs on the machine). ` +
    `*Server CPU* is the server's processes' user + system time during the measured seconds (from /proc). ${command}`, "");
  L.push("| server | requests | spans/s | requests/s | p50 ms | p99 ms | max ms | non-2xx | server CPU ms per 1,000 spans | spans that reached the sink | load average (start-end) |",
    "|---|---|---|---|---|---|---|---|---|---|---|");
  for (const row of [d, f, r, c]) {
    if (!row) continue;
    const flask = row === d || row === f;
    const extra = flask ? ` (+${fmt(row.deliveredServer)} SERVER spans from \`FlaskInstrumentor\`)` : "";
    const delivered = flask ? row.delivered - row.deliveredServer : row.delivered;
    const sink = row === c ? "- (forwards nothing)" : `${fmt(delivered)} of ${fmt(row.sent)}${extra}`;
    L.push(`| ${row.name} | ${fmt(row.requests)} | **${fmt(row.spansPerS)}** | ${fmt(row.requestsPerS, 1)} | ${fmt(row.p50, 2)} | ${fmt(row.p99, 2)} | ${fmt(row.max, 1)} | ${fmt(row.non2xx + row.failed)}${row.non2xx ? ` (${Object.entries(row.statuses).map(([k, v]) => `${fmt(v)} × ${k}`).join(", ")})` : ""} | ${fmt(row.cpuMsPer1000, 1)} | ${sink} | ${fmt(row.load[0], 2)}-${fmt(row.load[1], 2)} |`);
  }
  L.push("");
  const x1 = (v) => fmt(v, v < 10 ? 1 : 0);
  const vs = (row, what) => `**${x1(r.spansPerS / row.spansPerS)}x** ${what}'s spans per second (p50 ${x1(row.p50 / r.p50)}x and p99 ${x1(row.p99 / r.p99)}x lower, ${x1(row.cpuMsPer1000 / r.cpuMsPer1000)}x less server CPU per span)`;
  const worst = r.spansPerS / f.spansPerS;
  L.push(`**Ratio:** the relay takes ${vs(f, "gunicorn")} and ${vs(d, "`flask run`")}. ` +
    `The issue expects at least 100x the Flask endpoint's spans per second: **${worst >= 100 ? "met" : "not met"}** against gunicorn${r.spansPerS / d.spansPerS >= 100 ? ", met" : ", not met"} against \`flask run\`. ` +
    "On these 2 shared cores the load generator, the sink and other work take part of the CPU, so the CPU per span is the steadier comparison: throughput on a machine of its own tends towards its ratio. " +
    "Spans/s counts the spans in requests answered 2xx during the measured seconds; the sink column compares the spans that reached the sink with those in all the requests answered 2xx (warm-up included), counted after the server has stopped (the Python `BatchSpanProcessor` sends its last batch at shutdown, and drops spans whenever its 2,048-span queue is full).", "");
  if (c) {
    const target = 100 * f.spansPerS;
    L.push(`**Where the ceiling is:** the same load against a server that does nothing (\`examples/relay/examples/bench_sink.rs\`: axum, as the relay, reading each gzip body and answering 200 without decoding it) came to **${fmt(c.spansPerS)} spans/s**, ${x1(c.spansPerS / f.spansPerS)}x gunicorn's, with ${fmt(c.cpuMsPer1000, 1)} ms of server CPU per 1,000 spans. ` +
      `100x gunicorn's would be ${fmt(target)} spans/s, ${x1(target / c.spansPerS)}x what this machine's load generator and HTTP alone reach, so ${c.spansPerS >= target ? "the target is within this machine's reach" : "no relay can show the target on this machine with this load"}; ` +
      `Canopy's relay, which decodes, validates, skew-checks, re-encodes and forwards every span, reaches ${fmt((100 * r.spansPerS) / c.spansPerS)}% of doing nothing. ` +
      "On its own machine the relay's CPU per span is the measure: " + `${fmt(r.cpuMsPer1000, 1)} ms per 1,000 spans against gunicorn's ${fmt(f.cpuMsPer1000, 1)}.`, "");
  }
  return L;
}
