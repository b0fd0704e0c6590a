// traceparent propagation and CLIENT spans of the fetch/XHR instrumentation, in real headless
// Chromium, checked from both ends: what each server received (its `seen` list) and what Canopy
// exported (OTLP JSON recorded by the page's own server at POST /v1/traces).
// Run: node --test tests/e2e/propagation.test.mjs   (after ./scripts/pkg.sh)
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { launchChromium } from "./harness.mjs";
import { startServer, closedPort } from "../support/testserver.mjs";

const CALLER_TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const TP_RE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

let browser, same, allowed, other, refusedPort;

before(async () => {
  same = await startServer({ cors: false }); // serves the page and receives the OTLP exports
  allowed = await startServer({ cors: true }); // listed in propagateTraceHeaderCorsUrls
  other = await startServer({ cors: true }); // CORS-enabled, but not listed
  refusedPort = await closedPort();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await Promise.all([same, allowed, other].filter(Boolean).map((s) => s.close()));
});
beforeEach(() => { for (const s of [same, allowed, other]) s.reset(); });

/** A fresh page with the package loaded (window.canopy) but not initialised. */
async function newPage() {
  const context = await browser.newContext();
  await context.addInitScript(() => { window.__DIFF__ = { canopy: true, init: null }; });
  const page = await context.newPage();
  page.consoleMessages = [];
  page.on("console", (m) => page.consoleMessages.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => page.consoleMessages.push(`pageerror: ${e}`));
  await page.goto(`${same.origin}/tests/e2e/pages/diff.html`, { timeout: 15000 });
  await page.waitForFunction(() => document.body.dataset.ready === "1" || document.body.dataset.error, null, { timeout: 15000 });
  const err = await page.evaluate(() => document.body.dataset.error);
  if (err) throw new Error(`diff.html failed to load: ${err}`);
  page.setDefaultTimeout(20000);
  return page;
}

/** Runs `fn(env)` in the page with env = origins; bounded to 20 s. */
async function inPage(page, fn) {
  const env = { same: same.origin, allowed: allowed.origin, other: other.origin, refused: `http://127.0.0.1:${refusedPort}` };
  let t;
  const timeout = new Promise((_, rej) => { t = setTimeout(() => rej(new Error("page code timed out after 20 s")), 20000); });
  try {
    return await Promise.race([page.evaluate(`(${fn})(${JSON.stringify(env)})`), timeout]);
  } finally {
    clearTimeout(t);
  }
}

// In-page helpers, prepended to page functions as source text.
const HELPERS = `
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const xhr = (method, url, { async = true, headers = [] } = {}) => {
    const x = new XMLHttpRequest();
    x.open(method, url, async);
    for (const [k, v] of headers) x.setRequestHeader(k, v);
    if (!async) { try { x.send(); } catch (e) { return Promise.resolve("error"); } return Promise.resolve(x.status); }
    const done = new Promise((r) => { x.onloadend = () => r(x.status); setTimeout(() => r("guard"), 8000); });
    x.send();
    return done;
  };
  const drain = (p) => p.then((r) => r.text().then(() => r.status), (e) => e.name);
`;
const pageFn = (body) => `async (env) => { ${HELPERS}\n${body} }`;

