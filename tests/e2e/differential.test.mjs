// Differential test of the fetch/XHR instrumentation: the same page runs the same request cases
// (tests/e2e/pages/diff-cases.js) twice in each real headless browser (Chromium, and Firefox when
// installed: harness.browsers()) — once without Canopy, once with Canopy initialised (fetch and
// XHR instrumented, the CORS server listed in propagateTraceHeaderCorsUrls) — and everything the
// page can observe, and what the servers received, must be identical. In Chromium the DevTools
// protocol also shows each request's priority and referrer policy.
// Run: node --test tests/e2e/differential.test.mjs   (after ./scripts/pkg.sh)
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { browsers, launchBrowser } from "./harness.mjs";
import { isDeepStrictEqual } from "node:util";
import { writeFileSync } from "node:fs";
import { startServer, closedPort } from "../support/testserver.mjs";

const CALLER_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const RUN_TIMEOUT_MS = 60000;

let same, cors, nocors, refused;
const dumps = {};

const withTimeout = (p, ms, what) => {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: timed out after ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t));
};

/** Loads diff.html (with or without Canopy), runs every case, returns results and what the servers saw. */
async function runPage(browser, canopy) {
  for (const s of [same, cors, nocors]) s.reset();
  const context = await browser.newContext();
  const init = canopy
    ? { serviceName: "diff", endpoint: `${same.origin}/v1/traces`, propagateTraceHeaderCorsUrls: [cors.origin] }
    : null;
  await context.addInitScript((cfg) => { window.__DIFF__ = cfg; }, { canopy, init });
  const page = await context.newPage();
  const logs = [];
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e}`));
  // What the browser itself decided for each request (DevTools protocol, Chromium only): its
  // priority and referrer policy, which neither the page nor the server can see.
  let network = null;
  if (typeof context.newCDPSession === "function") {
    network = [];
    const cdp = await context.newCDPSession(page);
    cdp.on("Network.requestWillBeSent", (ev) => {
      network.push({ url: ev.request.url, method: ev.request.method, priority: ev.request.initialPriority,
        referrerPolicy: ev.request.referrerPolicy, type: ev.type });
    });
    await cdp.send("Network.enable");
  }
  try {
    await page.goto(`${same.origin}/tests/e2e/pages/diff.html`, { timeout: 15000 });
    await page.waitForFunction(() => document.body.dataset.ready === "1" || document.body.dataset.error, null, { timeout: 15000 });
    const err = await page.evaluate(() => document.body.dataset.error);
    if (err) throw new Error(`diff.html failed to load (canopy: ${canopy}): ${err}`);
    const env = { same: same.origin, cors: cors.origin, nocors: nocors.origin, refused: `http://127.0.0.1:${refused}` };
    page.setDefaultTimeout(RUN_TIMEOUT_MS);
    const only = process.env.CANOPY_DIFF_ONLY ? process.env.CANOPY_DIFF_ONLY.split("|") : undefined;
    const results = await withTimeout(page.evaluate(([env, only]) => window.diffCases.runAll(env, only), [env, only]), RUN_TIMEOUT_MS, `cases (canopy: ${canopy})`);
    let flushed = null;
    if (canopy) {
      flushed = await withTimeout(page.evaluate(() => window.canopy.forceFlush().then(() => "ok", (e) => String(e))), 10000, "forceFlush");
    }
    return {
      results,
      flushed,
      console: logs,
      seen: { same: [...same.seen], cors: [...cors.seen], nocors: [...nocors.seen] },
      received: [...same.received],
      network,
    };
  } finally {
    await context.close();
  }
}

before(async () => {
  same = await startServer({ cors: false });
  cors = await startServer({ cors: true });
  nocors = await startServer({ cors: false });
  refused = await closedPort();
});

after(async () => {
  await Promise.all([same, cors, nocors].filter(Boolean).map((s) => s.close()));
});

const short = (v) => {
  const s = v === undefined ? "undefined" : JSON.stringify(v);
  return s.length > 1500 ? `${s.slice(0, 1500)}… (${s.length} chars)` : s;
};

/** The first path where a and b differ, for a readable report. */
function firstDifference(a, b, path = "") {
  if (isDeepStrictEqual(a, b)) return null;
  if (a && b && typeof a === "object" && typeof b === "object") {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference(a[k], b[k], `${path}.${k}`);
      if (d) return d;
    }
  }
  return { path: path || "(root)", without: a, with: b };
}

