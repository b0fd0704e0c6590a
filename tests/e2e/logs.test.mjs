// Logs (issue 11): `log.info(...)` and captured console calls become OpenTelemetry log records with
// the active span's trace and span ids, batched to /v1/logs next to /v1/traces, flushed on page
// hide, and recorded in their place when written before the .wasm was ready. Real sink, real
// browsers.
import { describe, test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { browsers, launch, receivedLogs, receivedSpans, waitFor } from "./harness.mjs";

const WAIT_MS = 10000;

const body = (l) => l.body && l.body.stringValue;
const attrOf = (x, k) => {
  const kv = (x.attributes || []).find((a) => a.key === k);
  return kv && (kv.value.stringValue ?? (kv.value.intValue !== undefined ? Number(kv.value.intValue) : kv.value.boolValue));
};

/** `read()` once `ok` accepts it (bounded). */
async function until(what, read, ok) {
  let v;
  await waitFor(what, () => ok((v = read())), WAIT_MS);
  return v;
}

for (const browser of browsers()) describe(browser, () => {
  let h;
  before(async () => { h = await launch(browser); });
  after(async () => { await h.close(); });
  beforeEach(() => { h.sink.reset(); });

  test("log.* records go to /v1/logs with severity, attributes and the active span's ids", async () => {
    const page = await h.page();
    const ids = await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "logs", batch: { scheduledDelayMillis: 60000 } });
      const inside = c.startActiveSpan("loadData", (span) => {
        c.log.warn("feed slow", { ms: 1200, cached: false });
        span.end();
        return span.spanContext();
      });
      c.log.info("outside any span");
      c.log.debug("debug line");
      c.log.error("boom", { "http.response.status_code": 500 });
      await c.forceFlush();
      return inside;
    });
    const logs = await until("4 log records", () => receivedLogs(h.sink), (l) => l.length >= 4);
    assert.equal(logs.length, 4);
    const paths = new Set(h.sink.received.map((r) => r.path));
    assert.ok(paths.has("/v1/logs") && paths.has("/v1/traces"), `logs and spans each to their path: ${[...paths]}`);
    for (const r of h.sink.received) {
      assert.equal(!!r.body.resourceLogs, r.path === "/v1/logs", "a logs document only on /v1/logs");
    }
    const [warn, info, debug, error] = logs;
    assert.equal(body(warn), "feed slow");
    assert.equal(warn.severityNumber, 13);
    assert.equal(warn.severityText, "WARN");
    assert.equal(attrOf(warn, "ms"), 1200);
    assert.equal(attrOf(warn, "cached"), false);
    assert.equal(warn.traceId, ids.traceId, "the active span's trace");
    assert.equal(warn.spanId, ids.spanId, "and span");
    assert.equal(warn.flags, 1);
    assert.ok(/^\d{16,}$/.test(warn.timeUnixNano), "epoch nanoseconds");
    assert.ok(Math.abs(Number(warn.timeUnixNano) / 1e6 - Date.now()) < 60000, "now-ish");
    assert.equal(body(info), "outside any span");
    assert.equal(info.severityNumber, 9);
    assert.equal(info.traceId, undefined, "no span, no ids");
    assert.equal(debug.severityNumber, 5);
    assert.equal(error.severityNumber, 17);
    assert.equal(attrOf(error, "http.response.status_code"), 500);
    const service = warn.resource.attributes.find((a) => a.key === "service.name");
    assert.equal(service.value.stringValue, "logs");
    const loadData = receivedSpans(h.sink).find((s) => s.name === "loadData");
    assert.equal(loadData.spanId, ids.spanId, "the span the log points at was exported");
    assert.match(attrOf(warn, "session.id"), /^[0-9a-f]{32}$/, "session.id on every log record");
    assert.equal(attrOf(warn, "session.id"), attrOf(loadData, "session.id"), "the same session as the spans");
    assert.equal(attrOf(info, "session.id"), attrOf(loadData, "session.id"));
    await page.context().close();
  });

  test("after an await, a log record names its span; nothing is guessed", async () => {
    const page = await h.page();
    const ids = await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "logs-span", batch: { scheduledDelayMillis: 60000 } });
      const id = await c.startActiveSpan("load", async (span) => {
        await new Promise((r) => setTimeout(r, 0)); // crosses a task boundary: the behaviour under test
        c.log.info("after await, unnamed");
        c.log.error("after await, named", { n: 1 }, span);
        return span.spanContext().spanId;
      });
      c.log.info("still nothing active");
      await c.forceFlush();
      return id;
    });
    const logs = await until("3 records", () => receivedLogs(h.sink), (l) => l.length >= 3);
    const by = Object.fromEntries(logs.map((l) => [body(l), l]));
    assert.equal(by["after await, unnamed"].spanId, undefined, "never a guessed span");
    assert.equal(by["after await, named"].spanId, ids);
    assert.equal(attrOf(by["after await, named"], "n"), 1);
    assert.equal(by["still nothing active"].spanId, undefined, "naming a span made it current only for that record");
    await page.context().close();
  });

  /** In a fresh page: a span `outer` inside which the form's trusted `submit` is dispatched
   *  (`requestSubmit`) with its bubbling listener on window never reached, so the submit's
   *  interaction is still on the current-span stack when the dispatch is over; then, still inside
   *  `outer`, a log record (`what` "log") or a reported error ("error"). Returns outer's span id. */
  const afterTrustedSubmit = (page, what) => page.evaluate(async (what) => {
    const c = window.canopy;
    c.init({ serviceName: "settle", batch: { scheduledDelayMillis: 60000 } });
    document.body.innerHTML = `<form id="f"><input name="q"></form>`;
    const form = document.getElementById("f");
    form.addEventListener("submit", (e) => { e.preventDefault(); e.stopPropagation(); });
    const id = c.startActiveSpan("outer", (span) => {
      form.requestSubmit();
      if (what === "log") c.log.info("after requestSubmit");
      else reportError(new Error("reported inside outer")); // the page's error event, synchronously
      return span.spanContext().spanId;
    });
    await c.forceFlush();
    return id;
  }, what);

  test("a log record after a trusted event dispatched inside a span names that span, not the event's", async () => {
    const page = await h.page();
    const id = await afterTrustedSubmit(page, "log");
    const logs = await until("the record", () => receivedLogs(h.sink), (l) => l.length >= 1);
    assert.equal(logs[0].spanId, id, "the record is the span's, not the finished submit's");
    await page.context().close();
  });

  test("an uncaught error after a trusted event dispatched inside a span is that span's", async () => {
    const page = await h.page();
    const id = await afterTrustedSubmit(page, "error");
    const spans = await until("the spans", () => receivedSpans(h.sink), (s) => s.some((x) => x.name === "outer"));
    const outer = spans.find((s) => s.name === "outer");
    assert.equal(outer.spanId, id);
    const events = (s) => (s.events || []).filter((e) => e.name === "exception");
    assert.equal(events(outer).length, 1, "the exception is on the span that was running");
    for (const s of spans.filter((x) => x.name.startsWith("submit"))) assert.equal(events(s).length, 0, "not on the finished submit");
    await page.context().close();
  });

  test("captureConsole records console calls with the active span; console output is unchanged; off by default", async () => {
    const page = await h.page();
    await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "console", batch: { scheduledDelayMillis: 60000 } });
      console.warn("not captured: captureConsole is off by default");
      await c.shutdown();
      c.init({ serviceName: "console", captureConsole: true, nonsense: 1, batch: { scheduledDelayMillis: 60000 } });
      c.startActiveSpan("click", (span) => {
        console.error("request failed", { status: 503 }, new TypeError("bad"));
        span.end();
      });
      console.log("plain", 42);
      await c.forceFlush();
      await c.shutdown();
      console.info("after shutdown: not captured");
    });
    const logs = await until("2 console records", () => receivedLogs(h.sink), (l) => l.length >= 2);
    assert.deepEqual(logs.map(body).map((b) => b.split("\n")[0]), ['request failed {"status":503} TypeError: bad', "plain 42"]);
    assert.equal(logs[0].severityNumber, 17);
    assert.equal(logs[1].severityNumber, 9);
    assert.equal(attrOf(logs[0], "log.source"), "console");
    const click = receivedSpans(h.sink).find((s) => s.name === "click");
    assert.equal(logs[0].spanId, click.spanId, "console.error inside the span carries its id");
    assert.ok(!logs.some((l) => /canopy:/.test(body(l))), "Canopy's own warning (unknown key) is not recorded");
    const texts = page.consoleMessages.map((m) => m.text);
    assert.ok(texts.some((t) => t.startsWith("request failed")), "the page's console still prints");
    assert.ok(texts.some((t) => t.startsWith("after shutdown")), "and after shutdown too");
    assert.ok(texts.some((t) => /unknown config key "nonsense"/.test(t)));
    await page.context().close();
  });

  test("captureConsole formats a console call as the console prints it (format specifiers)", async () => {
    const page = await h.page();
    await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "console-format", captureConsole: true, batch: { scheduledDelayMillis: 60000 } });
      // As React 19 logs an error a boundary caught.
      console.error("%o\n\n%s\n\n%s\n", new RangeError("render bomb"), "The above error occurred in the <Bomb> component.", "React will try to recreate");
      console.log("%s is %d (%i) years, %f m, %c styled %O", "Bob", 42.7, "7x", "1.5m", "color: red", { a: 1 }, "extra");
      console.warn("100%% sure, %s, %d left", "yes");
      console.info("no specifiers", 1, "two");
      console.info("lone %s");
      await c.forceFlush();
    });
    const logs = await until("5 console records", () => receivedLogs(h.sink), (l) => l.length >= 5);
    const react = body(logs[0]);
    assert.match(react, /^RangeError: render bomb\n/, `the error in place of %o: ${JSON.stringify(react)}`);
    assert.match(react, /\n\nThe above error occurred in the <Bomb> component\.\n\nReact will try to recreate\n$/);
    assert.ok(!/%[os]/.test(react), "no specifier left");
    assert.equal(body(logs[1]), 'Bob is 42 (7) years, 1.5 m,  styled {"a":1} extra');
    assert.equal(body(logs[2]), "100% sure, yes, %d left", "a specifier without an argument stays");
    assert.equal(body(logs[3]), "no specifiers 1 two");
    assert.equal(body(logs[4]), "lone %s", "one argument: printed as it is");
    await page.context().close();
  });

  test("log records queued when the page is hidden leave at once (beacon) to /v1/logs", async () => {
    const page = await h.page();
    await page.evaluate(() => {
      const c = window.canopy;
      c.init({ serviceName: "hide", batch: { scheduledDelayMillis: 60000 } });
      c.log.info("last words");
      window.dispatchEvent(new PageTransitionEvent("pagehide", { persisted: false }));
    });
    const logs = await until("the page-hide log record", () => receivedLogs(h.sink), (l) => l.length >= 1);
    assert.equal(body(logs[0]), "last words");
    assert.equal(logs[0].request.path, "/v1/logs");
    await page.context().close();
  });

  test("an endpoint not ending in /v1/traces: logs go to logsEndpoint, or nowhere without it", async () => {
    const page = await h.page();
    const base = h.base;
    await page.evaluate(async (base) => {
      const c = window.canopy;
      c.init({ serviceName: "custom", endpoint: `${base}/v1/traces?custom=1` });
      c.log.info("dropped: no logs endpoint");
      await c.forceFlush();
      await c.shutdown();
      c.init({ serviceName: "custom", endpoint: `${base}/v1/traces?custom=1`, logsEndpoint: `${base}/v1/logs` });
      c.log.info("kept");
      await c.forceFlush();
    }, base);
    const logs = await until("the log record", () => receivedLogs(h.sink), (l) => l.length >= 1);
    assert.deepEqual(logs.map(body), ["kept"]);
    await page.context().close();
  });
});
