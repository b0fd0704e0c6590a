// The JavaScript API in real headless Chromium and Firefox, exported to a real local sink.
// Run: node --test tests/e2e/   (after `make pkg`; `make test` does both)
import { describe, test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { browsers, launch, receivedSpans, attr, spansOfService } from "./harness.mjs";

for (const browser of browsers()) describe(browser, () => {
  let h;
  before(async () => { h = await launch(browser); });
  after(async () => { await h.close(); });
  beforeEach(() => { h.sink.received.length = 0; });

  const byName = (spans, name) => {
    const s = spans.find((x) => x.name === name);
    assert.ok(s, `span ${name} exported; got ${spans.map((x) => x.name).join(", ")}`);
    return s;
  };

  test("nested synchronous startActiveSpan builds the tree and ends each span", async () => {
    const page = await h.page();
    const ret = await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "nested" });
      const r = c.startActiveSpan("outer", (outer) => {
        const seen = [c.getActiveSpan().spanContext().spanId === outer.spanContext().spanId];
        c.startActiveSpan("inner", () => {
          c.startSpan("leaf").end();
        });
        c.startSpan("sibling").end();
        return 42;
      });
      const afterActive = c.getActiveSpan();
      c.startSpan("after").end();
      await c.forceFlush();
      return { r, afterActive: afterActive === undefined };
    });
    assert.equal(ret.r, 42, "the callback's value is returned");
    assert.ok(ret.afterActive, "nothing is active after the callback");
    const spans = receivedSpans(h.sink);
    const outer = byName(spans, "outer"), inner = byName(spans, "inner");
    assert.equal(inner.parentSpanId, outer.spanId);
    assert.equal(byName(spans, "leaf").parentSpanId, inner.spanId);
    assert.equal(byName(spans, "sibling").parentSpanId, outer.spanId);
    assert.equal(byName(spans, "after").parentSpanId, undefined, "a span after the callback is a root");
    assert.notEqual(byName(spans, "after").traceId, outer.traceId);
    await page.context().close();
  });

  test("the seed's scenario: loadData with fetchData and, after an await, processData", async () => {
    const page = await h.page();
    await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "cruddur-frontend" });
      await c.startActiveSpan("loadData", async (span) => {
        const fetchSpan = c.startSpan("fetchData", { kind: 2 });
        const res = await fetch("/tests/e2e/pages/api.html");
        await res.text();
        fetchSpan.setAttribute("http.response.status_code", res.status);
        fetchSpan.end();
        const processSpan = span.startSpan("processData");
        await new Promise((r) => setTimeout(r, 5));
        processSpan.end();
        c.withSpan(span, () => c.startSpan("render").end());
      });
      await c.forceFlush();
    });
    const spans = receivedSpans(h.sink);
    const load = byName(spans, "loadData");
    for (const child of ["fetchData", "processData", "render"]) {
      const s = byName(spans, child);
      assert.equal(s.parentSpanId, load.spanId, `${child} is a child of loadData`);
      assert.equal(s.traceId, load.traceId);
    }
    assert.equal(byName(spans, "fetchData").kind, 3, "OTel JS kind 2 (client) is OTLP 3");
    assert.ok(BigInt(load.endTimeUnixNano) >= BigInt(byName(spans, "processData").endTimeUnixNano),
      "loadData ends when its Promise settles, after processData");
    await page.context().close();
  });

  test("a Promise-returning callback ends its span when the Promise settles", async () => {
    const page = await h.page();
    const r = await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "p" });
      let recordingDuring, recordingAfter, span;
      const p = c.startActiveSpan("slow", async (s) => {
        span = s;
        await new Promise((r) => setTimeout(r, 30));
        recordingDuring = s.isRecording();
        return "value";
      });
      const activeAfterSyncPart = c.getActiveSpan();
      const v = await p;
      recordingAfter = span.isRecording();
      await c.forceFlush();
      return { v, recordingDuring, recordingAfter, activeAfterSyncPart: activeAfterSyncPart === undefined, isPromise: p instanceof Promise };
    });
    assert.deepEqual(r, { v: "value", recordingDuring: true, recordingAfter: false, activeAfterSyncPart: true, isPromise: true });
    const s = byName(receivedSpans(h.sink), "slow");
    const ms = Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1e6;
    assert.ok(ms >= 25, `span covers the awaited time (${ms} ms)`);
    assert.equal(s.status, undefined, "success leaves the status unset");
    await page.context().close();
  });

  test("a thrown exception is recorded and rethrown unchanged", async () => {
    const page = await h.page();
    const r = await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "throws" });
      const err = new TypeError("boom");
      let same = false;
      try {
        c.startActiveSpan("sync-throw", () => { throw err; });
      } catch (e) { same = e === err; }
      const activeAfter = c.getActiveSpan() === undefined;
      await c.forceFlush();
      return { same, activeAfter };
    });
    assert.deepEqual(r, { same: true, activeAfter: true });
    const s = byName(receivedSpans(h.sink), "sync-throw");
    assert.deepEqual(s.status, { code: 2, message: "boom" });
    const ev = s.events.find((e) => e.name === "exception");
    assert.equal(attr(ev, "exception.type"), "TypeError");
    assert.equal(attr(ev, "exception.message"), "boom");
    if (browser === "firefox") {
      // Firefox's Error.stack has only the frames ("fn@url:line:col"), no "TypeError: boom" header line.
      assert.match(attr(ev, "exception.stacktrace"), /@.+:\d+:\d+/);
    } else {
      assert.match(attr(ev, "exception.stacktrace"), /TypeError: boom/);
    }
    await page.context().close();
  });

  test("a rejected Promise is recorded and reaches the caller unchanged", async () => {
    const page = await h.page();
    const r = await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "rejects" });
      const err = new RangeError("nope");
      let same = false, unhandled = 0;
      window.addEventListener("unhandledrejection", () => unhandled++);
      try {
        await c.startActiveSpan("async-reject", {}, async () => { await null; throw err; });
      } catch (e) { same = e === err; }
      const nonError = await c.startActiveSpan("reject-string", () => Promise.reject("plain")).catch((e) => e);
      await new Promise((r) => setTimeout(r, 10));
      await c.forceFlush();
      return { same, nonError, unhandled };
    });
    assert.deepEqual(r, { same: true, nonError: "plain", unhandled: 0 });
    const spans = receivedSpans(h.sink);
    assert.deepEqual(byName(spans, "async-reject").status, { code: 2, message: "nope" });
    assert.equal(attr(byName(spans, "async-reject").events[0], "exception.type"), "RangeError");
    assert.deepEqual(byName(spans, "reject-string").status, { code: 2, message: "plain" });
    await page.context().close();
  });

  test("two interleaved async flows never pick up each other's spans", async () => {
    const page = await h.page();
    await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "interleave" });
      const tick = (ms) => new Promise((r) => setTimeout(r, ms));
      const flow = (name, delays) => c.startActiveSpan(name, async (root) => {
        for (let i = 0; i < delays.length; i++) {
          await tick(delays[i]);
          // Implicit: after an await nothing is current, so this is a new root, never the other flow's child.
          c.startSpan(`${name}-implicit-${i}`).end();
          // Explicit: the right parent, whatever ran in between.
          c.withSpan(root, () => c.startSpan(`${name}-step-${i}`).end());
          root.startSpan(`${name}-child-${i}`).end();
          c.startSpan(`${name}-opt-${i}`, { parent: root }).end();
        }
      });
      document.body.addEventListener("click", () => c.startSpan("click-handler").end());
      const a = flow("A", [5, 1, 7, 2]);
      const b = flow("B", [1, 6, 2, 5]);
      setTimeout(() => document.body.click(), 3);
      await Promise.all([a, b]);
      await c.forceFlush();
    });
    const spans = receivedSpans(h.sink);
    const A = byName(spans, "A"), B = byName(spans, "B");
    assert.notEqual(A.traceId, B.traceId);
    for (const [flow, root] of [["A", A], ["B", B]]) {
      for (let i = 0; i < 4; i++) {
        for (const kind of ["step", "child", "opt"]) {
          const s = byName(spans, `${flow}-${kind}-${i}`);
          assert.equal(s.parentSpanId, root.spanId, `${flow}-${kind}-${i} under ${flow}`);
          assert.equal(s.traceId, root.traceId);
        }
        const implicit = byName(spans, `${flow}-implicit-${i}`);
        assert.equal(implicit.parentSpanId, undefined, `${flow}-implicit-${i} is not guessed into a flow`);
        assert.ok(implicit.traceId !== A.traceId && implicit.traceId !== B.traceId);
      }
    }
    const click = byName(spans, "click-handler");
    assert.equal(click.parentSpanId, undefined, "an event handler during both flows gets no parent from them");
    await page.context().close();
  });

  test("explicit parents after await: parent option with a SpanContext, root option, links", async () => {
    const page = await h.page();
    await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "explicit" });
      const parent = c.startSpan("parent");
      await new Promise((r) => setTimeout(r, 1));
      const ctx = parent.spanContext();
      c.startSpan("from-context", { parent: ctx }).end();
      c.withSpan(parent, () => {
        c.startSpan("forced-root", { root: true }).end();
        c.startSpan("linked", { links: [{ context: ctx, attributes: { why: "retry" } }] }).end();
      });
      c.startSpan("bad-parent", { parent: { traceId: "nope", spanId: "x", traceFlags: 1 } }).end();
      parent.end();
      await c.forceFlush();
    });
    const spans = receivedSpans(h.sink);
    const parent = byName(spans, "parent");
    assert.equal(byName(spans, "from-context").parentSpanId, parent.spanId);
    assert.equal(byName(spans, "forced-root").parentSpanId, undefined);
    const linked = byName(spans, "linked");
    assert.equal(linked.parentSpanId, parent.spanId);
    assert.equal(linked.links[0].spanId, parent.spanId);
    assert.equal(attr(linked.links[0], "why"), "retry");
    assert.equal(byName(spans, "bad-parent").parentSpanId, undefined, "an unreadable parent gives a root, never a guess");
    await page.context().close();
  });

  test("span methods: attributes of every type, events, status, rename, explicit times", async () => {
    const page = await h.page();
    const r = await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "methods" });
      const start = Date.now() - 1000;
      const s = c.startSpan("before-rename", { startTime: start, attributes: { "a.str": "x", "a.obj": { bad: 1 } }, kind: "server" });
      s.setAttribute("a.int", 7);
      s.setAttribute("a.double", 1.25);
      s.setAttribute("a.bool", true);
      s.setAttribute("a.big", 1234567890123456789n);
      s.setAttribute("a.too-big", 12345678901234567890n);
      s.setAttribute("a.strs", ["x", "y"]);
      s.setAttribute("a.nums", [1, 2.5]);
      s.setAttribute("a.mixed", [1, "x"]);
      s.setAttribute("a.null", null);
      s.setAttributes({ "b.one": 1, "b.two": "2" });
      s.addEvent("ev-now", { k: "v" });
      s.addEvent("ev-at", { k: 1 }, new Date(start + 10));
      s.addEvent("ev-time-only", start + 20);
      s.recordException("just a string");
      s.setStatus({ code: 1 });
      s.setStatus({ code: 2, message: "ignored after ok" });
      s.updateName("renamed");
      s.end(new Date(start + 500));
      s.end();
      await c.forceFlush();
      return { start, recording: s.isRecording(), ctx: s.spanContext() };
    });
    assert.equal(r.recording, false);
    assert.match(r.ctx.traceId, /^[0-9a-f]{32}$/);
    assert.match(r.ctx.spanId, /^[0-9a-f]{16}$/);
    assert.equal(r.ctx.traceFlags & 1, 1);
    const spans = receivedSpans(h.sink);
    assert.equal(spans.length, 1, "ended once");
    const s = spans[0];
    assert.equal(s.name, "renamed");
    assert.equal(s.kind, 2, "server");
    assert.equal(s.startTimeUnixNano, String(BigInt(r.start) * 1000000n));
    assert.equal(s.endTimeUnixNano, String(BigInt(r.start + 500) * 1000000n));
    assert.equal(attr(s, "a.str"), "x");
    assert.equal(attr(s, "a.obj"), undefined, "an object value is dropped");
    assert.equal(attr(s, "a.int"), 7);
    assert.deepEqual(s.attributes.find((a) => a.key === "a.int").value, { intValue: "7" });
    assert.deepEqual(s.attributes.find((a) => a.key === "a.double").value, { doubleValue: 1.25 });
    assert.equal(attr(s, "a.bool"), true);
    assert.deepEqual(s.attributes.find((a) => a.key === "a.big").value, { intValue: "1234567890123456789" }, "bigint kept exactly");
    assert.equal(attr(s, "a.too-big"), undefined, "a bigint outside i64 is dropped");
    assert.deepEqual(attr(s, "a.strs"), { values: [{ stringValue: "x" }, { stringValue: "y" }] });
    assert.deepEqual(attr(s, "a.nums"), { values: [{ doubleValue: 1 }, { doubleValue: 2.5 }] });
    assert.equal(attr(s, "a.mixed"), undefined, "a mixed array is dropped");
    assert.equal(attr(s, "a.null"), undefined);
    assert.equal(attr(s, "b.two"), "2");
    assert.deepEqual(s.status, { code: 1 }, "ok is final");
    const names = s.events.map((e) => e.name);
    assert.deepEqual(names, ["ev-now", "ev-at", "ev-time-only", "exception"]);
    assert.equal(s.events[1].timeUnixNano, String(BigInt(r.start + 10) * 1000000n));
    assert.equal(s.events[2].timeUnixNano, String(BigInt(r.start + 20) * 1000000n));
    assert.equal(attr(s.events[3], "exception.message"), "just a string");
    await page.context().close();
  });

  test("hostile input never throws from a tracing call nor leaks into another span", async () => {
    const page = await h.page();
    const r = await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "hostile" });
      const thrown = [];
      const attempt = (label, f) => { try { f(); } catch (e) { thrown.push(`${label}: ${e}`); } };
      // A sparse array's length is 2^30 + 1: sizing a list from it overflowed the allocation
      // (a wasm trap surfaced as "RuntimeError: unreachable").
      const sparse = ["first"];
      sparse[2 ** 30] = "last";
      attempt("sparse array", () => c.startSpan("sparse").setAttribute("arr", sparse).setAttribute("ok", 1).end());
      attempt("array proxy", () => c.startSpan("proxy").setAttribute("arr", new Proxy(["a"], { get() { throw new Error("trap"); } })).setAttribute("ok", 2).end());
      // A getter that throws after another attribute was handed over: nothing may stay pending
      // for the next span.
      const getter = { "first.attr": 1, get second() { throw new Error("getter"); }, third: 3 };
      attempt("throwing getter", () => c.startSpan("getter", { attributes: getter }).end());
      attempt("throwing keys", () => c.startSpan("keys", { attributes: new Proxy({}, { ownKeys() { throw new Error("keys"); } }) }).end());
      attempt("unprintable name", () => c.startSpan(Object.create(null)).end());
      attempt("throwing toString", () => c.startSpan({ toString() { throw new Error("toString"); } }).end());
      attempt("event", () => c.startSpan("event").addEvent({ toString() { throw new Error("x"); } }, getter).end());
      // Read by index up to a bound: iterating a sparse links array to its length hung the page.
      const sparseLinks = [{ context: { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 1 } }];
      sparseLinks[2 ** 30] = sparseLinks[0];
      attempt("sparse links", () => c.startSpan("links", { links: sparseLinks }).end());
      c.startSpan("clean").end();
      await c.forceFlush();
      return { thrown };
    });
    assert.deepEqual(r.thrown, [], "no tracing call threw");
    const spans = receivedSpans(h.sink);
    const keys = (name) => byName(spans, name).attributes?.map((a) => a.key).filter((k) => k !== "session.id") ?? [];
    assert.deepEqual(keys("sparse"), ["ok"], "the sparse array is skipped (its first hole is not a string), the span kept");
    assert.deepEqual(keys("proxy"), ["ok"], "the proxy is skipped, the span kept");
    assert.deepEqual(keys("getter"), ["first.attr", "third"], "the throwing getter's attribute is skipped");
    assert.deepEqual(keys("keys"), []);
    assert.deepEqual(keys("clean"), [], "nothing was left pending for the next span");
    assert.equal(spans.filter((x) => x.name === "").length, 2, "unprintable names become empty names");
    assert.deepEqual(byName(spans, "links").links.map((l) => l.spanId), ["00f067aa0ba902b7"], "the sparse links array's first entry, read up to a bound");
    const ev = byName(spans, "event").events;
    assert.equal(ev.length, 1);
    assert.deepEqual(ev[0].attributes.map((a) => a.key), ["first.attr", "third"]);
    await page.context().close();
  });

  test("timestamps are epoch nanoseconds, sub-millisecond and monotonic", async () => {
    const page = await h.page();
    const { now, subMsClock } = await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "time" });
      for (let i = 0; i < 50; i++) c.startSpan(`t${i}`).end();
      await c.forceFlush();
      let subMsClock = false;
      for (let i = 0; i < 1000 && !subMsClock; i++) subMsClock = performance.now() % 1 !== 0;
      return { now: Date.now(), subMsClock };
    });
    const spans = receivedSpans(h.sink).sort((a, b) => Number(a.name.slice(1)) - Number(b.name.slice(1)));
    let prev = 0n, fractional = 0;
    for (const s of spans) {
      const st = BigInt(s.startTimeUnixNano), en = BigInt(s.endTimeUnixNano);
      assert.ok(st >= prev && en >= st, "monotonic");
      if (st % 1000000n !== 0n) fractional++;
      prev = st;
    }
    if (browser === "firefox") {
      // Firefox clamps performance.now() to 1 ms (privacy.reduceTimerPrecision): sub-ms only if its clock has it.
      assert.ok(fractional > 0 || !subMsClock, `sub-millisecond resolution when the page clock has it (${fractional})`);
    } else {
      assert.ok(fractional > 0, "sub-millisecond resolution");
    }
    const driftMs = Math.abs(Number(prev / 1000000n) - now);
    assert.ok(driftMs < 5000, `close to Date.now() (${driftMs} ms)`);
    await page.context().close();
  });

  test("the OTLP request: headers, resource, scope, encoding", async () => {
    const page = await h.page();
    const ua = await page.evaluate(async () => {
      const c = window.canopy;
      c.init({
        serviceName: "frontend", serviceVersion: "1.2.3", environment: "test",
        headers: { "x-team": "web" }, resourceAttributes: { "app.region": "eu", "service.name": "overridden" },
      });
      c.startSpan("one").end();
      await c.forceFlush();
      return navigator.userAgent;
    });
    assert.equal(h.sink.received.length, 1);
    const req = h.sink.received[0];
    assert.equal(req.headers["content-type"], "application/json");
    assert.equal(req.headers["x-team"], "web");
    const rs = req.body.resourceSpans[0];
    const res = Object.fromEntries(rs.resource.attributes.map((a) => [a.key, a.value.stringValue]));
    assert.equal(res["service.name"], "frontend", "serviceName wins over resourceAttributes");
    assert.equal(res["service.version"], "1.2.3");
    assert.equal(res["deployment.environment.name"], "test");
    assert.equal(res["telemetry.sdk.name"], "canopy");
    assert.equal(res["telemetry.sdk.language"], "webjs");
    assert.match(res["telemetry.sdk.version"], /^\d+\.\d+\.\d+/);
    assert.equal(res["user_agent.original"], ua);
    assert.ok(res["browser.language"]);
    assert.equal(res["session.id"], undefined, "session.id is a span attribute (tests/e2e/auto.test.mjs)");
    assert.equal(res["app.region"], "eu");
    assert.equal(rs.scopeSpans[0].scope.name, "canopy-web");
    const s = rs.scopeSpans[0].spans[0];
    assert.match(s.traceId, /^[0-9a-f]{32}$/);
    assert.equal(typeof s.startTimeUnixNano, "string");
    await page.context().close();
  });

  test("session.id is kept for the tab across reloads", async () => {
    const page = await h.page();
    const getSession = async () => {
      h.sink.received.length = 0;
      await page.evaluate(async () => {
        window.canopy.init({ serviceName: "session" });
        window.canopy.startSpan("s").end();
        await window.canopy.forceFlush();
      });
      return attr(receivedSpans(h.sink)[0], "session.id");
    };
    const first = await getSession();
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ready === "1");
    assert.equal(await getSession(), first);
    const other = await h.page();
    h.sink.received.length = 0;
    await other.evaluate(async () => {
      window.canopy.init({ serviceName: "session" });
      window.canopy.startSpan("s").end();
      await window.canopy.forceFlush();
    });
    assert.notEqual(attr(receivedSpans(h.sink)[0], "session.id"), first,
      "another tab has another session");
    await page.context().close();
    await other.context().close();
  });

  test("init validates: one clear error listing every problem; unknown keys warn", async () => {
    const page = await h.page();
    const r = await page.evaluate(() => {
      const c = window.canopy;
      const attempt = (cfg) => { try { c.init(cfg); return null; } catch (e) { return { isError: e instanceof Error, message: e.message }; } };
      return {
        empty: attempt({}),
        many: attempt({ serviceName: "", endpoint: "not a url", sampleRate: 2, batch: { maxQueueSize: -1 } }),
        notObject: attempt("svc"),
        wrongType: attempt({ serviceName: 5 }),
        unknown: attempt({ serviceName: "ok", sampelRate: 0.5 }),
        // Sparse arrays (length 2^30 + 1): read item by item, the first hole is the problem;
        // a list sized from the length would trap the .wasm.
        sparseUrls: attempt({ serviceName: "ok", ignoreUrls: sparse("/health") }),
        sparseInteractions: attempt({ serviceName: "ok", interactions: sparse("click") }),
        fetchStillWorks: typeof window.fetch === "function",
      };
      function sparse(first) {
        const a = [first];
        a[2 ** 30] = first;
        return a;
      }
    });
    assert.equal(r.empty.isError, true);
    assert.match(r.empty.message, /serviceName is required/);
    assert.match(r.many.message, /serviceName is required/);
    assert.match(r.many.message, /endpoint "not a url" is not an http\(s\) URL/);
    assert.match(r.many.message, /sampleRate must be a number from 0 to 1, got 2/);
    assert.match(r.many.message, /batch\.maxQueueSize must be a whole number/);
    assert.match(r.notObject.message, /must be an object/);
    assert.match(r.wrongType.message, /serviceName must be a string/);
    assert.equal(r.unknown, null, "an unknown key is not an error");
    assert.match(r.sparseUrls.message, /ignoreUrls must be strings and RegExps/);
    assert.match(r.sparseInteractions.message, /interactions must be a boolean or an array of event types/);
    assert.ok(page.consoleMessages.some((m) => m.type === "warning" && /unknown config key "sampelRate"/.test(m.text)));
    await page.context().close();
  });

  test("init twice keeps one pipeline; shutdown flushes and stops; init works again", async () => {
    const page = await h.page();
    await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "first" });
      c.init({ serviceName: "second" });
      c.startSpan("once").end();
      await c.forceFlush();
      c.startSpan("flushed-by-shutdown").end();
      await c.shutdown();
      c.startSpan("after-shutdown").end();
      await c.forceFlush();
      c.init({ serviceName: "third" });
      c.startSpan("after-reinit").end();
      await c.forceFlush();
    });
    const spans = receivedSpans(h.sink);
    assert.deepEqual(spans.map((s) => s.name), ["once", "flushed-by-shutdown", "after-reinit"]);
    const svc = (s) => s.resource.attributes.find((a) => a.key === "service.name").value.stringValue;
    assert.equal(svc(spans[0]), "first", "the second init did not replace the pipeline");
    assert.equal(svc(spans[2]), "third");
    assert.ok(page.consoleMessages.some((m) => /init called while already running/.test(m.text)));
    await page.context().close();
  });

  test("shutdown then init without waiting: what shutdown flushes still arrives, with its own service", async () => {
    const page = await h.page();
    await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "before-reinit", batch: { scheduledDelayMillis: 60000 } });
      c.startSpan("ended-before-shutdown").end();
      const stopped = c.shutdown();
      c.init({ serviceName: "after-reinit", batch: { scheduledDelayMillis: 60000 } });
      c.startSpan("ended-after-init").end();
      await stopped;
      await c.forceFlush();
    });
    const spans = receivedSpans(h.sink);
    const svc = (s) => s.resource.attributes.find((a) => a.key === "service.name").value.stringValue;
    assert.equal(svc(byName(spans, "ended-before-shutdown")), "before-reinit");
    assert.equal(svc(byName(spans, "ended-after-init")), "after-reinit");
    assert.equal(spans.length, 2, "each once");
    await page.context().close();
  });

  test("hostile arguments never throw into the page, and a getter's own spans take nothing of the caller's", async () => {
    const page = await h.page();
    const r = await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "hostile" });
      const boom = () => { throw new Error("boom"); };
      const revoked = Proxy.revocable({}, {});
      revoked.revoke();
      const cases = {
        "setStatus with a BigInt code": () => c.startSpan("s").setStatus({ code: 2n }).end(),
        "setStatus with a throwing getter": () => c.startSpan("s").setStatus({ get code() { return boom(); } }).end(),
        "an HrTime of BigInts": () => c.startSpan("s", { startTime: [1n, 0] }).end([1n, 0]),
        "a revoked Proxy as time and attributes": () => c.startSpan("s").addEvent("e", revoked.proxy).end(revoked.proxy),
        "options getters that throw": () => c.startSpan("s", { get kind() { return boom(); }, get links() { return boom(); } }).end(),
        "a link whose context throws": () => c.startSpan("s").addLink({ get context() { return boom(); } }).end(),
        "emitLog with a BigInt severity": () => c.emitLog?.(9n, "m"),
        "a log for a revoked Proxy span": () => c.log.info("m", undefined, revoked.proxy),
        "withSpan with a revoked Proxy": () => c.withSpan(revoked.proxy, () => 1),
        "a callback result whose then throws": () => c.startActiveSpan("then-throws", () => ({ get then() { return boom(); } })),
      };
      const thrown = {};
      for (const [name, f] of Object.entries(cases)) {
        try { f(); } catch (e) { thrown[name] = String(e); }
      }
      // A getter that starts a span of its own while the caller's attributes are being read.
      c.startSpan("outer", { attributes: { "outer.a": 1, get "outer.b"() { c.startSpan("inner").end(); return 2; } } }).end();
      // A getter that adds a timed event to another span: the event takes none of the caller's.
      const other = c.startSpan("other");
      c.startSpan("outer-event", { attributes: { "x": 1, get y() { other.addEvent("tick", performance.now()); return 2; } } }).end();
      other.end();
      // A parent whose traceState starts a span: the child still joins that parent's trace.
      const parent = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 1,
        traceState: { serialize() { c.startSpan("from-serialize").end(); return "k=v"; } } };
      c.startSpan("child-of-remote", { parent }).end();
      // Times that are not times: the span gets the time now, not 1970 or the year 2554.
      const t0 = Date.now();
      c.startSpan("bad-times", { startTime: Infinity }).end(1e300);
      const t1 = Date.now();
      await c.forceFlush();
      return { thrown, t0, t1 };
    });
    assert.deepEqual(r.thrown, {}, "no call threw");
    const spans = receivedSpans(h.sink);
    assert.ok(byName(spans, "then-throws").endTimeUnixNano, "the span of a result whose then throws is ended");
    const keys = (name) => (byName(spans, name).attributes ?? []).map((a) => a.key).filter((k) => k !== "session.id");
    assert.deepEqual(keys("outer"), ["outer.a", "outer.b"], "the caller's attributes stay on its span");
    assert.deepEqual(keys("inner"), [], "and none go to the getter's span");
    assert.deepEqual(keys("outer-event"), ["x", "y"]);
    assert.deepEqual(byName(spans, "other").events[0].attributes ?? [], [], "nor to the getter's event");
    const child = byName(spans, "child-of-remote");
    assert.equal(child.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert.equal(child.parentSpanId, "00f067aa0ba902b7");
    assert.equal(child.traceState, "k=v");
    const bad = byName(spans, "bad-times");
    for (const t of [bad.startTimeUnixNano, bad.endTimeUnixNano]) {
      const ms = Number(BigInt(t) / 1000000n);
      // The page clock (timeOrigin + performance.now()) and Date.now() drift apart by some
      // milliseconds (Firefox): a minute either way tells the time now from 1970 or 2554.
      assert.ok(ms >= r.t0 - 60000 && ms <= r.t1 + 60000, `${t} is about the time it was called (${r.t0})`);
    }
    assert.deepEqual(page.consoleMessages.filter((m) => m.type === "pageerror"), []);
    await page.context().close();
  });

  test("long span names are not kept for the page's life (Chromium: performance.memory)", { skip: browser !== "chromium" }, async () => {
    const page = await h.page();
    const grew = await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "long-names", sampleRate: 0 }); // not recorded: only the name tables are measured
      const heap = () => { window.gc(); return performance.memory.usedJSHeapSize; };
      const before = heap();
      for (let i = 0; i < 50; i++) c.startSpan(`${i}:${"x".repeat(200000)}`).end(); // 10 MB of distinct names
      return heap() - before;
    });
    assert.ok(grew < 2e6, `JS heap grew by ${grew} B after 50 distinct 200 KB names`);
    await page.context().close();
  });

  test("an unhandled rejection inside startActiveSpan still reaches the page's unhandledrejection", { timeout: 30000 }, async () => {
    const page = await h.page();
    const r = await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "unhandled" });
      const seen = [];
      const heard = new Promise((res) => window.addEventListener("unhandledrejection", (e) => {
        seen.push(e.reason && e.reason.message);
        e.preventDefault();
        res();
      }));
      const err = new Error("inside-span");
      c.startActiveSpan("not-awaited", async () => { await null; throw err; }); // nobody handles it
      await heard; // bounded by the test's timeout
      const handled = await c.startActiveSpan("awaited", async () => 7);
      await c.forceFlush();
      return { seen, handled };
    });
    assert.deepEqual(r, { seen: ["inside-span"], handled: 7 });
    const spans = receivedSpans(h.sink);
    assert.equal(byName(spans, "not-awaited").status.code, 2, "and the span records it");
    await page.context().close();
  });

  test("sampleRate 0: spans propagate flags 00 but are never exported", async () => {
    const page = await h.page();
    const r = await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "unsampled", sampleRate: 0 });
      const s = c.startSpan("dropped");
      const child = s.startSpan("child");
      const out = { recording: s.isRecording(), flags: s.spanContext().traceFlags, sameTrace: child.spanContext().traceId === s.spanContext().traceId };
      child.end(); s.end();
      await c.forceFlush();
      return out;
    });
    assert.deepEqual(r, { recording: false, flags: 0, sameTrace: true });
    assert.deepEqual(spansOfService(h.sink, "unsampled"), [], "nothing exported");
    await page.context().close();
  });

  test("a server-rendered <meta name=traceparent> is continued by the first root spans", async () => {
    const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const page = await h.page(`?traceparent=${tp}&tracestate=rojo%3D00f067aa0ba902b7`);
    const ctx = await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "ssr" });
      const first = c.startSpan("documentLoad");
      const ctx = first.spanContext();
      first.end();
      c.startSpan("second-after-load").end();
      await c.forceFlush();
      return ctx;
    });
    assert.equal(ctx.traceState, "rojo=00f067aa0ba902b7");
    const spans = receivedSpans(h.sink);
    const first = byName(spans, "documentLoad");
    assert.equal(first.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert.equal(first.parentSpanId, "00f067aa0ba902b7");
    assert.equal(first.traceState, "rojo=00f067aa0ba902b7");
    assert.notEqual(byName(spans, "second-after-load").traceId, first.traceId, "after load, new roots start new traces");

    const bad = await h.page("?traceparent=00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01");
    h.sink.received.length = 0;
    await bad.evaluate(async () => {
      window.canopy.init({ serviceName: "ssr" });
      window.canopy.startSpan("root").end();
      await window.canopy.forceFlush();
    });
    const root = receivedSpans(h.sink)[0];
    assert.notEqual(root.traceId, "4bf92f3577b34da6a3ce929d0e0e4736", "an invalid (uppercase) traceparent is ignored");
    assert.equal(root.parentSpanId, undefined);
    await page.context().close();
    await bad.context().close();
  });

  test("span limits from config: value length and attribute count", async () => {
    const page = await h.page();
    await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "limits", spanLimits: { attributeValueLengthLimit: 3, attributeCountLimit: 2 } });
      const s = c.startSpan("limited");
      s.setAttribute("a", "abcdef");
      s.setAttribute("", "no key"); // not an attribute (OpenTelemetry): ignored, not counted
      s.setAttribute("b", "x");
      s.setAttribute("c", "dropped");
      s.end();
      c.startSpan("empty key in options", { attributes: { "": 1, d: 2 } }).end();
      await c.forceFlush();
    });
    const s = receivedSpans(h.sink)[0];
    assert.equal(attr(s, "a"), "abc");
    assert.equal(attr(s, "c"), undefined);
    assert.equal(s.droppedAttributesCount, 1);
    assert.deepEqual(s.attributes.map((a) => a.key).filter((k) => k !== "session.id"), ["a", "b"]);
    const o = receivedSpans(h.sink)[1];
    assert.deepEqual(o.attributes.map((a) => a.key).filter((k) => k !== "session.id"), ["d"]);
    assert.equal(o.droppedAttributesCount ?? 0, 0);
    await page.context().close();
  });

  test("string values, kept once and passed by id (up to a limit), come out as given on every span", async () => {
    const page = await h.page();
    const n = await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "values", spanLimits: { attributeValueLengthLimit: 4 } });
      // The same short values on many spans and keys, as options and by setAttribute; more
      // distinct repeating short values than the table keeps (300, each on two spans in a row, so
      // interned on its second; the table keeps 200); values cut
      // by the limit, one in the middle of a character; non-ASCII.
      let n = 0;
      for (let i = 0; i < 600; i++) {
        const s = c.startSpan(`v${i % 3}`, { attributes: { m: "GET", d: `${i >> 1}`, u: "ét" } });
        s.setAttribute("again", "GET");
        s.setAttribute("long", "abcdefgh");
        s.setAttribute("wide", "ééé");
        s.setAttribute("x", i % 2 ? "yes" : "no");
        s.end();
        n++;
      }
      // The table's "abcdefgh" (and "ééé") were cut in the spans only: as a name, each is whole.
      c.startSpan("abcdefgh").end();
      c.startSpan("ééé").end();
      await c.forceFlush();
      return n;
    });
    const all = receivedSpans(h.sink);
    assert.deepEqual(all.filter((s) => s.name === "abcdefgh" || s.name === "ééé").map((s) => s.name).sort(), ["abcdefgh", "ééé"]);
    const spans = all.filter((s) => s.name.startsWith("v"));
    assert.equal(spans.length, n);
    for (const s of spans) {
      assert.equal(attr(s, "m"), "GET");
      assert.equal(attr(s, "again"), "GET");
      assert.equal(attr(s, "u"), "ét");
      assert.equal(attr(s, "long"), "abcd", "a long value is cut on every span");
      assert.equal(attr(s, "wide"), "éé", "cut at a character boundary (4 bytes)");
      assert.ok(["yes", "no"].includes(attr(s, "x")));
    }
    // Each of the 300 values on its two spans, whether passed as text or by id.
    const want = Array.from({ length: n }, (_, i) => `${i >> 1}`).sort();
    assert.deepEqual(spans.map((s) => attr(s, "d")).sort(), want);
    assert.equal(spans.filter((s) => attr(s, "x") === "yes").length, n / 2);
    await page.context().close();
  });

  test("debug: true logs each exported batch as an indented tree", async () => {
    const page = await h.page();
    await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "debug", debug: true });
      c.startActiveSpan("loadData", () => { c.startSpan("fetchData", { kind: "client" }).end(); });
      await c.forceFlush();
    });
    const log = page.consoleMessages.find((m) => m.text.startsWith("canopy: exporting"));
    assert.ok(log, "a debug log line");
    assert.match(log.text, /\n {2}loadData [\d.]+ ms\n {4}fetchData \[client\] [\d.]+ ms/);
    await page.context().close();
  });

  test("spans are batched: maxExportBatchSize splits requests, the delay sends without forceFlush", async () => {
    const page = await h.page();
    await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "batch", batch: { maxExportBatchSize: 10, scheduledDelayMillis: 50 } });
      for (let i = 0; i < 25; i++) c.startSpan(`s${i}`).end();
      await c.forceFlush();
      c.startSpan("by-timer").end();
    });
    // The fourth request (the timer's) may already be in: check the first three.
    assert.deepEqual(h.sink.received.slice(0, 3).map((r) => r.body.resourceSpans[0].scopeSpans[0].spans.length), [10, 10, 5]);
    const deadline = Date.now() + 3000;
    while (h.sink.received.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(h.sink.received.length, 4, "the scheduled delay sent the last span");
    await page.context().close();
  });

  test("an unreachable endpoint never throws into the page; after the retries it warns once", async () => {
    const page = await h.page();
    const t0 = Date.now();
    const r = await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "down", endpoint: "http://127.0.0.1:9/v1/traces" });
      c.startSpan("lost").end();
      await c.forceFlush(); // resolves after the first attempt, not after the backoff
      c.startSpan("lost-2").end();
      await c.forceFlush();
      return "ok";
    });
    assert.equal(r, "ok");
    assert.ok(Date.now() - t0 < 5000, "forceFlush does not wait through the retry backoff");
    const warned = () => page.consoleMessages.filter((m) => m.type === "warning" && /export to http:\/\/127\.0\.0\.1:9/.test(m.text));
    const deadline = Date.now() + 20000;
    while (warned().length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    assert.equal(warned().length, 1);
    assert.match(warned()[0].text, /network error or timeout\) after 5 attempts; \d+ span\(s\) wait in the queue/);
    assert.ok(!page.consoleMessages.some((m) => m.type === "pageerror"));
    await page.context().close();
  });

  test("before init, the API works as a no-op and never throws", async () => {
    const page = await h.page();
    const r = await page.evaluate(async () => {
      const c = window.canopy;
      const s = c.startSpan("early");
      s.setAttribute("k", 1);
      const v = c.startActiveSpan("early-active", () => 5);
      s.end();
      await c.forceFlush();
      await c.shutdown();
      return { v, recording: s.isRecording(), valid: /^[0-9a-f]{32}$/.test(s.spanContext().traceId) };
    });
    assert.deepEqual(r, { v: 5, recording: false, valid: true });
    assert.deepEqual(receivedSpans(h.sink).filter((s) => s.name.startsWith("early")), [], "nothing exported");
    await page.context().close();
  });
});
