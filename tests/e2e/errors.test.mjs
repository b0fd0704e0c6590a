// Uncaught errors and unhandled rejections become `exception` spans (issue 11), once each, in
// Chromium and Firefox against a real sink; errors a span already recorded are not repeated.
import { describe, test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { browsers, launch, receivedSpans, waitFor } from "./harness.mjs";

for (const browser of browsers()) describe(browser, () => {
  let h;
  before(async () => { h = await launch(browser); });
  after(async () => { await h.close(); });
  beforeEach(() => { h.sink.reset(); });

  // In the page: a Promise that resolves once an unhandledrejection has been dispatched (Canopy's
  // listener, added earlier by init, has run by then), or rejects after 5 s.
  const UNHANDLED = `window.__unhandled = () => new Promise((ok, fail) => {
    const t = setTimeout(() => fail(new Error("no unhandledrejection within 5 s")), 5000);
    addEventListener("unhandledrejection", () => { clearTimeout(t); ok(); }, { once: true });
  });`;
  const ev = (span) => (span.events || []).find((e) => e.name === "exception");
  const evAttr = (e, k) => {
    const kv = (e.attributes || []).find((a) => a.key === k);
    return kv && (kv.value.stringValue ?? kv.value.intValue);
  };

  test("an uncaught error and an unhandled rejection each become an exception span with the stack", async () => {
    const page = await h.page();
    await page.evaluate(() => {
      window.canopy.init({ serviceName: "errors" });
      setTimeout(() => { throw new TypeError("boom in a timer"); }, 0); // under test: an error thrown in a timer task
      Promise.reject(new RangeError("nobody caught me"));
    });
    // Both are recorded as they happen; flush until both have arrived (bounded).
    const deadline = Date.now() + 10000;
    while (receivedSpans(h.sink).filter((s) => s.name === "exception").length < 2 && Date.now() < deadline) {
      await page.evaluate(() => window.canopy.forceFlush());
      await new Promise((r) => setTimeout(r, 50)); // poll interval (bounded by the deadline)
    }
    const spans = receivedSpans(h.sink).filter((s) => s.name === "exception");
    assert.equal(spans.length, 2);
    const byType = Object.fromEntries(spans.map((s) => [evAttr(ev(s), "exception.type"), s]));
    const err = byType.TypeError, rej = byType.RangeError;
    assert.ok(err && rej, `types: ${Object.keys(byType)}`);
    assert.equal(evAttr(ev(err), "exception.message"), "boom in a timer");
    assert.match(evAttr(ev(err), "exception.stacktrace"), /api\.html|:\d+:\d+/, "the stack trace is kept");
    assert.equal(err.status.code, 2, "error status");
    assert.equal(evAttr(ev(rej), "exception.message"), "nobody caught me");
    const src = (s) => s.attributes.find((a) => a.key === "canopy.error.source").value.stringValue;
    assert.equal(src(err), "error");
    assert.equal(src(rej), "unhandledrejection");
    assert.match(err.attributes.find((a) => a.key === "page.url").value.stringValue, /\/tests\/e2e\/pages\/api\.html/);
    await page.context().close();
  });

  test("an error a span already recorded is not recorded again when it goes uncaught", async () => {
    const page = await h.page("", UNHANDLED);
    await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "errors-once" });
      // The rejection reaches the caller unchanged, and nobody handles it: unhandledrejection fires for it.
      const fired = window.__unhandled();
      (async () => { await c.startActiveSpan("failing-op", async () => { throw new Error("recorded once"); }); })();
      await fired;
      await c.forceFlush();
    });
    await waitFor("the failing span", () => receivedSpans(h.sink).some((s) => s.name === "failing-op"));
    const spans = receivedSpans(h.sink);
    const failing = spans.find((s) => s.name === "failing-op");
    assert.equal(evAttr(ev(failing), "exception.message"), "recorded once");
    assert.equal(spans.filter((s) => s.name === "exception").length, 0, "no second record of the same error");
    await page.context().close();
  });

  test("an uncaught error while a span is active is recorded on that span, not on a span of its own", async () => {
    const page = await h.page();
    await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "errors-active" });
      const target = new EventTarget();
      target.addEventListener("save", () => { throw new TypeError("listener failed"); });
      // A listener's exception is reported (the error event) during the dispatch, and the
      // dispatch itself goes on: "outer" is active when Canopy hears of it.
      c.startActiveSpan("outer", (span) => {
        target.dispatchEvent(new Event("save"));
        span.end();
      });
      c.startSpan("after").end();
      await c.forceFlush();
    });
    await waitFor("the spans", () => receivedSpans(h.sink).some((s) => s.name === "after"));
    const spans = receivedSpans(h.sink);
    const outer = spans.find((s) => s.name === "outer");
    assert.equal(evAttr(ev(outer), "exception.type"), "TypeError");
    assert.equal(evAttr(ev(outer), "exception.message"), "listener failed");
    assert.match(evAttr(ev(outer), "exception.stacktrace"), /api\.html|:\d+:\d+/);
    assert.equal(outer.status.code, 2, "the active span gets the error status");
    assert.equal(outer.attributes.find((a) => a.key === "canopy.error.source").value.stringValue, "error");
    assert.equal(spans.filter((s) => s.name === "exception").length, 0, "no span of its own");
    assert.ok(!ev(spans.find((s) => s.name === "after")), "nothing on a later span");
    await page.context().close();
  });

  test("an error thrown by an interaction's handler is recorded on the interaction span", async () => {
    const page = await h.page();
    await page.evaluate(() => {
      window.canopy.init({ serviceName: "errors-interaction" });
      const b = document.createElement("button");
      b.id = "thrower";
      b.textContent = "throw";
      b.addEventListener("click", () => { throw new TypeError("boom in handler"); });
      document.body.append(b);
    });
    await page.click("#thrower"); // a trusted click: an interaction
    await page.evaluate(() => { window.canopy.startSpan("after").end(); return window.canopy.forceFlush(); });
    await waitFor("the spans", () => receivedSpans(h.sink).some((s) => s.name === "after"));
    const spans = receivedSpans(h.sink);
    const click = spans.find((s) => s.name === "click button#thrower");
    assert.ok(click, `the interaction; got ${spans.map((s) => s.name).join(", ")}`);
    assert.ok(ev(click), `an exception event on the interaction; got spans ${spans.map((s) => s.name).join(", ")}`);
    assert.equal(evAttr(ev(click), "exception.type"), "TypeError");
    assert.equal(evAttr(ev(click), "exception.message"), "boom in handler");
    assert.equal(click.status.code, 2, "the interaction gets the error status");
    assert.equal(spans.filter((s) => s.name === "exception").length, 0, "no span of its own");
    await page.context().close();
  });

  test("captureErrors: false records nothing", async () => {
    const page = await h.page("", UNHANDLED);
    await page.evaluate(async () => {
      window.canopy.init({ serviceName: "errors-off", captureErrors: false });
      const fired = window.__unhandled();
      Promise.reject(new Error("not recorded"));
      window.canopy.startSpan("marker").end();
      await fired;
      await window.canopy.forceFlush();
    });
    await waitFor("the marker span", () => receivedSpans(h.sink).some((s) => s.name === "marker"));
    assert.equal(receivedSpans(h.sink).filter((s) => s.name === "exception").length, 0);
    await page.context().close();
  });
});
