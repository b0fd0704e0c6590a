// What reaches the sink when a page goes away with spans still queued, in each browser: the page
// ends N spans with a long scheduledDelayMillis (so they wait in the queue), then (a) navigates
// away, (b) is closed, (c) the whole browser quits. The sink counts what arrived and by which
// means: a fetch (application/json, x-canopy-sent-at header; at page hide that is the keepalive
// fetch) or a beacon (text/plain, ?sent_at=).
//
// Asserted (the SDK's requirement): no span is lost on navigation or page close, none arrives twice.
// Browser quit is only measured and printed: no browser promises to deliver anything started while
// it quits. For comparison the quit run is repeated without Canopy: a pagehide handler sending
// QUIT_RAW keepalive fetches and QUIT_RAW beacons by hand.
// Run: node --test tests/e2e/pagehide-delivery.test.mjs   (after ./scripts/pkg.sh)
//      CANOPY_QUIT_RUNS=5 repeats the quit measurement (default 1).
import { describe, test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { browsers, launch } from "./harness.mjs";

const N = 50;
const QUIT_RAW = 14;
const QUIT_RUNS = Math.max(1, Number(process.env.CANOPY_QUIT_RUNS) || 1);
// After the browser has quit, how long to keep counting arrivals (stops early once all are in).
const QUIT_GRACE_MS = 3000;

const logsOf = (reqs) => reqs.flatMap((r) => (r.body.resourceLogs || []).flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords)));
const spansOf = (reqs) => reqs.flatMap((r) => (r.body.resourceSpans || []).flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));

/** The requests a sink accepted, split by means: fetch (JSON) or beacon (text/plain + ?sent_at=). */
function tally(received) {
  const out = { fetch: { requests: 0, spans: 0 }, beacon: { requests: 0, spans: 0 }, other: { requests: 0, spans: 0 } };
  for (const r of received) {
    const n = spansOf([r]).length;
    const means = /^application\/json/.test(r.contentType ?? "") && r.headers["x-canopy-sent-at"] !== undefined ? "fetch"
      : /^text\/plain/.test(r.contentType ?? "") && /[?&]sent_at=\d+/.test(r.query) ? "beacon" : "other";
    out[means].requests++;
    out[means].spans += n;
  }
  return out;
}
const show = (t) => `fetch ${t.fetch.requests} req / ${t.fetch.spans} spans, beacon ${t.beacon.requests} req / ${t.beacon.spans} spans` +
  (t.other.requests ? `, other ${t.other.requests} req / ${t.other.spans} spans` : "");

/** The sink of the running suite, which a timeout describes. */
let sinkNow = null;

/** What the sink got: each request's means and count (spans, log records). */
function arrivals(sink) {
  if (!sink || sink.attempts.length === 0) return "nothing";
  return sink.attempts.map((a) => {
    const logs = logsOf([a]).length;
    return `${/sent_at=/.test(a.query) ? "beacon" : "fetch"} ${spansOf([a]).length} spans${logs ? ` ${logs} logs` : ""}`;
  }).join("; ");
}