function exportedSpans(server = same) {
  const out = [];
  for (const r of server.received) {
    for (const rs of r.body.resourceSpans || []) for (const ss of rs.scopeSpans || []) for (const s of ss.spans || []) out.push(s);
  }
  return out;
}
function attr(span, key) {
  const kv = (span.attributes || []).find((a) => a.key === key);
  if (!kv) return undefined;
  const v = kv.value;
  return v.stringValue ?? v.boolValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue;
}
const byName = (spans, name) => {
  const s = spans.find((x) => x.name === name);
  assert.ok(s, `a span named ${name} was exported; got: ${spans.map((x) => x.name).join(", ") || "none"}`);
  return s;
};
/** The one CLIENT span for `url` (by url.full). */
function spanFor(spans, url) {
  const found = spans.filter((s) => attr(s, "url.full") === url);
  assert.equal(found.length, 1, `exactly one span for ${url}; got ${found.length} (spans: ${spans.map((s) => `${s.name} ${attr(s, "url.full")}`).join("; ") || "none"})`);
  return found[0];
}
/** The one request `server` saw for `path` (method other than OPTIONS). */
function seenFor(server, path, method) {
  const found = server.seen.filter((s) => s.path === path && s.method !== "OPTIONS" && (!method || s.method === method));
  assert.equal(found.length, 1, `${server.origin} saw ${path} exactly once (saw: ${server.seen.map((s) => `${s.method} ${s.path}`).join(", ")})`);
  return found[0];
}
/** The request carried exactly one traceparent, whose ids are `span`'s. */
function assertCarries(seen, span, what) {
  assert.equal(seen.traceparentValues.length, 1, `${what}: exactly one traceparent header (got ${JSON.stringify(seen.traceparentValues)})`);
  const m = TP_RE.exec(seen.traceparent);
  assert.ok(m, `${what}: a valid traceparent (${seen.traceparent})`);
  assert.equal(m[1], span.traceId, `${what}: traceparent trace id is the fetch span's trace id`);
  assert.equal(m[2], span.spanId, `${what}: traceparent parent id is the fetch span's span id`);
  assert.equal(m[3], "01", `${what}: sampled`);
}
function assertNoHeaders(seen, what) {
  assert.equal(seen.traceparent, undefined, `${what}: no traceparent`);
  assert.equal(seen.tracestate, undefined, `${what}: no tracestate`);
}
const options = (server) => server.seen.filter((s) => s.method === "OPTIONS");

const INIT = (extra = "") => `window.canopy.init({ serviceName: "prop", endpoint: env.same + "/v1/traces", propagateTraceHeaderCorsUrls: [env.allowed]${extra} });`;

test("fetch inside startActiveSpan: headers to same-origin and allowed origins only, spans under parent-op", async () => {
  const page = await newPage();
  const r = await inPage(page, pageFn(`
    const c = window.canopy;
    ${INIT()}
    let parentCtx;
    await c.startActiveSpan("parent-op", async (span) => {
      parentCtx = span.spanContext();
      const ps = [
        fetch(env.same + "/echo?p=same"),
        fetch(env.allowed + "/echo?p=allowed"),
        fetch(env.other + "/echo?p=other"),
        fetch(env.same + "/status/404?p=404"),
        fetch(env.same + "/echo?p=post", { method: "POST", body: "x" }),
        fetch(env.refused + "/echo?p=refused"),
      ];
      return Promise.all(ps.map(drain));
    });
    await sleep(10);
    const afterStatus = await drain(fetch(env.same + "/echo?p=after"));
    await c.forceFlush();
    return { parentCtx, afterStatus };
  `));
  const spans = exportedSpans();
  const parent = byName(spans, "parent-op");
  assert.equal(parent.spanId, r.parentCtx.spanId);

  const cases = [
    { server: same, path: "/echo?p=same", propagate: true },
    { server: allowed, path: "/echo?p=allowed", propagate: true },
    { server: other, path: "/echo?p=other", propagate: false },
    { server: same, path: "/status/404?p=404", propagate: true },
    { server: same, path: "/echo?p=post", propagate: true, method: "POST" },
  ];
  for (const c of cases) {
    const url = c.server.origin + c.path;
    const span = spanFor(spans, url);
    const seen = seenFor(c.server, c.path);
    assert.equal(span.parentSpanId, parent.spanId, `${url}: child of parent-op`);
    assert.equal(span.traceId, parent.traceId, `${url}: in parent-op's trace`);
    if (c.propagate) assertCarries(seen, span, url);
    else assertNoHeaders(seen, url);
    assert.equal(span.kind, 3, `${url}: CLIENT`);
    assert.equal(span.name, c.method || "GET");
    assert.equal(attr(span, "http.request.method"), c.method || "GET");
    assert.equal(attr(span, "server.address"), "127.0.0.1");
    assert.equal(attr(span, "server.port"), c.server.port);
  }
  assert.equal(options(other).length, 0, "no CORS preflight to the non-allowed origin");

  const ok = spanFor(spans, `${same.origin}/echo?p=same`);
  assert.equal(attr(ok, "http.response.status_code"), 200);
  assert.notEqual(ok.status?.code, 2, "a 200 is not an error");
  const notFound = spanFor(spans, `${same.origin}/status/404?p=404`);
  assert.equal(attr(notFound, "http.response.status_code"), 404);
  assert.equal(notFound.status?.code, 2, "a 404 is an error");
  const refused = spanFor(spans, `http://127.0.0.1:${refusedPort}/echo?p=refused`);
  assert.equal(refused.status?.code, 2, "a network failure is an error");
  assert.ok(attr(refused, "error.type"), "a network failure has error.type");
  assert.equal(refused.parentSpanId, parent.spanId);

  const afterSpan = spanFor(spans, `${same.origin}/echo?p=after`);
  assert.equal(afterSpan.parentSpanId, undefined, "a fetch after the callback returned is a root span");
  assert.notEqual(afterSpan.traceId, parent.traceId, "…in a new trace");
  assertCarries(seenFor(same, "/echo?p=after"), afterSpan, "after");

  assert.ok(!spans.some((s) => String(attr(s, "url.full") || "").includes("/v1/traces")), "the exporter's own requests are not traced");
  await page.context().close();
});

