// Where the export's CPU goes, and what a Content-Security-Policy changes: batches too big for
// keepalive are compressed and sent by a worker (off the page's main thread); a page whose CSP
// forbids the worker still exports from the main thread; a CSP without 'wasm-unsafe-eval' turns
// tracing off with a message that names the directive. Chromium and Firefox, real sink.
import { describe, test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { browsers, launch, receivedSpans, waitFor } from "./harness.mjs";

for (const browser of browsers()) describe(browser, () => {
  let h;
  before(async () => { h = await launch(browser); });
  after(async () => { await h.close(); });
  beforeEach(() => { h.sink.reset(); });


  async function bigBatch(page) {
    await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "worker", batch: { maxExportBatchSize: 2000, maxQueueSize: 4000 } });
      for (let i = 0; i < 1500; i++) c.startSpan(`s${i}`, { attributes: { i } }).end();
      await c.forceFlush();
    });
    await waitFor("1500 spans at the sink", () => receivedSpans(h.sink).length >= 1500, 15000);
    assert.equal(receivedSpans(h.sink).length, 1500, "every span, once");
  }

  test("a batch too big for keepalive is gzipped and sent by the export worker", async () => {
    const page = await h.page();
    let workers = 0;
    if (typeof page.on === "function" && browser === "chromium") page.on("worker", () => workers++);
    await bigBatch(page);
    const r = h.sink.received[0];
    assert.equal(r.encoding, "gzip");
    assert.match(String(r.headers["x-canopy-sent-at"]), /^\d{13}$/);
    // Playwright reports dedicated workers in Chromium (the Firefox driver has no such event).
    if (browser === "chromium") assert.equal(workers, 1, "one export worker");
    await page.context().close();
  });

  test("a CSP that forbids workers: the same batch goes from the main thread", async () => {
    const page = await h.page(`?csp=${encodeURIComponent("worker-src 'none'")}`);
    await bigBatch(page);
    assert.equal(h.sink.received[0].encoding, "gzip");
    // Firefox reports the CSP refusal itself as a page error; anything else would be ours.
    const thrown = page.consoleMessages.filter((m) => m.type === "pageerror" && !/Content-Security-Policy|CSP|worker-src/i.test(m.text));
    assert.deepEqual(thrown, [], "nothing thrown into the page");
    await page.context().close();
  });

  test("a CSP without 'wasm-unsafe-eval': tracing is off and the console names the directive", async () => {
    const context = await h.browser.newContext();
    const page = await context.newPage();
    const messages = [];
    page.on("console", (m) => messages.push({ type: m.type(), text: m.text() }));
    page.on("pageerror", (e) => messages.push({ type: "pageerror", text: String(e) }));
    await page.goto(`${h.base}/tests/e2e/pages/entry.html?csp=${encodeURIComponent("script-src 'self'")}`);
    await page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: 15000 });
    assert.equal(await page.evaluate(() => document.body.dataset.started), "false", "init resolves false");
    const errors = messages.filter((m) => m.type === "error" && /canopy:/.test(m.text));
    assert.ok(errors.some((m) => /wasm-unsafe-eval/.test(m.text) && /script-src/.test(m.text)), JSON.stringify(messages));
    assert.equal(await page.evaluate(() => { window.canopy.startSpan("x").end(); return "ok"; }), "ok", "the API still works, as a no-op");
    await context.close();
  });

  test("with 'wasm-unsafe-eval' allowed, the same page traces", async () => {
    const context = await h.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${h.base}/tests/e2e/pages/entry.html?csp=${encodeURIComponent("script-src 'self' 'wasm-unsafe-eval'")}`);
    await page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: 15000 });
    assert.equal(await page.evaluate(() => document.body.dataset.started), "true");
    await page.evaluate(async () => { window.canopy.startSpan("allowed").end(); await window.canopy.forceFlush(); });
    await waitFor("the span", () => receivedSpans(h.sink).some((s) => s.name === "allowed"), 15000);
    await context.close();
  });
});