async function waitFor(what, cond, ms) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${typeof what === "function" ? what() : what}; the sink got: ${arrivals(sinkNow)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Inits Canopy in `page` so nothing is sent before the page goes away, and ends N spans named `${prefix}-i`. */
async function queueSpans(page, prefix) {
  await page.evaluate(({ n, prefix }) => {
    window.canopy.init({ serviceName: "pagehide", batch: { scheduledDelayMillis: 600000, maxQueueSize: 2048, maxExportBatchSize: 512 } });
    for (let i = 0; i < n; i++) window.canopy.startSpan(`${prefix}-${i}`, { attributes: { i } }).end();
  }, { n: N, prefix });
}

/** The requests, each document once. Firefox closing a tab can stop Canopy's page hide right
 *  after a `sendBeacon` (measured), and the hide done again sends that document again, byte for
 *  byte: at least once, rather than lost when the stop comes inside `sendBeacon`, before the beacon
 *  has left (measured too); the relay drops such a copy. In Firefox a copy is allowed, and only a
 *  copy: a span in two different documents is still counted twice. In Chromium, none. */
function documents(received, browser) {
  const seen = new Set();
  const once = received.filter((r) => {
    const key = JSON.stringify(r.body);
    return !seen.has(key) && seen.add(key);
  });
  if (browser !== "firefox") assert.equal(once.length, received.length, "no document sent twice");
  return once;
}

/** Asserts every one of the N spans `${prefix}-i` arrived exactly once (see `documents`). */
function assertAllOnce(received, prefix, browser) {
  const names = spansOf(documents(received, browser)).map((s) => s.name).filter((n) => n.startsWith(`${prefix}-`));
  assert.equal(new Set(names).size, N, `all ${N} spans arrived (got ${new Set(names).size})`);
  assert.equal(names.length, N, "none twice");
}

for (const browser of browsers()) describe(browser, () => {
  let h;
  before(async () => { h = await launch(browser); sinkNow = h.sink; });
  after(async () => { await h?.close(); });
  beforeEach(() => { h.sink.reset(); });

  test(`navigation: all ${N} queued spans arrive`, async () => {
    const page = await h.page();
    await queueSpans(page, "nav");
    assert.equal(h.sink.attempts.length, 0, "nothing sent before the page goes away");
    await page.goto(`${h.base}/tests/e2e/pages/api.html?next`);
    await waitFor(`${N} spans after navigation`, () => spansOf(h.sink.received).length >= N, 10000);
    assertAllOnce(h.sink.received, "nav", browser);
    console.log(`pagehide-delivery ${browser} navigation: ${spansOf(h.sink.received).length}/${N} spans; ${show(tally(h.sink.received))}`);
    await page.context().close();
  });

  // Firefox used to lose these in about half the runs: closing a tab cuts off script running in the
  // still-visible pagehide, and a wasm-bindgen FnMut closure cut off so refused the visibilitychange's
  // call after it ("closure invoked recursively"). See `listen` in js/transport.js.
  test(`page close: all ${N} queued spans arrive`, async () => {
    const page = await h.page();
    await queueSpans(page, "close");
    assert.equal(h.sink.attempts.length, 0, "nothing sent before the page goes away");
    const context = page.context();
    await page.close();
    await waitFor(`${N} spans after the page closed`, () => spansOf(h.sink.received).length >= N, 10000);
    assertAllOnce(h.sink.received, "close", browser);
    console.log(`pagehide-delivery ${browser} page close: ${spansOf(h.sink.received).length}/${N} spans; ${show(tally(h.sink.received))}`);
    await context.close();
  });

  // Firefox closing a tab under load can stop Canopy's hide listener mid-way (while the export
  // encodes) and still run the listeners after it: none of the page's spans arrived, in about one
  // close in ten with the two cores busy. Stopped here by a throw from `navigator.onLine`, which the
  // hide reads first. Stopped once, the hide is done again when its listener is over; stopped twice
  // (that retry too), at `unload` (a page kept for back/forward gets no `unload`: the navigation
  // case stops once). Twice in Chromium only: Firefox closing a tab sometimes drops a beacon sent
  // that late (seen with beacons as markers: the retry at `unload` ran, its 50 spans never came,
  // in 1 of 10 closes; 2 of 8 runs of this test), which no page can help.
  const cases = [["navigation", 1], ["page close", 1], ...(browser === "chromium" ? [["page close", 2]] : [])];
  for (const [how, stops] of cases) {
    // Firefox's page close: up to 3 closes, each with spans of its own. A close of which nothing
    // at all arrived is Firefox dropping the late beacon (above: 2 of 8 runs, and a clean-clone
    // CI run failed this way), not a hide that was not done again, and the next close is tried;
    // a close that delivers checks everything; anything else (some spans, a span twice) fails at
    // once. A hide never done again loses every close, so this still fails.
    const tries = browser === "firefox" && how === "page close" ? 3 : 1;
    test(`${how}: a page hide stopped ${stops === 1 ? "once" : "twice"} mid-way is done again, every span once`, async () => {
      const dropped = [];
      for (let t = 0; t < tries; t++) {
        const label = `stopped${t}`;
        const mine = () => spansOf(h.sink.received).filter((s) => s.name.startsWith(`${label}-`)).length;
        const page = await h.page();
        await queueSpans(page, label);
        await page.evaluate((stops) => {
          const online = Object.getOwnPropertyDescriptor(Navigator.prototype, "onLine");
          let armed = stops;
          Object.defineProperty(Navigator.prototype, "onLine", {
            configurable: true,
            get() {
              if (armed > 0 && document.visibilityState === "hidden") {
                armed--;
                throw new Error("the hide is stopped here");
              }
              return online.get.call(this);
            },
          });
        }, stops);
        assert.equal(mine(), 0, "nothing sent before the page goes away");
        const context = page.context();
        if (how === "navigation") await page.goto(`${h.base}/tests/e2e/pages/api.html?next`);
        else await page.close();
        try {
          await waitFor(`${N} spans after the ${how}`, () => mine() >= N, 10000);
        } catch (e) {
          await context.close();
          if (t + 1 < tries && mine() === 0) {
            dropped.push(arrivals(h.sink));
            continue;
          }
          throw e;
        }
        assertAllOnce(h.sink.received, label, browser);
        await context.close();
        if (dropped.length) console.log(`pagehide-delivery ${browser} ${how} stopped once: delivered on close ${t + 1}; nothing of the closes before (${dropped.join(" | ")})`);
        return;
      }
    });
  }

  // Stopped later, while it sends: the hide has recorded what it sends, so the documents it has
  // not sent wait in the pipeline's outbox for the hide done again (they were lost before), and
  // the one it has sent is not sent again. The page ends a log record too, so the hide sends two
  // documents (logs go first); it is stopped by a throw from the text decoding that hands the
  // second to the send, in the generated glue, which no code of Canopy's between the listener and
  // the send catches. A marker beacon shows the stop happened.
  for (const how of ["navigation", "page close"]) {
    test(`${how}: a page hide stopped while it sends is done again, every span and log record once`, async () => {
      const page = await h.page();
      await queueSpans(page, "sending");
      await page.evaluate(() => {
        window.canopy.log.info("sending-log");
        const decode = TextDecoder.prototype.decode;
        let documents = 0;
        TextDecoder.prototype.decode = function (bytes, ...rest) {
          if (document.visibilityState === "hidden" && bytes && bytes.length > 64 && bytes[0] === 0x7b && ++documents === 2) {
            navigator.sendBeacon("/v1/traces?marker=stopped", "{}");
            throw new Error("the hide is stopped here");
          }
          return decode.call(this, bytes, ...rest);
        };
      });
      const context = page.context();
      if (how === "navigation") await page.goto(`${h.base}/tests/e2e/pages/api.html?next`);
      else await page.close();
      const logs = () => logsOf(h.sink.received);
      await waitFor(`${N} spans and the log record after the ${how}`, () => spansOf(h.sink.received).length >= N && logs().length > 0, 10000);
      assert.ok(h.sink.attempts.some((a) => a.query === "?marker=stopped"), "the hide was stopped while it sent");
      assertAllOnce(h.sink.received, "sending", browser);
      assert.deepEqual(logsOf(documents(h.sink.received, browser)).map((l) => l.body.stringValue), ["sending-log"], "the log record once");
      if (browser === "chromium") assert.equal(logs().length, 1, "the document sent before the stop is not sent again");
      await context.close();
    });
  }

  // What the page's own listener ends after Canopy's hide leaves by the same path, retry included:
  // here the second hide (the late span's) is the one stopped.
  test("page close: a late listener's page hide stopped mid-way is done again, its span once", async () => {
    const page = await h.page();
    await page.evaluate(() => {
      window.canopy.init({ serviceName: "late-stopped", batch: { scheduledDelayMillis: 600000 } });
      window.canopy.startSpan("queued").end();
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "hidden") window.canopy.startSpan("late").end();
      });
      const online = Object.getOwnPropertyDescriptor(Navigator.prototype, "onLine");
      let hiddenReads = 0;
      Object.defineProperty(Navigator.prototype, "onLine", {
        configurable: true,
        get() {
          if (document.visibilityState === "hidden" && ++hiddenReads === 2) throw new Error("the late hide is stopped here");
          return online.get.call(this);
        },
      });
    });
    const context = page.context();
    await page.close();
    const names = () => spansOf(h.sink.received).map((s) => s.name);
    await waitFor(() => `the queued and the late span (got ${names().join(", ") || "nothing"})`, () => names().includes("queued") && names().includes("late"), 10000);
    assert.deepEqual(spansOf(documents(h.sink.received, browser)).map((s) => s.name).sort(), ["late", "queued"], "each once");
    await context.close();
  });

  // A page's own listeners added after init run after Canopy's, which has sent what was queued:
  // what they end still leaves (these were lost before).
  for (const how of ["navigation", "page close"]) {
    test(`${how}: spans and logs ended by the page's listeners after Canopy's page hide arrive`, async () => {
      const page = await h.page();
      await page.evaluate(() => {
        window.canopy.init({ serviceName: "late", batch: { scheduledDelayMillis: 600000 } });
        window.canopy.startSpan("late-queued").end();
        addEventListener("pagehide", () => window.canopy.startSpan("late-pagehide").end());
        document.addEventListener("visibilitychange", () => {
          if (document.visibilityState !== "hidden") return;
          window.canopy.startSpan("late-visibilitychange-1").end();
          window.canopy.startSpan("late-visibilitychange-2").end();
          window.canopy.log.info("late-log");
        });
      });
      assert.equal(h.sink.attempts.length, 0, "nothing sent before the page goes away");
      const context = page.context();
      if (how === "navigation") await page.goto(`${h.base}/tests/e2e/pages/api.html?next`);
      else await page.close();
      const want = ["late-queued", "late-pagehide", "late-visibilitychange-1", "late-visibilitychange-2"];
      const logs = () => logsOf(h.sink.received);
      await waitFor("the spans and the log record", () => want.every((n) => spansOf(h.sink.received).some((s) => s.name === n)) && logs().length > 0, 10000);
      const once = documents(h.sink.received, browser);
      assert.deepEqual(spansOf(once).map((s) => s.name).sort(), [...want].sort(), "each once");
      assert.deepEqual(logsOf(once).map((l) => l.body.stringValue), ["late-log"]);
      console.log(`pagehide-delivery ${browser} ${how}, late listeners: ${show(tally(h.sink.received))}`);
      await context.close();
    });
  }

  // Chromium rejects a keepalive fetch's promise when the page unloads (between pagehide and the
  // visibilitychange after it) and still delivers the request: taken as a failure, the batch
  // was stored and sent again by the next page.
  test("navigation with a keepalive export still out: every span arrives once", async () => {
    h.sink.script.push({ delayMs: 3000 });
    const page = await h.page();
    await page.evaluate(() => {
      window.canopy.init({ serviceName: "keepalive-nav", batch: { scheduledDelayMillis: 600000 } });
      for (let i = 0; i < 30; i++) window.canopy.startSpan(`ka-first-${i}`).end();
      window.canopy.forceFlush();
    });
    await waitFor("the first export to reach the sink", () => h.sink.attempts.length >= 1, 5000);
    await page.evaluate(() => { for (let i = 0; i < 20; i++) window.canopy.startSpan(`ka-second-${i}`).end(); });
    assert.equal(h.sink.received.length, 0, "the first export is still out when the page navigates");
    await page.goto(`${h.base}/tests/e2e/pages/api.html?next`);
    await waitFor(() => `50 spans (${spansOf(h.sink.received).map((s) => s.name).join(" ")}; ${show(tally(h.sink.received))}; ${h.sink.attempts.length} attempts)`, () => spansOf(h.sink.received).length >= 50, 10000);
    // The next page sends what the last one stored, if anything.
    await page.evaluate(async () => { window.canopy.init({ serviceName: "keepalive-nav" }); await window.canopy.forceFlush(); });
    const names = spansOf(h.sink.received).map((s) => s.name);
    assert.equal(names.length, 50, `none twice (${show(tally(h.sink.received))})`);
    assert.equal(new Set(names).size, 50);
    await page.context().close();
  });

  test("browser quit: what arrives is measured and printed (not asserted: browsers do not guarantee it)", { timeout: 120000 }, async () => {
    for (let run = 1; run <= QUIT_RUNS; run++) {
      // With Canopy: N spans queued, then the browser quits.
      const q = await launch(browser);
      try {
        const page = await q.page();
        await queueSpans(page, "quit");
        assert.equal(q.sink.attempts.length, 0, "nothing sent before the browser quits");
        await q.browser.close();
        const deadline = Date.now() + QUIT_GRACE_MS;
        while (spansOf(q.sink.received).length < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
        const names = spansOf(q.sink.received).map((s) => s.name);
        assert.ok(names.every((n) => /^quit-\d+$/.test(n)), "only our spans");
        assert.equal(new Set(names).size, names.length, "none twice");
        console.log(`pagehide-delivery ${browser} browser quit (run ${run}/${QUIT_RUNS}), Canopy: ${names.length}/${N} spans; ${show(tally(q.sink.received))}`);
      } finally {
        q.sink.server.close();
      }

      // Without Canopy: QUIT_RAW keepalive fetches and QUIT_RAW beacons from a pagehide handler.
      const r = await launch(browser);
      try {
        const page = await r.page();
        await page.evaluate((k) => {
          const doc = (name) => JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ name }] }] }] });
          addEventListener("pagehide", () => {
            for (let i = 0; i < k; i++) {
              fetch("/v1/traces", { method: "POST", keepalive: true, headers: { "content-type": "application/json", "x-canopy-sent-at": String(Date.now()) }, body: doc(`raw-keepalive-${i}`) }).catch(() => {});
              navigator.sendBeacon(`/v1/traces?sent_at=${Date.now()}`, new Blob([doc(`raw-beacon-${i}`)], { type: "text/plain;charset=UTF-8" }));
            }
          });
        }, QUIT_RAW);
        await r.browser.close();
        const deadline = Date.now() + QUIT_GRACE_MS;
        while (spansOf(r.sink.received).length < 2 * QUIT_RAW && Date.now() < deadline) await new Promise((res) => setTimeout(res, 25));
        const t = tally(r.sink.received);
        console.log(`pagehide-delivery ${browser} browser quit (run ${run}/${QUIT_RUNS}), no Canopy: keepalive fetch ${t.fetch.requests}/${QUIT_RAW}, beacon ${t.beacon.requests}/${QUIT_RAW}`);
      } finally {
        r.sink.server.close();
      }
    }
  });
});
