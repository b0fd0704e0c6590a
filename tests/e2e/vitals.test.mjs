// Web Vitals from a real page in headless Chromium (and Firefox, for what it measures): a slow
// hero image (LCP), a layout shift (CLS), a slow click handler (INP), FCP and TTFB, reported by
// Google's web-vitals when the page is hidden and recorded as Honeycomb's web SDK records them.
// Run: CANOPY_BROWSERS=chromium node --test tests/e2e/vitals.test.mjs   (after ./scripts/pkg.sh)
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { browsers, launchForSuite, receivedSpans, attr, waitFor, pageSession } from "./harness.mjs";

for (const browser of browsers()) describe(browser, () => {
  const h = launchForSuite(browser);

  const named = (name) => receivedSpans(h.sink).filter((s) => s.name === name);

  async function open(query = "", prelude = "") {
    const page = await (await h.browser.newContext()).newPage();
    if (prelude) await page.addInitScript(prelude);
    await page.goto(`${h.base}/tests/e2e/pages/vitals.html${query}`);
    await page.waitForFunction(() => document.body.dataset.ready === "1" && document.getElementById("hero").complete, null, { timeout: 10000 });
    return page;
  }

  /** Set before the page's scripts run: records the entry types observed (web-vitals' onINP
   *  observes `event`). */
  const OBSERVED = `window.__observed = [];
    const observe = PerformanceObserver.prototype.observe;
    PerformanceObserver.prototype.observe = function (o) { window.__observed.push(o && o.type); return observe.call(this, o); };`;

  /** Waits until web-vitals' INP listener is observing (it loads after init). */
  const inpListening = (page) => page.waitForFunction(() => window.__observed.includes("event"), null, { timeout: 10000 });

  /** What web-vitals waits for: the page going hidden (stubbed, as web-vitals' own tests do). */
  const hide = (page) => page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  });

  /** Waits until web-vitals is loaded (a dynamic import after init) and has had its buffered
   *  entries, and the browser has made its LCP entry (Firefox under load makes it late: then
   *  web-vitals has nothing to report as the page goes hidden). */
  async function lcpReported(page) {
    await page.waitForFunction(() => performance.getEntriesByType("resource").some((e) => /web-vitals/.test(e.name)), null, { timeout: 10000 });
    await page.evaluate(() => new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("no largest-contentful-paint entry in 10 s")), 10000);
      new PerformanceObserver((l, o) => { o.disconnect(); clearTimeout(t); resolve(); }).observe({ type: "largest-contentful-paint", buffered: true });
    }));
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => requestIdleCallback(r, { timeout: 1000 })))));
  }

  /** Flushes until every one of `names` has a span (bounded). */
  async function spansFor(page, names) {
    for (let i = 0; i < 50 && !names.every((n) => named(n).length > 0); i++) await page.evaluate(() => window.canopy.forceFlush());
    for (const n of names) assert.ok(named(n).length > 0, `a ${n} span; got ${receivedSpans(h.sink).map((s) => s.name).join(", ")}`);
  }

  test("LCP, CLS, INP, FCP and TTFB with their attribution, as Honeycomb names them", { skip: browser === "firefox" && "Firefox has no layout-shift entries (CLS)" }, async () => {
    const page = await open();
    // A layout shift with no input before it: the slot above the image grows.
    await page.evaluate(() => new Promise((resolve) => {
      new PerformanceObserver(resolve).observe({ type: "layout-shift" });
      document.getElementById("slot").style.height = "120px";
    }));
    await page.click("#slow");
    // The browser has timed the click (Event Timing), which web-vitals' INP reads.
    await page.evaluate(() => new Promise((resolve) => new PerformanceObserver((l, o) => {
      if (l.getEntries().some((e) => e.name === "click")) { o.disconnect(); resolve(); }
    }).observe({ type: "event", buffered: true, durationThreshold: 16 })));
    // web-vitals handles event entries when the page is idle.
    await page.evaluate(() => new Promise((r) => requestIdleCallback(r, { timeout: 1000 })));
    await hide(page);
    await spansFor(page, ["LCP", "CLS", "INP", "FCP", "TTFB"]);

    const lcp = named("LCP").at(-1);
    assert.equal(attr(lcp, "lcp.element"), "#hero");
    assert.match(attr(lcp, "lcp.url"), /\/hero\.png\?delay=400$/);
    assert.ok(attr(lcp, "lcp.value") >= 400, `LCP waits for the slow image (${attr(lcp, "lcp.value")} ms)`);
    assert.ok(attr(lcp, "lcp.resource_load_duration") >= 350, "most of it is the image's load");
    assert.equal(attr(lcp, "lcp.resource_load_time"), attr(lcp, "lcp.resource_load_duration"));
    for (const k of ["lcp.time_to_first_byte", "lcp.resource_load_delay", "lcp.element_render_delay", "lcp.delta"]) assert.equal(typeof attr(lcp, k), "number", k);
    assert.ok(["good", "needs-improvement", "poor"].includes(attr(lcp, "lcp.rating")));
    assert.equal(attr(lcp, "lcp.navigation_type"), "navigate");
    assert.match(attr(lcp, "lcp.id"), /^v\d+-/);

    const cls = named("CLS").at(-1);
    assert.ok(attr(cls, "cls.value") > 0, "the shift counted");
    assert.equal(attr(cls, "cls.largest_shift_target"), attr(cls, "cls.element"));
    assert.ok(attr(cls, "cls.largest_shift_target"), "the largest shift's source");
    assert.ok(attr(cls, "cls.largest_shift_value") > 0);
    assert.equal(attr(cls, "cls.had_recent_input"), false);

    const inp = named("INP").at(-1);
    assert.ok(attr(inp, "inp.value") >= 150, `INP covers the slow handler (${attr(inp, "inp.value")} ms)`);
    assert.equal(attr(inp, "inp.interaction_target"), "#slow");
    assert.equal(attr(inp, "inp.element"), "#slow");
    assert.equal(attr(inp, "inp.interaction_type"), "pointer");
    assert.ok(attr(inp, "inp.processing_duration") >= 150, "the handler's time is processing");
    for (const k of ["inp.input_delay", "inp.presentation_delay"]) assert.equal(typeof attr(inp, k), "number", k);
    const ms = Number(BigInt(inp.endTimeUnixNano) - BigInt(inp.startTimeUnixNano)) / 1e6;
    const split = attr(inp, "inp.input_delay") + attr(inp, "inp.processing_duration") + attr(inp, "inp.presentation_delay");
    assert.ok(Math.abs(ms - split) < 1, `the INP span covers input delay + processing + presentation (${ms} vs ${split})`);

    assert.equal(typeof attr(named("FCP").at(-1), "fcp.time_since_first_byte"), "number");
    assert.equal(typeof attr(named("TTFB").at(-1), "ttfb.request_duration"), "number");
    for (const s of ["LCP", "CLS", "INP", "FCP", "TTFB"].map((n) => named(n).at(-1))) assert.match(attr(s, "session.id"), /^[0-9a-f]{32}$/);
    await page.context().close();
  });

  test("a real page close sends what web-vitals reports as the page goes hidden (no stub, no flush)", async () => {
    const page = await open();
    if (browser === "chromium") {
      await page.evaluate(() => new Promise((resolve) => {
        new PerformanceObserver(resolve).observe({ type: "layout-shift" });
        document.getElementById("slot").style.height = "120px";
      }));
    }
    await lcpReported(page);
    const session = await pageSession(page);
    const context = page.context();
    const closedAt = Date.now();
    await page.close();
    const want = browser === "chromium" ? ["LCP", "CLS"] : ["LCP"];
    const mine = (n) => named(n).some((s) => attr(s, "session.id") === session);
    // On failure: each of the page's requests, how it came and when, against the close.
    const requests = () => [...new Set(receivedSpans(h.sink).filter((s) => attr(s, "session.id") === session).map((s) => s.request))]
      .map((r) => `[${received([r]).join(", ")}] by ${/sent_at=/.test(r.query) ? "beacon" : "fetch"} sent ${r.sentAt - closedAt} ms from the close`);
    const received = (reqs) => receivedSpans({ received: reqs }).map((s) => s.name);
    await waitFor(`${want.join(" and ")} from the closed page`, () => want.every(mine), 10000,
      () => `; got ${requests().join("; ") || "nothing"}`);
    // web-vitals' final report and Canopy's hide both ran: LCP once (one span id: Firefox may
    // deliver a page-hide document twice, byte for byte, see pagehide-delivery.test.mjs).
    assert.equal(new Set(named("LCP").filter((s) => attr(s, "session.id") === session).map((s) => s.spanId)).size, 1, `one LCP; got ${requests().join("; ")}`);
    await context.close();
  });

  /** Set before the page's scripts run: web-vitals' own `visibilitychange` listeners do nothing,
   *  as when Firefox stops them closing a tab (it stops a page's listeners mid-way under load);
   *  counts them in `window.__stopped`. */
  const WEB_VITALS_HIDE_STOPPED = `window.__stopped = 0;
    const add = EventTarget.prototype.addEventListener;
    EventTarget.prototype.addEventListener = function (type, fn, opts) {
      if (type === "visibilitychange" && /web-vitals/.test(new Error().stack)) { window.__stopped++; fn = () => {}; }
      return add.call(this, type, fn, opts);
    };`;

  test("a real page close sends LCP by Canopy's own page hide when web-vitals' hide listeners never run (Firefox can stop them at a tab close)", async () => {
    const page = await open("", WEB_VITALS_HIDE_STOPPED);
    const session = await pageSession(page);
    await lcpReported(page);
    assert.ok(await page.evaluate(() => window.__stopped) > 0, "web-vitals' hide listeners were stopped");
    const context = page.context();
    // A real close: the browser's own (trusted) visibilitychange, which web-vitals' LCP
    // listener would otherwise have reported LCP in.
    await page.close();
    const mine = () => named("LCP").filter((s) => attr(s, "session.id") === session);
    await waitFor("LCP from the closed page", () => mine().length > 0, 10000,
      () => `; got ${receivedSpans(h.sink).filter((s) => attr(s, "session.id") === session).map((s) => s.name).join(", ") || "nothing"}`);
    const lcp = mine();
    assert.equal(new Set(lcp.map((s) => s.spanId)).size, 1, "the page's LCP, once (one span id: see above)");
    assert.ok(attr(lcp[0], "lcp.value") >= 400, `LCP waits for the slow image (${attr(lcp[0], "lcp.value")} ms)`);
    assert.equal(attr(lcp[0], "lcp.delta"), attr(lcp[0], "lcp.value"), "the page's only LCP: its delta is its value");
    assert.equal(attr(lcp[0], "lcp.element"), "#hero");
    await context.close();
  });

  test("LCP is recorded at the first input, as web-vitals reports it, and not again at the page hide", async () => {
    const page = await open();
    const session = await pageSession(page);
    await lcpReported(page);
    const mine = () => named("LCP").filter((s) => attr(s, "session.id") === session);
    // web-vitals takes the first input as LCP's end, and reports it when the page is next idle.
    await page.click("#intro");
    const deadline = Date.now() + 10000;
    while (mine().length === 0 && Date.now() < deadline) await page.evaluate(() => window.canopy.forceFlush());
    assert.equal(mine().length, 1, "recorded at the first input, with the page still visible");
    // A span queued before the hide leaves in the page hide's export, with what the hide records.
    await page.evaluate(() => window.canopy.startSpan("before-hide").end());
    await hide(page);
    await waitFor("the page hide's export", () => named("before-hide").some((s) => attr(s, "session.id") === session), 10000);
    assert.equal(mine().length, 1, "not again at the page hide");
    assert.ok(attr(mine()[0], "lcp.value") >= 400);
    await page.context().close();
  });

  test("a slow click on a link that navigates away gives its INP, with no wait for the page to be idle", async () => {
    // web-vitals by default reports INP only at page hide, and its hide listener runs before
    // the entries still waiting for its idle callback are processed: without Canopy's hold,
    // this INP was lost (every run in Chromium; a user-testing helper saw it in Firefox too).
    const page = await open("", OBSERVED);
    const session = await pageSession(page);
    await inpListening(page);
    await page.evaluate(() => {
      const a = document.createElement("a");
      a.id = "away";
      a.href = "/tests/e2e/pages/vitals.html?webVitals=0";
      a.textContent = "away";
      // The page leaves as soon as the browser has timed the click (its Event Timing entry, the
      // one INP is made of, handed to web-vitals' observer first, in the same task): not
      // before, when there would be no INP to lose (a navigation can start before the browser
      // times the click, under load), and not after web-vitals' idle callback has run.
      a.addEventListener("click", (e) => {
        e.preventDefault();
        const end = performance.now() + 300;
        while (performance.now() < end);
        new PerformanceObserver((list, o) => {
          if (!list.getEntries().some((x) => x.name === "click")) return;
          o.disconnect();
          location.href = a.href;
        }).observe({ type: "event", durationThreshold: 16 });
      });
      document.body.prepend(a);
    });
    await page.click("#away");
    const mine = () => named("INP").filter((s) => attr(s, "session.id") === session);
    await waitFor("the INP of the click that left the page", () => mine().length > 0, 10000,
      () => `; got ${receivedSpans(h.sink).filter((s) => attr(s, "session.id") === session).map((s) => s.name).join(", ") || "nothing"}`);
    const inp = mine();
    assert.equal(inp.length, 1, "recorded once");
    assert.ok(attr(inp[0], "inp.value") >= 300, `INP covers the handler (${attr(inp[0], "inp.value")} ms)`);
    assert.equal(attr(inp[0], "inp.delta"), attr(inp[0], "inp.value"), "the page's only INP: its delta is its value");
    assert.equal(attr(inp[0], "inp.interaction_target"), "#away");
    await page.context().close();
  });

  test("shutdown records the INP held so far", async () => {
    const page = await open("", OBSERVED);
    const session = await pageSession(page);
    await inpListening(page);
    await page.click("#slow");
    // The browser has timed the click, and web-vitals (idle callback) has reported it to Canopy.
    await page.evaluate(() => new Promise((resolve) => new PerformanceObserver((l, o) => {
      if (l.getEntries().some((e) => e.name === "click")) { o.disconnect(); resolve(); }
    }).observe({ type: "event", buffered: true, durationThreshold: 16 })));
    await page.evaluate(() => new Promise((r) => requestIdleCallback(r, { timeout: 1000 })));
    await page.evaluate(() => window.canopy.shutdown());
    const mine = () => named("INP").filter((s) => attr(s, "session.id") === session);
    await waitFor("the INP held at shutdown", () => mine().length > 0, 10000);
    const inp = mine();
    assert.equal(inp.length, 1, `the INP, once; got ${receivedSpans(h.sink).filter((s) => attr(s, "session.id") === session).map((s) => s.name).join(", ")}`);
    assert.ok(attr(inp[0], "inp.value") >= 150);
    await page.context().close();
  });

  test("FCP and TTFB are recorded in every browser", async () => {
    const page = await open();
    await hide(page);
    await spansFor(page, ["FCP", "TTFB"]);
    assert.ok(attr(named("TTFB").at(-1), "ttfb.value") >= 0);
    await page.context().close();
  });

  test("webVitals: false loads nothing and records nothing", async () => {
    const page = await open("?webVitals=0");
    const loaded = await page.evaluate(() => performance.getEntriesByType("resource").some((e) => /web-vitals/.test(e.name)));
    assert.equal(loaded, false, "web-vitals is never fetched");
    await hide(page);
    await page.evaluate(async () => { window.canopy.startSpan("marker").end(); await window.canopy.forceFlush(); });
    assert.equal(named("marker").length, 1);
    // Only this page's spans (an earlier test's page may still deliver when it closes).
    const session = attr(named("marker")[0], "session.id");
    const mine = receivedSpans(h.sink).filter((s) => attr(s, "session.id") === session);
    assert.deepEqual(mine.map((s) => s.name).filter((n) => /^(LCP|CLS|INP|FCP|TTFB)$/.test(n)), []);
    await page.context().close();
  });
});
