// The package's `canopy-web/core` entry (pkg/core/: the .wasm built without the `auto` feature) in
// headless Chromium and Firefox: manual spans, fetch spans under them, log records and export work
// as in the main entry; the session, the page load, interactions and Web Vitals are not recorded.
// Run: node --test tests/e2e/package-core.test.mjs   (after `make pkg`)
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { attr, browsers, launchForSuite, receivedLogs, spansOfService, waitFor } from "./harness.mjs";

for (const name of browsers()) describe(name, () => {
  const h = launchForSuite(name);

  /** Opens the test page with `entry` ("core" or "main"), runs the same app in it, and returns
   *  what the sink got from it (spans and logs of service `entry`) and what the page saw. */
  async function run(entry) {
    const context = await h.browser.newContext();
    const page = await context.newPage();
    const problems = [];
    page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
    page.on("pageerror", (e) => problems.push(String(e)));
    await page.goto(`${h.base}/tests/e2e/pages/core.html?entry=${entry}`);
    await page.waitForFunction(() => document.body.dataset.ready === "1" && document.readyState === "complete", null, { timeout: 10000 });
    const ok = await page.evaluate(async (service) => {
      const c = window.canopy;
      const ok = await c.init({ serviceName: service, endpoint: "/v1/traces", batch: { scheduledDelayMillis: 60000 } });
      document.querySelector("#save").addEventListener("click", () => c.startSpan("save-handler").end());
      return ok;
    }, entry);
    await page.click("#save"); // a trusted click: interaction spans are for what the user did
    const seen = await page.evaluate(async () => {
      const c = window.canopy;
      history.pushState({}, "", "?moved");
      const status = await c.startActiveSpan("action", async (span) => {
        c.log.info("saved", { items: 2 }); // before the first await: the span is still the active one
        const res = await fetch("/tests/e2e/pages/hero.png");
        await res.arrayBuffer();
        span.setAttribute("app.items", 2);
        return res.status;
      });
      await c.forceFlush();
      const wasm = performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname).filter((p) => p.endsWith(".wasm"));
      return { status, wasm, session: sessionStorage.getItem("canopy.session") !== null };
    });
    seen.ok = ok;
    const service = entry;
    const logs = await waitFor(`${entry}: the log record`, () => {
      const l = receivedLogs(h.sink).filter((x) => x.body?.stringValue === "saved" && (x.resource?.attributes || []).some((a) => a.value.stringValue === service));
      return l.length ? l : null;
    });
    const spans = await waitFor(`${entry}: the action and its fetch span`, () => {
      const s = spansOfService(h.sink, service);
      return s.some((x) => x.name === "action") && s.some((x) => x.kind === 3) ? s : null;
    });
    await page.context().close();
    return { seen, spans, logs, problems };
  }

  const NO_CODE = ["documentLoad", "documentFetch", "routeChange"];

  test("canopy-web/core warns about the keys of what it leaves out when they are turned on, and starts", async () => {
    const context = await h.browser.newContext();
    const page = await context.newPage();
    const warnings = [];
    page.on("console", (m) => { if (m.type() === "warning") warnings.push(m.text()); });
    await page.goto(`${h.base}/tests/e2e/pages/core.html`);
    await page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: 10000 });
    const ok = await page.evaluate(() => window.canopy.init({
      serviceName: "core-keys", endpoint: "/v1/traces", webVitals: true, sessionBaggage: true, interactions: ["click"], documentLoad: false, routeChanges: false,
    }));
    assert.equal(ok, true);
    const about = (key) => warnings.filter((w) => w.includes(`"${key}" does nothing in this build`)).length;
    assert.deepEqual(["webVitals", "sessionBaggage", "interactions", "documentLoad", "routeChanges", "longAnimationFrames"].map(about), [1, 1, 1, 0, 0, 0],
      `one warning for each key turned on, none for those turned off or left alone; got ${JSON.stringify(warnings)}`);
    await page.context().close();
  });

  test("canopy-web/core: manual and fetch spans nest and are exported with a log record, with no session, page load, route change or interaction spans (the main entry, run the same way, has them)", async () => {
    const core = await run("core");
    assert.deepEqual(core.seen, { ok: true, status: 200, wasm: ["/pkg/core/canopy_web_bg.wasm"], session: false });
    const action = core.spans.find((s) => s.name === "action");
    const fetchSpan = core.spans.find((s) => s.kind === 3);
    assert.equal(fetchSpan.parentSpanId, action.spanId, "the fetch span is the action's child");
    assert.equal(fetchSpan.traceId, action.traceId);
    assert.equal(attr(fetchSpan, "http.response.status_code"), 200);
    assert.equal(attr(action, "app.items"), 2);
    assert.equal(core.logs[0].spanId, action.spanId, "the log record carries the active span's ids");
    const names = core.spans.map((s) => s.name);
    for (const absent of NO_CODE) assert.ok(!names.includes(absent), `no ${absent} span; got ${names.join(", ")}`);
    const handler = core.spans.find((s) => s.name === "save-handler");
    assert.equal(handler.parentSpanId ?? "", "", "no interaction span: the click handler's span is a root");
    assert.ok(core.spans.every((s) => attr(s, "session.id") === undefined), "no session.id");
    assert.deepEqual(core.problems, []);

    // The control: the main entry records what the core entry leaves out.
    const main = await run("main");
    assert.deepEqual(main.seen, { ok: true, status: 200, wasm: ["/pkg/canopy_web_bg.wasm"], session: true });
    const mainNames = main.spans.map((s) => s.name);
    await waitFor("main: the page load and route change", () => NO_CODE.every((n) => spansOfService(h.sink, "main").some((s) => s.name === n)) || null, 10000,
      () => `; got ${spansOfService(h.sink, "main").map((s) => s.name).join(", ")}`);
    const mainHandler = main.spans.find((s) => s.name === "save-handler");
    assert.ok(mainHandler.parentSpanId, `main: the click handler's span is a child of the interaction span (${mainNames.join(", ")})`);
    assert.ok(main.spans.every((s) => typeof attr(s, "session.id") === "string"), "main: every span has session.id");
  });
});