for (const name of browsers()) describe(name, () => {
  let browser;
  const runs = {};

  before(async () => {
    browser = await launchBrowser(name);
    runs.plain = await runPage(browser, false);
    // CANOPY_DIFF_SELFCHECK=1 runs the plain page twice: proves the cases themselves are deterministic.
    runs.canopy = await runPage(browser, !process.env.CANOPY_DIFF_SELFCHECK);
    // CANOPY_DIFF_DUMP=file writes every browser's two runs there, for inspection.
    dumps[name] = runs;
    if (process.env.CANOPY_DIFF_DUMP) writeFileSync(process.env.CANOPY_DIFF_DUMP, JSON.stringify(dumps, null, 1));
  }, { timeout: 300000 });

  after(async () => {
    await browser?.close();
  });

  test("differential: every case is observably identical with and without Canopy", () => {
    const { plain, canopy } = runs;
    assert.equal(plain.results.length, canopy.results.length, "both runs ran every case");
    const differed = [];
    const counts = { fetch: 0, xhr: 0 };
    for (let i = 0; i < plain.results.length; i++) {
      const a = plain.results[i], b = canopy.results[i];
      assert.equal(a.name, b.name);
      counts[a.kind]++;
      if (!isDeepStrictEqual(a.result, b.result)) differed.push({ name: a.name, kind: a.kind, a: a.result, b: b.result });
    }
    const n = plain.results.length;
    console.log(`differential: ${n} cases (${counts.fetch} fetch, ${counts.xhr} XHR), ${differed.length} differed`);
    for (const d of differed) {
      const first = firstDifference(d.a, d.b);
      console.log(`  DIFFERS [${d.kind}] ${d.name}\n    first difference at ${first.path}: without ${short(first.without)} / with ${short(first.with)}` +
        `\n    without Canopy: ${short(d.a)}\n    with Canopy:    ${short(d.b)}`);
    }
    const timedOut = plain.results.filter((r) => r.result && (r.result.caseTimedOut || r.result.caseThrew));
    for (const r of timedOut) console.log(`  note: case "${r.name}" ${r.result.caseTimedOut ? "timed out" : `threw ${short(r.result.caseThrew)}`} even without Canopy`);
    assert.ok(n >= 40, `at least 40 cases (got ${n})`);
    assert.ok(counts.fetch >= 20 && counts.xhr >= 20, `enough fetch (${counts.fetch}) and XHR (${counts.xhr}) cases`);
    assert.equal(timedOut.length, 0, "no case timed out or threw in the harness without Canopy");
    assert.equal(differed.length, 0, `${differed.length} case(s) differed: ${differed.map((d) => d.name).join("; ")}`);
  });

  test("a caller-set traceparent reaches the server unchanged in both runs", () => {
    for (const [run, r] of Object.entries(runs)) {
      const witnesses = [...r.seen.same, ...r.seen.cors].filter((s) => /case=caller-tp/.test(s.path) && s.method !== "OPTIONS");
      const tags = new Set(witnesses.map((s) => new URL(s.path, "http://x").searchParams.get("case")));
      assert.deepEqual([...tags].sort(),
        ["caller-tp-fetch", "caller-tp-fetch-cors", "caller-tp-request", "caller-tp-xhr", "caller-tp-xhr-cors", "caller-tp-xhr-sync"],
        `${run}: every caller-traceparent request reached its server`);
      for (const s of witnesses) {
        assert.deepEqual(s.traceparentValues, [CALLER_TRACEPARENT], `${run}: ${s.path} carried exactly the caller's traceparent`);
      }
      for (const s of witnesses.filter((w) => /caller-tp-(fetch|xhr)$/.test(w.path))) {
        assert.equal(s.tracestate, "caller=1", `${run}: ${s.path} carried the caller's tracestate`);
      }
    }
  });

  test("a Request's referrer and referrerPolicy decide the Referer that reaches the server, traced or not", () => {
    const page = `${same.origin}/tests/e2e/pages/diff.html`;
    // tag -> [server, the Referer the server must see (undefined: no Referer header at all)]
    const expected = {
      "req-ref-no-referrer": ["same", undefined],
      "req-ref-no-referrer-cors": ["cors", undefined],
      "req-ref-custom": ["same", `${same.origin}/custom/referrer?from=request`],
      "req-ref-custom-empty-init": ["same", `${same.origin}/custom/referrer?from=empty-init`],
      "req-ref-empty": ["same", undefined],
      "req-ref-origin": ["same", `${same.origin}/`],
      "req-ref-unsafe-url": ["same", page],
      "req-ref-same-origin-cors": ["cors", undefined],
      "req-ref-reset-by-init": ["same", page], // a non-empty init resets referrer and policy (Fetch spec)
      "req-ref-as-init": ["same", undefined], // a Request used as init carries its referrerPolicy
    };
    for (const [run, r] of Object.entries(runs)) {
      for (const [tag, [server, referer]] of Object.entries(expected)) {
        const hits = r.seen[server].filter((s) => s.method !== "OPTIONS" && new URL(s.path, "http://x").searchParams.get("case") === tag);
        assert.equal(hits.length, 1, `${run}: ${tag} reached the ${server} server once`);
        assert.equal(hits[0].referer, referer, `${run}: ${tag}: Referer`);
        // Without a traceparent added in the Canopy run, this comparison would prove nothing.
        assert.equal(hits[0].traceparent !== undefined, run === "canopy" && !process.env.CANOPY_DIFF_SELFCHECK,
          `${run}: ${tag}: traceparent ${hits[0].traceparent}`);
      }
    }
  });

  test("the browser gave every fetch and XHR the same priority and referrer policy in both runs",
    { skip: name === "chromium" ? false : "needs the DevTools protocol (Chromium)" }, () => {
    // DevTools' view of each request, keyed by method and URL (blob: URLs differ between runs).
    const byRequest = (r) => {
      const out = {};
      for (const n of r.network) {
        if (n.type !== "Fetch" && n.type !== "XHR") continue;
        const path = new URL(n.url).pathname;
        if (path === "/v1/traces" || path.startsWith("/pkg/")) continue; // Canopy's own export and .wasm
        const key = `${n.method} ${n.url.startsWith("blob:") ? "blob:(url)" : n.url}`;
        (out[key] ||= []).push(`${n.priority} ${n.referrerPolicy}`);
      }
      for (const [k, v] of Object.entries(out)) {
        v.sort();
        // Polled until the server saw a close: how many times depends on timing, not on Canopy.
        if (k.includes("/endless-status?")) out[k] = [...new Set(v)];
      }
      return out;
    };
    const plain = byRequest(runs.plain), canopy = byRequest(runs.canopy);
    const keys = [...new Set([...Object.keys(plain), ...Object.keys(canopy)])].sort();
    const differed = keys.filter((k) => !isDeepStrictEqual(plain[k], canopy[k]))
      .map((k) => `${k}: without ${short(plain[k])} / with ${short(canopy[k])}`);
    assert.ok(keys.length >= 150, `DevTools saw the cases' requests (${keys.length} distinct)`);
    assert.deepEqual(differed, [], "priority / referrer policy differed");
    // The check sees what it claims to: a Request's priority "low" and its "no-referrer" policy.
    const one = (tag, server = same) => plain[`GET ${server.origin}/echo?case=${tag}`];
    assert.deepEqual(one("prio-request-low"), ["Low strict-origin-when-cross-origin"]);
    assert.deepEqual(one("prio-request-low-init"), ["Low strict-origin-when-cross-origin"]);
    assert.deepEqual(one("prio-request-low-cors", cors), ["Low strict-origin-when-cross-origin"]);
    assert.deepEqual(one("prio-init-low"), ["Low strict-origin-when-cross-origin"]);
    assert.deepEqual(one("req-ref-no-referrer"), ["High no-referrer"]);
  });

  test("the server without CORS saw the same requests in both runs (no preflight added)", () => {
    const key = (s) => `${s.method} ${s.path}`;
    const plain = runs.plain.seen.nocors.map(key).sort();
    const withCanopy = runs.canopy.seen.nocors.map(key).sort();
    assert.deepEqual(withCanopy, plain);
    for (const s of runs.canopy.seen.nocors) {
      assert.equal(s.traceparent, undefined, `${key(s)} got no traceparent`);
      assert.equal(s.tracestate, undefined, `${key(s)} got no tracestate`);
    }
  });

  test("cancelled /endless responses closed the connection within 3 s in both runs", () => {
    for (const [run, r] of Object.entries(runs)) {
      for (const name of ["/endless: reader.cancel() after the first chunk closes the connection",
        "/endless: abort() after the first chunk closes the connection",
        "abort() on /endless after the first progress closes the connection"]) {
        const c = r.results.find((x) => x.name === name);
        assert.ok(c, `${name} ran`);
        assert.equal(c.result.serverSawClose, true, `${run}: ${name}: ${short(c.result)}`);
      }
    }
  });

  test("the instrumentation was active in the Canopy run (a same-origin request carried a traceparent)", () => {
    const api = (s) => !s.path.startsWith("/tests/") && !s.path.startsWith("/pkg/") && !s.path.startsWith("/v1/traces") && !/case=caller-tp/.test(s.path);
    const traced = runs.canopy.seen.same.filter((s) => api(s) && s.traceparent);
    const untraced = runs.canopy.seen.same.filter((s) => api(s) && !s.traceparent);
    console.log(`canopy run: ${traced.length} same-origin requests carried a traceparent, ${untraced.length} did not; ` +
      `${runs.canopy.received.length} OTLP export(s) received; forceFlush: ${runs.canopy.flushed}`);
    assert.equal(runs.plain.seen.same.filter((s) => s.traceparent && !/case=caller-tp/.test(s.path)).length, 0,
      "without Canopy nothing adds a traceparent");
    assert.ok(traced.length > 0, "at least one same-origin request carried a traceparent added by Canopy");
  });
});