test("a fetch and an XHR inside withSpan(span, …) are span's children", async () => {
  const page = await newPage();
  await inPage(page, pageFn(`
    const c = window.canopy;
    ${INIT()}
    const s = c.startSpan("manual");
    await sleep(5);
    await c.withSpan(s, () => drain(fetch(env.same + "/echo?p=with-fetch")));
    await c.withSpan(s, () => xhr("GET", env.allowed + "/echo?p=with-xhr"));
    await drain(fetch(env.same + "/echo?p=outside"));
    s.end();
    await c.forceFlush();
  `));
  const spans = exportedSpans();
  const manual = byName(spans, "manual");
  for (const [server, path] of [[same, "/echo?p=with-fetch"], [allowed, "/echo?p=with-xhr"]]) {
    const span = spanFor(spans, server.origin + path);
    assert.equal(span.parentSpanId, manual.spanId, `${path}: child of the withSpan span`);
    assertCarries(seenFor(server, path), span, path);
  }
  assert.equal(spanFor(spans, `${same.origin}/echo?p=outside`).parentSpanId, undefined, "outside withSpan: a root");
  await page.context().close();
});

test("XHR (sync and async) gets the same parent and header treatment as fetch", async () => {
  const page = await newPage();
  await inPage(page, pageFn(`
    const c = window.canopy;
    ${INIT()}
    await c.startActiveSpan("parent-op", () => {
      const sync = xhr("GET", env.same + "/echo?p=xhr-sync", { async: false });
      const syncAllowed = xhr("GET", env.allowed + "/echo?p=xhr-sync-allowed", { async: false });
      const a = xhr("GET", env.same + "/echo?p=xhr-async");
      const b = xhr("POST", env.allowed + "/echo?p=xhr-allowed");
      const d = xhr("GET", env.other + "/echo?p=xhr-other");
      const e = xhr("GET", env.same + "/status/500?p=xhr-500");
      return Promise.all([sync, syncAllowed, a, b, d, e]);
    });
    await c.forceFlush();
  `));
  const spans = exportedSpans();
  const parent = byName(spans, "parent-op");
  for (const [server, path, propagate, method] of [
    [same, "/echo?p=xhr-sync", true], [allowed, "/echo?p=xhr-sync-allowed", true], [same, "/echo?p=xhr-async", true],
    [allowed, "/echo?p=xhr-allowed", true, "POST"], [other, "/echo?p=xhr-other", false], [same, "/status/500?p=xhr-500", true],
  ]) {
    const span = spanFor(spans, server.origin + path);
    assert.equal(span.parentSpanId, parent.spanId, `${path}: child of parent-op`);
    assert.equal(span.kind, 3);
    assert.equal(span.name, method || "GET");
    const seen = seenFor(server, path);
    if (propagate) assertCarries(seen, span, path);
    else assertNoHeaders(seen, path);
  }
  const err = spanFor(spans, `${same.origin}/status/500?p=xhr-500`);
  assert.equal(attr(err, "http.response.status_code"), 500);
  assert.equal(err.status?.code, 2);
  assert.equal(options(other).length, 0, "no CORS preflight to the non-allowed origin");
  await page.context().close();
});

