// Running the demo (scripts/demo.sh) from a test: set-up, start on free ports, wait, stop. Shared by
// demo.test.mjs (local viewer) and demo-services.test.mjs (the seed's four services, stood in for);
// leptos-app.test.mjs uses its helpers (bounded runs, free ports, polling, the feed's trace).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const SETUP_MS = 15 * 60_000; // a fresh clone: virtualenv from PyPI, npm ci, the relay's first build
export const START_MS = 120_000;
export const STOP_MS = 20_000;

/** `n` ports that were free a moment ago (the demo's services bind them by number). */
export function freePorts(n) {
  const servers = Array.from({ length: n }, () => createServer());
  return Promise.all(servers.map((s) => new Promise((ok, fail) => {
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => ok(s.address().port));
  }))).then(async (ports) => {
    await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
    return ports;
  });
}

/** Runs `cmd` with args (in the repository, in a process group of its own) to its end, bounded:
 *  resolves with its output; `name` names it in the errors. */
export function runBounded(cmd, args, env, timeoutMs, name = cmd) {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => { out += d; });
    child.stderr.on("data", (d) => { out += d; });
    const timer = setTimeout(() => {
      try { process.kill(-child.pid, "SIGKILL"); } catch (_) {}
      fail(new Error(`${name} ${args.join(" ")} took over ${timeoutMs / 1000} s:\n${out}`));
    }, timeoutMs);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) ok(out);
      else fail(new Error(`${name} ${args.join(" ")} failed (${code ?? signal}):\n${out}`));
    });
  });
}

/** Runs scripts/demo.sh with args to its end (bounded); resolves with its output. */
export const runDemoScript = (args, env, timeoutMs) =>
  runBounded(join(root, "scripts", "demo.sh"), args, env, timeoutMs, "scripts/demo.sh");

/** Resolves with null after ms, without keeping the process alive: a time limit to race a
 *  condition against (`Promise.race([exit, timeLimit(ms)])`), never a wait of its own. */
export const timeLimit = (ms) => new Promise((r) => setTimeout(() => r(null), ms).unref());

/** Polls `pred` (bounded) until it returns something truthy; fails naming `what` and `context()`. */
export async function until(pred, what, ms, context = () => "") {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${ms / 1000} s waiting for ${what}${context()}`);
    await new Promise((r) => setTimeout(r, 250)); // poll interval (bounded above)
  }
}

/**
 * Polls the relay whose viewer is at `viewer` (ending in /) with `until` for the feed's trace
 * `traceId` with both exports in: the browser's loadData, its fetch (CLIENT) and processData,
 * Flask's SERVER span and home-activities-mock-data. Resolves with the trace's spans.
 */
export function feedTrace(viewer, traceId, until) {
  return until(async () => {
    const res = await fetch(`${viewer}api/traces/${traceId}`);
    if (res.status !== 200) return false;
    const { spans } = await res.json();
    const names = new Set(spans.map((s) => s.name));
    return ["loadData", "processData", "home-activities-mock-data"].every((n) => names.has(n)) &&
      spans.some((s) => s.kind === "client") && spans.some((s) => s.kind === "server") && spans;
  }, `trace ${traceId} with the browser's and Flask's spans`);
}

/** The feed trace's five spans (see feedTrace), each asserted to be the only one of its kind. */
export function feedSpans(spans) {
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
  return { load, fetchSpan, server, mock, processData };
}

export function alive(pgid) {
  try { process.kill(-pgid, 0); return true; } catch (e) { return e.code === "EPERM"; }
}

/** The variables a test must not inherit: nothing of the developer's goes to a real service. */
const INHERITED = ["HONEYCOMB_API_KEY", "CANOPY_UPSTREAM", "CANOPY_TEE", "CANOPY_QUIET", "CANOPY_LISTEN",
  "ROLLBAR_ACCESS_TOKEN", "ROLLBAR_ENDPOINT", "CANOPY_XRAY_DAEMON", "CANOPY_CLOUDWATCH_LOG_GROUP",
  "CANOPY_CLOUDWATCH_LOG_STREAM", "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];

/**
 * Sets the demo up (cached), starts it on free ports with `extraEnv`, and waits for "demo: ready".
 * Returns { demo, exit, urls, groups, output(), stop(), killAll() }; killAll also runs at exit.
 */
export async function startDemo(extraEnv = {}) {
  const env = { ...process.env, NO_COLOR: "1" };
  for (const k of INHERITED) delete env[k];
  const timings = {};
  let t = Date.now();
  await runDemoScript(["--setup"], env, SETUP_MS);
  timings.setup = Date.now() - t;

  const [app, backend, relay] = await freePorts(3);
  mkdirSync(join(root, "target", "demo"), { recursive: true });
  const pidfile = join(root, "target", "demo", `e2e-${process.pid}-${relay}.pids`);
  t = Date.now();
  const demo = spawn(join(root, "scripts", "demo.sh"), ["--no-setup"], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...env, ...extraEnv, CANOPY_DEMO_APP_PORT: String(app), CANOPY_DEMO_BACKEND_PORT: String(backend), CANOPY_DEMO_RELAY_PORT: String(relay), CANOPY_DEMO_PIDFILE: pidfile },
  });
  let output = "";
  const exit = new Promise((ok) => demo.on("exit", (code, signal) => ok({ code, signal })));
  demo.stdout.setEncoding("utf8");
  demo.stderr.setEncoding("utf8");
  demo.stdout.on("data", (d) => { output += d; });
  demo.stderr.on("data", (d) => { output += d; });
  const d = {
    demo, exit, timings, urls: {}, groups: [], stopped: false,
    output: () => output,
    context: () => `\n--- demo output ---\n${output}`,
    /** Last resort (a failed stop, or the test process exiting): SIGKILL the demo and its services. */
    killAll() {
      if (d.stopped) return;
      for (const g of d.groups) { try { process.kill(-g, "SIGKILL"); } catch (_) {} }
      if (demo.exitCode === null && demo.signalCode === null) { try { process.kill(-demo.pid, "SIGKILL"); } catch (_) {} }
      d.stopped = true;
    },
    /** SIGTERM, bounded wait, then killAll. */
    async stop() {
      if (!d.stopped && demo.exitCode === null) {
        try { process.kill(demo.pid, "SIGTERM"); } catch (_) {}
        await Promise.race([exit, timeLimit(STOP_MS)]);
      }
      d.killAll();
    },
  };
  process.on("exit", () => d.killAll());
  await until(() => {
    if (demo.exitCode !== null) assert.fail(`scripts/demo.sh exited (${demo.exitCode}) before it was ready:\n${output}`);
    return /^demo: ready$/m.test(output);
  }, "demo: ready", START_MS, d.context);
  timings.start = Date.now() - t;
  d.groups = readFileSync(pidfile, "utf8").trim().split("\n").map((l) => Number(l.split(" ")[1]));
  assert.equal(d.groups.length, 3, "relay, backend and app each in a process group");
  d.urls.app = output.match(/^demo: app\s+(http:\S+)$/m)[1];
  d.urls.viewer = output.match(/^demo: trace viewer\s+(http:\S+)$/m)[1];
  assert.equal(d.urls.app, `http://127.0.0.1:${app}/`);
  assert.equal(d.urls.viewer, `http://127.0.0.1:${relay}/`);
  return d;
}