test("XHR and fetch failures: abort, timeout and network errors are error spans", async () => {
  const page = await newPage();
  await inPage(page, pageFn(`
    const c = window.canopy;
    ${INIT()}
    const ac = new AbortController();
    const aborted = drain(fetch(env.same + "/slow?ms=3000&p=fetch-abort", { signal: ac.signal }));
    setTimeout(() => ac.abort(), 100);
    await aborted;
    const x = new XMLHttpRequest();
    x.open("GET", env.same + "/slow?ms=3000&p=xhr-abort");
    const xDone = new Promise((r) => { x.onloadend = r; setTimeout(r, 5000); });
    x.send();
    setTimeout(() => x.abort(), 100);
    await xDone;
    const t = new XMLHttpRequest();
    t.open("GET", env.same + "/slow?ms=3000&p=xhr-timeout");
    t.timeout = 100;
    const tDone = new Promise((r) => { t.onloadend = r; setTimeout(r, 5000); });
    t.send();
    await tDone;
    await xhr("GET", env.refused + "/echo?p=xhr-refused");
    await c.forceFlush();
  `));
  const spans = exportedSpans();
  for (const url of [`${same.origin}/slow?ms=3000&p=fetch-abort`, `${same.origin}/slow?ms=3000&p=xhr-abort`,
    `${same.origin}/slow?ms=3000&p=xhr-timeout`, `http://127.0.0.1:${refusedPort}/echo?p=xhr-refused`]) {
    const s = spanFor(spans, url);
    assert.equal(s.status?.code, 2, `${url}: error status`);
    assert.ok(attr(s, "error.type"), `${url}: error.type set`);
  }
  await page.context().close();
});

test("a tracestate on the parent is sent with traceparent, only where traceparent is", async () => {
  const page = await newPage();
  await inPage(page, pageFn(`
    const c = window.canopy;
    ${INIT()}
    const p = c.startSpan("remote-child", { parent: { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 1, traceState: "rojo=00f067aa0ba902b7" } });
    await c.withSpan(p, () => Promise.all([drain(fetch(env.same + "/echo?p=ts")), drain(fetch(env.other + "/echo?p=ts-other")), xhr("GET", env.allowed + "/echo?p=ts-xhr")]));
    p.end();
    await c.forceFlush();
  `));
  const spans = exportedSpans();
  for (const [server, path] of [[same, "/echo?p=ts"], [allowed, "/echo?p=ts-xhr"]]) {
    const seen = seenFor(server, path);
    const span = spanFor(spans, server.origin + path);
    assertCarries(seen, span, path);
    assert.equal(span.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert.equal(seen.tracestate, "rojo=00f067aa0ba902b7", `${path}: tracestate sent`);
  }
  assertNoHeaders(seenFor(other, "/echo?p=ts-other"), "non-allowed origin");
  await page.context().close();
});

test("string URL patterns are read as the page's URL parser reads them: relative, any case, default port", async () => {
  const page = await newPage();
  await inPage(page, pageFn(`
    const c = window.canopy;
    const upper = (origin) => origin.replace("http://", "HTTP://").replace("localhost", "LocalHost");
    window.canopy.init({ serviceName: "prop", endpoint: env.same + "/v1/traces",
      propagateTraceHeaderCorsUrls: [upper(env.other) + "/echo?p=case-prop"],
      ignoreUrls: ["/echo?p=rel-ignored", upper(env.same) + "/echo?p=case-ignored"] });
    await c.startActiveSpan("parent-op", () => Promise.all([
      drain(fetch(env.same + "/echo?p=rel-ignored")),
      drain(fetch(env.same + "/echo?p=case-ignored")),
      drain(fetch(env.other + "/echo?p=case-prop")),
      drain(fetch(env.same + "/echo?p=rel-kept")),
    ]));
    await c.forceFlush();
  `));
  const spans = exportedSpans();
  for (const path of ["/echo?p=rel-ignored", "/echo?p=case-ignored"]) {
    assertNoHeaders(seenFor(same, path), `ignored ${path}`);
    assert.ok(!spans.some((s) => attr(s, "url.full") === same.origin + path), `no span for ignored ${path}`);
  }
  assertCarries(seenFor(other, "/echo?p=case-prop"), spanFor(spans, other.origin + "/echo?p=case-prop"), "propagated by a pattern in other case");
  assertCarries(seenFor(same, "/echo?p=rel-kept"), spanFor(spans, same.origin + "/echo?p=rel-kept"), "not ignored");
  await page.context().close();
});

test("sessionBaggage: baggage session.id=… goes with traceparent, to the same URLs only, next to the caller's own members", async () => {
  const page = await newPage();
  const r = await inPage(page, pageFn(`
    const c = window.canopy;
    await drain(fetch(env.same + "/echo?p=bg-before"));
    ${INIT(", sessionBaggage: true")}
    await c.startActiveSpan("op", () => Promise.all([
      drain(fetch(env.same + "/echo?p=bg-fetch")),
      drain(fetch(env.same + "/echo?p=bg-caller", { headers: { baggage: "tenant=acme" } })),
      drain(fetch(env.same + "/echo?p=bg-mine", { headers: { baggage: "session.id=app-chosen" } })),
      xhr("GET", env.allowed + "/echo?p=bg-xhr"),
      xhr("GET", env.same + "/echo?p=bg-xhr-caller", { headers: [["baggage", "tenant=acme"]] }),
      xhr("GET", env.same + "/echo?p=bg-xhr-mine", { headers: [["baggage", "session.id=app-chosen,userId=7"]] }),
      xhr("GET", env.same + "/echo?p=bg-xhr-mine-2", { headers: [["baggage", "tenant=acme"], ["Baggage", "session.id=app-chosen"]] }),
      drain(fetch(env.other + "/echo?p=bg-other")),
    ]));
    await c.shutdown();
    ${INIT()}
    await drain(fetch(env.same + "/echo?p=bg-off"));
    await c.forceFlush();
  `));
  const spans = exportedSpans();
  const session = attr(byName(spans, "op"), "session.id");
  assert.match(session, /^[0-9a-f]{32}$/);
  assert.equal(seenFor(same, "/echo?p=bg-fetch").baggage, `session.id=${session}`, "the span's session");
  assert.equal(seenFor(same, "/echo?p=bg-caller").baggage, `tenant=acme,session.id=${session}`, "added to the caller's members");
  assert.equal(seenFor(same, "/echo?p=bg-mine").baggage, "session.id=app-chosen", "never a second session.id");
  assert.equal(seenFor(allowed, "/echo?p=bg-xhr").baggage, `session.id=${session}`, "XHR to an allowed origin");
  assert.equal(seenFor(same, "/echo?p=bg-xhr-caller").baggage, `tenant=acme, session.id=${session}`, "XHR: added to the caller's members");
  assert.equal(seenFor(same, "/echo?p=bg-xhr-mine").baggage, "session.id=app-chosen,userId=7", "XHR: never a second session.id");
  assert.equal(seenFor(same, "/echo?p=bg-xhr-mine-2").baggage, "tenant=acme, session.id=app-chosen", "XHR: nor after the caller's second baggage header");
  assert.equal(seenFor(other, "/echo?p=bg-other").baggage, undefined, "not to an origin without traceparent");
  assert.equal(seenFor(same, "/echo?p=bg-off").baggage, undefined, "off by default");
  assert.equal(seenFor(same, "/echo?p=bg-before").baggage, undefined);
  void r;
  await page.context().close();
});

test("sampleRate 0: requests carry a traceparent ending in -00, and nothing is exported", async () => {
  const page = await newPage();
  const r = await inPage(page, pageFn(`
    const c = window.canopy;
    ${INIT(", sampleRate: 0")}
    let traceId;
    await c.startActiveSpan("unsampled", (s) => {
      traceId = s.spanContext().traceId;
      return Promise.all([drain(fetch(env.same + "/echo?p=s0-fetch")), xhr("GET", env.same + "/echo?p=s0-xhr"), drain(fetch(env.allowed + "/echo?p=s0-allowed"))]);
    });
    await drain(fetch(env.same + "/echo?p=s0-root"));
    await c.forceFlush();
    return { traceId };
  `));
  for (const [server, path, inParent] of [[same, "/echo?p=s0-fetch", true], [same, "/echo?p=s0-xhr", true], [allowed, "/echo?p=s0-allowed", true], [same, "/echo?p=s0-root", false]]) {
    const seen = seenFor(server, path);
    assert.equal(seen.traceparentValues.length, 1, `${path}: one traceparent`);
    const m = TP_RE.exec(seen.traceparent);
    assert.ok(m, `${path}: valid traceparent ${seen.traceparent}`);
    assert.equal(m[3], "00", `${path}: not sampled`);
    if (inParent) assert.equal(m[1], r.traceId, `${path}: in the unsampled parent's trace`);
  }
  assert.equal(exportedSpans().length, 0, "nothing exported");
  await page.context().close();
});

test("ignoreUrls (string at a boundary, RegExp): no span and no header", async () => {
  const page = await newPage();
  await inPage(page, pageFn(`
    const c = window.canopy;
    ${INIT(", ignoreUrls: [env.same + '/ignored', /skip-me/]")}
    await c.startActiveSpan("parent-op", () => Promise.all([
      drain(fetch(env.same + "/ignored")),
      drain(fetch(env.same + "/ignored/deeper")),
      drain(fetch(env.same + "/ignored?q=1")),
      drain(fetch(env.same + "/ignoredness")),
      drain(fetch(env.same + "/echo?x=skip-me")),
      drain(fetch(env.allowed + "/echo?x=skip-me")),
      xhr("GET", env.same + "/ignored/xhr"),
      xhr("GET", env.same + "/echo?x=skip-me-xhr", { async: false }),
      drain(fetch(env.same + "/echo?x=kept")),
    ]));
    await c.forceFlush();
  `));
  const spans = exportedSpans();
  for (const [server, path] of [[same, "/ignored"], [same, "/ignored/deeper"], [same, "/ignored?q=1"], [same, "/echo?x=skip-me"],
    [allowed, "/echo?x=skip-me"], [same, "/ignored/xhr"], [same, "/echo?x=skip-me-xhr"]]) {
    assertNoHeaders(seenFor(server, path), `ignored ${path}`);
    assert.ok(!spans.some((s) => attr(s, "url.full") === server.origin + path), `no span for ignored ${path}`);
  }
  assert.equal(options(allowed).length, 0, "an ignored cross-origin request gets no preflight from us");
  for (const path of ["/ignoredness", "/echo?x=kept"]) {
    assertCarries(seenFor(same, path), spanFor(spans, same.origin + path), `not ignored ${path}`);
  }
  await page.context().close();
});

test("propagateTraceHeaderCorsUrls: a string matches at a boundary, a RegExp the absolute URL", async () => {
  const page = await newPage();
  await inPage(page, pageFn(`
    const c = window.canopy;
    c.init({ serviceName: "prop", endpoint: env.same + "/v1/traces", propagateTraceHeaderCorsUrls: [env.other + "/api", new RegExp("^" + env.other.replace(/[.]/g, "[.]") + "/echo[?]rx-allowed$")] });
    await c.startActiveSpan("parent-op", () => Promise.all([
      drain(fetch(env.other + "/api")),
      drain(fetch(env.other + "/api/x")),
      drain(fetch(env.other + "/api?y=1")),
      drain(fetch(env.other + "/apix")),
      drain(fetch(env.other + "/echo?rx-allowed")),
      drain(fetch(env.other + "/echo?rx-other")),
      xhr("GET", env.other + "/api/xhr"),
      xhr("GET", env.other + "/apixhr"),
    ]));
    await c.forceFlush();
  `));
  const spans = exportedSpans();
  for (const path of ["/api", "/api/x", "/api?y=1", "/echo?rx-allowed", "/api/xhr"]) {
    assertCarries(seenFor(other, path), spanFor(spans, other.origin + path), `listed ${path}`);
  }
  for (const path of ["/apix", "/echo?rx-other", "/apixhr"]) {
    assertNoHeaders(seenFor(other, path), `not listed ${path}`);
    assert.ok(options(other).every((o) => o.path !== path), `no preflight for ${path}`);
  }
  await page.context().close();
});

test("a caller-set traceparent is never overwritten or doubled", async () => {
  const page = await newPage();
  await inPage(page, pageFn(`
    const c = window.canopy;
    ${INIT()}
    const TP = ${JSON.stringify(CALLER_TP)};
    await c.startActiveSpan("parent-op", () => Promise.all([
      drain(fetch(env.same + "/echo?p=caller-obj", { headers: { traceparent: TP } })),
      drain(fetch(env.same + "/echo?p=caller-headers", { headers: new Headers([["TraceParent", TP]]) })),
      drain(fetch(new Request(env.same + "/echo?p=caller-request", { headers: { traceparent: TP } }))),
      drain(fetch(env.allowed + "/echo?p=caller-allowed", { headers: [["traceparent", TP]] })),
      xhr("GET", env.same + "/echo?p=caller-xhr", { headers: [["Traceparent", TP]] }),
      xhr("GET", env.same + "/echo?p=caller-xhr-sync", { async: false, headers: [["traceparent", TP]] }),
    ]));
    await c.forceFlush();
  `));
  for (const [server, path] of [[same, "/echo?p=caller-obj"], [same, "/echo?p=caller-headers"], [same, "/echo?p=caller-request"],
    [allowed, "/echo?p=caller-allowed"], [same, "/echo?p=caller-xhr"], [same, "/echo?p=caller-xhr-sync"]]) {
    assert.deepEqual(seenFor(server, path).traceparentValues, [CALLER_TP], `${path}: the caller's traceparent, once`);
  }
  await page.context().close();
});

test("after shutdown(): no traceparent and no spans; fetch and XHR still work", async () => {
  const page = await newPage();
  const r = await inPage(page, pageFn(`
    const c = window.canopy;
    ${INIT()}
    const before = await drain(fetch(env.same + "/echo?p=before-shutdown"));
    await c.shutdown();
    const statuses = await Promise.all([
      drain(fetch(env.same + "/echo?p=after-shutdown")),
      drain(fetch(env.allowed + "/echo?p=after-shutdown-allowed")),
      xhr("GET", env.same + "/echo?p=after-shutdown-xhr"),
      xhr("GET", env.same + "/echo?p=after-shutdown-xhr-sync", { async: false }),
      c.startActiveSpan("after-shutdown-parent", () => drain(fetch(env.same + "/echo?p=after-shutdown-active"))),
    ]);
    await c.forceFlush();
    return { before, statuses };
  `));
  assert.deepEqual(r, { before: 200, statuses: [200, 200, 200, 200, 200] });
  const spans = exportedSpans();
  assertCarries(seenFor(same, "/echo?p=before-shutdown"), spanFor(spans, `${same.origin}/echo?p=before-shutdown`), "before shutdown");
  for (const [server, path] of [[same, "/echo?p=after-shutdown"], [allowed, "/echo?p=after-shutdown-allowed"], [same, "/echo?p=after-shutdown-xhr"],
    [same, "/echo?p=after-shutdown-xhr-sync"], [same, "/echo?p=after-shutdown-active"]]) {
    assertNoHeaders(seenFor(server, path), `after shutdown ${path}`);
    assert.ok(!spans.some((s) => attr(s, "url.full") === server.origin + path), `no span after shutdown for ${path}`);
  }
  assert.equal(options(allowed).length, 0, "no preflight after shutdown");
  await page.context().close();
});

test("init twice, and init → shutdown → init (StrictMode): one traceparent and one span per request", async () => {
  const page = await newPage();
  await inPage(page, pageFn(`
    const c = window.canopy;
    ${INIT()}
    ${INIT()}
    await c.startActiveSpan("twice", () => Promise.all([
      drain(fetch(env.same + "/echo?p=twice-fetch")),
      drain(fetch(env.allowed + "/echo?p=twice-allowed")),
      xhr("GET", env.same + "/echo?p=twice-xhr"),
      xhr("GET", env.same + "/echo?p=twice-xhr-sync", { async: false }),
    ]));
    await c.forceFlush();
    await c.shutdown();
    ${INIT()}
    await c.startActiveSpan("remount", () => Promise.all([
      drain(fetch(env.same + "/echo?p=remount-fetch")),
      xhr("GET", env.same + "/echo?p=remount-xhr"),
    ]));
    await c.forceFlush();
  `));
  const spans = exportedSpans();
  for (const [name, list] of [["twice", [[same, "/echo?p=twice-fetch"], [allowed, "/echo?p=twice-allowed"], [same, "/echo?p=twice-xhr"], [same, "/echo?p=twice-xhr-sync"]]],
    ["remount", [[same, "/echo?p=remount-fetch"], [same, "/echo?p=remount-xhr"]]]]) {
    const parent = byName(spans, name);
    for (const [server, path] of list) {
      const span = spanFor(spans, server.origin + path); // asserts exactly one span
      assert.equal(span.parentSpanId, parent.spanId, `${path}: child of ${name}`);
      assertCarries(seenFor(server, path), span, path); // asserts exactly one header value
    }
  }
  await page.context().close();
});

test("another library wraps fetch and XHR after init; shutdown → init again: still one header and one span", async () => {
  const page = await newPage();
  await inPage(page, pageFn(`
    const c = window.canopy;
    ${INIT()}
    // A third party (an error tracker, say) wraps what it finds, after Canopy: shutdown cannot
    // restore the originals, so the next init must not stack a second live wrapper.
    const inner = window.fetch;
    window.fetch = function fetch(input, init) { return inner.apply(this, arguments); };
    const innerSend = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.send = function send() { return innerSend.apply(this, arguments); };
    await c.shutdown();
    ${INIT()}
    await c.startActiveSpan("wrapped", () => Promise.all([
      drain(fetch(env.same + "/echo?p=wrapped-fetch")),
      drain(fetch(env.allowed + "/echo?p=wrapped-allowed")),
      xhr("GET", env.same + "/echo?p=wrapped-xhr"),
      xhr("GET", env.other + "/echo?p=wrapped-other"),
    ]));
    await c.forceFlush();
  `));
  const spans = exportedSpans();
  const parent = byName(spans, "wrapped");
  for (const [server, path] of [[same, "/echo?p=wrapped-fetch"], [allowed, "/echo?p=wrapped-allowed"], [same, "/echo?p=wrapped-xhr"]]) {
    const span = spanFor(spans, server.origin + path);
    assert.equal(span.parentSpanId, parent.spanId, `${path}: child of wrapped`);
    assertCarries(seenFor(server, path), span, path);
  }
  assertNoHeaders(seenFor(other, "/echo?p=wrapped-other"), "non-allowed origin");
  spanFor(spans, `${other.origin}/echo?p=wrapped-other`);
  await page.context().close();
});

test("xray: true: X-Ray compatible trace ids, and X-Amzn-Trace-Id next to traceparent (fetch and XHR), only where traceparent goes", async () => {
  const page = await newPage();
  await inPage(page, pageFn(`
    const c = window.canopy;
    ${INIT(", xray: true")}
    await c.startActiveSpan("xray-op", async () => {
      await Promise.all([
        drain(fetch(env.same + "/echo?p=xray-fetch")),
        xhr("GET", env.same + "/echo?p=xray-xhr"),
        drain(fetch(env.allowed + "/echo?p=xray-allowed")),
        drain(fetch(env.other + "/echo?p=xray-other")),
      ]);
    });
    await c.forceFlush();
  `));
  const spans = exportedSpans();
  const root = byName(spans, "xray-op");
  const secs = parseInt(root.traceId.slice(0, 8), 16);
  assert.ok(Math.abs(secs - Date.now() / 1000) < 120, `the trace id starts with the epoch seconds (${root.traceId})`);
  for (const [server, path] of [[same, "/echo?p=xray-fetch"], [same, "/echo?p=xray-xhr"], [allowed, "/echo?p=xray-allowed"]]) {
    const seen = seenFor(server, path);
    const span = spanFor(spans, server.origin + path);
    const want = `Root=1-${span.traceId.slice(0, 8)}-${span.traceId.slice(8)};Parent=${span.spanId};Sampled=1`;
    assert.equal(seen.xAmznTraceId, want, `${path}: X-Amzn-Trace-Id names the CLIENT span, with no space after ';'`);
    assert.equal(seen.traceparent, `00-${span.traceId}-${span.spanId}-01`, `${path}: and traceparent the same`);
  }
  assert.equal(seenFor(other, "/echo?p=xray-other").xAmznTraceId, undefined, "not to origins that get no traceparent");
  await page.context().close();
});
