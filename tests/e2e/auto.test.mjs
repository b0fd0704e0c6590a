// What a page records without code, in real headless Chromium and Firefox: the tab's session
// (session.id on every span, from the CSPRNG, renewed after inactivity), browser attributes,
// route changes (History API, hash changes) and user interactions (real clicks and key presses).
// Run: CANOPY_BROWSERS=chromium node --test tests/e2e/auto.test.mjs   (after ./scripts/pkg.sh)
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { browsers, launchForSuite, receivedSpans, attr, pageSession } from "./harness.mjs";

const MIN = 60_000;

for (const browser of browsers()) describe(browser, () => {
  const h = launchForSuite(browser);

  const named = (name) => receivedSpans(h.sink).filter((s) => s.name === name);
  const one = (name) => {
    const all = named(name);
    assert.equal(all.length, 1, `one ${name} span; got ${receivedSpans(h.sink).map((s) => s.name).join(", ")}`);
    return all[0];
  };
  const flush = (page) => page.evaluate(() => window.canopy.forceFlush());

  /** Inits Canopy on a fresh page, ends one span, flushes; returns the page and that span's session.id. */
  async function sessionOf(page, config = {}) {
    h.sink.received.length = 0;
    await page.evaluate(async (config) => {
      window.canopy.init({ serviceName: "auto", ...config });
      window.canopy.startSpan("probe").end();
      await window.canopy.forceFlush();
    }, config);
    return attr(one("probe"), "session.id");
  }

  test("session.id is on every span, drawn apart from the trace and span ids", async () => {
    const page = await h.page();
    const sent = [];
    page.on("request", (r) => { const tp = r.headers()["traceparent"]; if (tp) sent.push(tp); });
    await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "auto" });
      for (let i = 0; i < 10; i++) c.startActiveSpan(`s${i}`, () => { c.startSpan("child").end(); });
      await (await fetch("/tests/e2e/pages/api.html")).text();
      await c.forceFlush();
    });
    const spans = receivedSpans(h.sink);
    assert.ok(spans.length >= 21, `${spans.length} spans`);
    const session = attr(spans[0], "session.id");
    assert.match(session, /^[0-9a-f]{32}$/);
    for (const s of spans) assert.equal(attr(s, "session.id"), session, `${s.name} carries the session`);
    assert.equal(spans[0].resource.attributes.find((a) => a.key === "session.id"), undefined, "not a resource attribute (it can change)");
    assert.ok(sent.length >= 1, "the fetch carried a traceparent");
    // No 4-byte run of the session id appears in any id that leaves the page.
    const ids = [...sent, ...spans.flatMap((s) => [s.traceId, s.spanId])].join(" ");
    for (let i = 0; i + 8 <= session.length; i++) {
      assert.ok(!ids.includes(session.slice(i, i + 8)), `session bytes ${session.slice(i, i + 8)} found in a trace or span id`);
    }
    await page.context().close();
  });

  test("the session survives a reload, and is renewed after 15 idle minutes or 4 hours", async () => {
    const page = await h.page();
    const first = await sessionOf(page);
    const reload = async () => { await page.reload(); await page.waitForFunction(() => document.body.dataset.ready === "1"); };
    // The stored state is `id.started.last` (epoch ms); time is driven by rewriting it.
    const age = (startedAgo, idleFor) => page.evaluate(([startedAgo, idleFor]) => {
      const [id] = sessionStorage.getItem("canopy.session").split(".");
      const now = Date.now();
      sessionStorage.setItem("canopy.session", `${id}.${now - startedAgo}.${now - idleFor}`);
    }, [startedAgo, idleFor]);

    await reload();
    assert.equal(await sessionOf(page), first, "a reload keeps the session");
    await age(60 * MIN, 14 * MIN);
    await reload();
    assert.equal(await sessionOf(page), first, "14 idle minutes: the same session");
    await age(60 * MIN, 16 * MIN);
    await reload();
    const second = await sessionOf(page);
    assert.match(second, /^[0-9a-f]{32}$/);
    assert.notEqual(second, first, "16 idle minutes: a new session");
    await age(4 * 60 * MIN + 1000, 0);
    await reload();
    const third = await sessionOf(page);
    assert.notEqual(third, second, "active but older than 4 hours: a new session");
    const other = await h.page();
    assert.notEqual(await sessionOf(other), third, "another tab has its own session");
    await page.context().close();
    await other.context().close();
  });

  test("browser resource attributes", async () => {
    const page = await h.page();
    const facts = await page.evaluate(() => {
      const d = navigator.userAgentData;
      return { ua: navigator.userAgent, lang: navigator.language, brands: d ? d.brands.map((b) => `${b.brand} ${b.version}`) : undefined, platform: d?.platform, mobile: d?.mobile };
    });
    await sessionOf(page);
    const res = Object.fromEntries(one("probe").resource.attributes.map((a) => [a.key, a.value]));
    assert.equal(res["user_agent.original"].stringValue, facts.ua);
    assert.equal(res["browser.language"].stringValue, facts.lang);
    if (browser === "chromium") {
      assert.ok(facts.brands.length > 0, "Chromium has User-Agent Client Hints on 127.0.0.1");
      assert.deepEqual(res["browser.brands"].arrayValue.values.map((v) => v.stringValue), facts.brands);
      assert.equal(res["browser.platform"].stringValue, facts.platform);
      assert.equal(res["browser.mobile"].boolValue, facts.mobile);
    } else {
      assert.equal(res["browser.brands"], undefined, "left unset where the browser has no client hints");
    }
    await page.context().close();
  });

  test("route changes: pushState, replaceState, hash changes and back, one span per URL change", async () => {
    const page = await h.page();
    const start = await page.evaluate(() => location.pathname);
    await page.evaluate(() => window.canopy.init({ serviceName: "auto" }));
    await page.evaluate(() => {
      history.pushState({}, "", "/app/users?id=1");
      history.replaceState({ saved: true }, "", location.href); // the same URL: no span
      history.replaceState({}, "", "/app/users/1");
      location.hash = "#details"; // fires popstate and hashchange: one span
    });
    await page.waitForFunction(() => location.hash === "#details");
    await page.evaluate(() => history.back());
    await page.waitForFunction(() => location.hash === "");
    await flush(page);
    const routes = named("routeChange").sort((a, b) => (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1));
    const rows = routes.map((s) => [attr(s, "canopy.route.trigger"), attr(s, "url.path"), attr(s, "canopy.route.previous_path"), attr(s, "url.fragment") ?? null]);
    assert.deepEqual(rows, [
      ["pushState", "/app/users", start, null],
      ["replaceState", "/app/users/1", "/app/users", null],
      [rows[2]?.[0], "/app/users/1", "/app/users/1", "details"],
      ["popstate", "/app/users/1", "/app/users/1", null],
    ]);
    assert.ok(["popstate", "hashchange"].includes(rows[2][0]));
    assert.equal(await page.evaluate(() => typeof history.pushState), "function");
    await page.context().close();
  });

  test("routeChanges: false records none and leaves history alone", async () => {
    const page = await h.page();
    const r = await page.evaluate(async () => {
      window.canopy.init({ serviceName: "auto", routeChanges: false });
      history.pushState({}, "", "/elsewhere");
      window.canopy.startSpan("marker").end();
      await window.canopy.forceFlush();
      return Object.prototype.hasOwnProperty.call(history, "pushState");
    });
    assert.equal(r, false, "pushState not wrapped");
    assert.equal(named("routeChange").length, 0);
    one("marker");
    await page.context().close();
  });

  test("instrumentFetch and instrumentXhr false: fetch, XMLHttpRequest and resource entries are left alone", async () => {
    const page = await h.page("", `window.__observed = [];
      const observe = PerformanceObserver.prototype.observe;
      PerformanceObserver.prototype.observe = function (o) { window.__observed.push(o && (o.type || String(o.entryTypes))); return observe.call(this, o); };
      window.__fetch = window.fetch; window.__send = XMLHttpRequest.prototype.send;`);
    const r = await page.evaluate(async () => {
      window.canopy.init({ serviceName: "auto", instrumentFetch: false, instrumentXhr: false });
      await fetch(location.href);
      window.canopy.startSpan("marker").end();
      await window.canopy.forceFlush();
      return { fetch: window.fetch === window.__fetch, send: XMLHttpRequest.prototype.send === window.__send, observed: window.__observed };
    });
    assert.equal(r.fetch, true, "fetch not wrapped");
    assert.equal(r.send, true, "XMLHttpRequest not wrapped");
    assert.ok(!r.observed.includes("resource"), `no resource-entry observer (observed: ${r.observed.join(", ")})`);
    one("marker");
    assert.equal(receivedSpans(h.sink).filter((s) => s.kind === 3).length, 0, "no client span");
    await page.context().close();
  });

  /** A page with a form and buttons whose handlers start spans and requests. */
  async function interactive(config = {}) {
    const page = await h.page();
    await page.evaluate((config) => {
      const c = window.canopy;
      document.body.innerHTML = `
        <form id="f"><input id="q" name="q"><button id="save" type="button"><span id="label">Save</span></button>
        <button id="stop" type="button">Stop</button><button id="go">Go</button></form>`;
      window.done = {};
      // A timer task after the click's dispatch (what is under test: work that is not the click's).
      const later = (name) => setTimeout(() => { c.startSpan(name).end(); window.done[name] = true; }, 0);
      document.getElementById("save").addEventListener("click", async () => {
        c.startSpan("inHandler").end();
        c.startActiveSpan("validate", () => c.startSpan("rule").end());
        window.activeAfter = c.getActiveSpan() === undefined;
        fetch("/tests/e2e/pages/api.html");
        await new Promise((r) => setTimeout(r, 0)); // crosses a task boundary: the behaviour under test
        c.startSpan("afterAwait").end();
        window.done.afterAwait = true;
      });
      document.getElementById("stop").addEventListener("click", (e) => { e.stopPropagation(); c.startSpan("stopped").end(); later("afterStopped"); });
      document.getElementById("f").addEventListener("submit", (e) => { e.preventDefault(); c.startSpan("submitted").end(); });
      c.init({ serviceName: "auto", ...config });
    }, config);
    return page;
  }

  test("a click is a span named from its control, parenting what its handlers start synchronously, and nothing after an await", async () => {
    const page = await interactive();
    await page.click("#label"); // the <span> inside the button: named after the button
    await page.waitForFunction(() => window.done.afterAwait === true, null, { timeout: 5000 });
    // The fetch's span ends with its response (and timing entry): flush until it is in (bounded).
    for (let i = 0; i < 50 && !receivedSpans(h.sink).some((s) => s.kind === 3); i++) await flush(page);
    const click = one("click button#save");
    assert.equal(attr(click, "event_type"), "click");
    assert.equal(attr(click, "target_element"), "BUTTON");
    const fetchSpan = receivedSpans(h.sink).find((s) => s.kind === 3);
    assert.ok(fetchSpan, "the fetch made a span");
    for (const child of [one("inHandler"), one("validate"), fetchSpan]) {
      assert.equal(child.parentSpanId, click.spanId, `${child.name} is a child of the click`);
      assert.equal(child.traceId, click.traceId);
    }
    assert.equal(one("rule").parentSpanId, one("validate").spanId, "an active span inside the handler nests under it");
    assert.equal(await page.evaluate(() => window.activeAfter), true, "getActiveSpan is unaffected by the interaction");
    const after = one("afterAwait");
    assert.equal(after.parentSpanId, undefined, "after an await nothing is current: a new trace");
    assert.notEqual(after.traceId, click.traceId);
    assert.ok(BigInt(click.endTimeUnixNano) <= BigInt(after.startTimeUnixNano), "the click span ended with its dispatch");
    await page.context().close();
  });

  test("a handler that stops propagation: the click still ends, and later work is not its child", async () => {
    const page = await interactive();
    await page.click("#stop");
    await page.waitForFunction(() => window.done.afterStopped === true, null, { timeout: 5000 });
    await flush(page);
    const click = one("click button#stop");
    assert.equal(one("stopped").parentSpanId, click.spanId);
    const later = one("afterStopped");
    assert.equal(later.parentSpanId, undefined, "a timer after the click is not its child");
    assert.ok(BigInt(click.endTimeUnixNano) <= BigInt(later.startTimeUnixNano));
    await page.context().close();
  });

  test("submit, and Enter on a control; other keys and untrusted events record nothing", async () => {
    const page = await interactive();
    await page.press("#q", "a");
    await page.press("#q", "Enter");
    await page.evaluate(() => document.getElementById("save").click()); // untrusted: no span
    await flush(page);
    const key = one("keydown input#q");
    const submit = one("submit form#f");
    // Enter's implicit submission (a click on the form's default button, #go, where the browser
    // makes it a trusted one, then submit) follows in the key press's task: one action, one
    // trace, each event with its own handlers' spans.
    assert.equal(key.parentSpanId, undefined);
    const implicit = named("click button#go");
    assert.ok(implicit.length <= 1);
    if (implicit.length) assert.equal(implicit[0].parentSpanId, key.spanId, "the default button's click continues the key press");
    assert.equal(submit.parentSpanId, implicit.length ? implicit[0].spanId : key.spanId, "submit continues it");
    assert.equal(submit.traceId, key.traceId);
    assert.equal(one("submitted").parentSpanId, submit.spanId);
    assert.equal(named("click button#save").length, 0, "element.click() from script is not a user interaction");
    assert.equal(receivedSpans(h.sink).filter((s) => s.name.startsWith("keydown")).length, 1, "typing a letter records nothing");
    await page.context().close();
  });

  test("a submit button's click and its form's submit are one trace; a submit in a later task is its own", async () => {
    const page = await interactive();
    await page.click("#go");
    await flush(page);
    const click = one("click button#go");
    const submit = one("submit form#f");
    assert.equal(click.parentSpanId, undefined);
    assert.equal(submit.parentSpanId, click.spanId, "the form's submit continues the click");
    assert.equal(submit.traceId, click.traceId);
    assert.equal(one("submitted").parentSpanId, submit.spanId, "the submit handler's span is the submit's");
    // A click on a plain button of the same form, then a submit a task later: not one action.
    h.sink.received.length = 0;
    await page.click("#save");
    await page.evaluate(() => document.getElementById("f").requestSubmit()); // a task of its own, after the click's
    await page.waitForFunction(() => window.done.afterAwait === true, null, { timeout: 5000 });
    await flush(page);
    const save = one("click button#save");
    for (const s of named("submit form#f")) assert.notEqual(s.traceId, save.traceId, "a later submit is not the click's");
    assert.equal(one("submitted").traceId === save.traceId, false);
    await page.context().close();
  });

  test("interactions: false records none; a list picks the event types", async () => {
    let page = await interactive({ interactions: false });
    await page.click("#stop");
    await page.waitForFunction(() => window.done.afterStopped === true, null, { timeout: 5000 });
    await flush(page);
    const load = ["documentLoad", "documentFetch", "resourceFetch"];
    // Only this page's spans: an earlier test's closed page may still deliver its own now.
    const session = await pageSession(page);
    const mine = receivedSpans(h.sink).filter((s) => attr(s, "session.id") === session);
    assert.deepEqual(mine.map((s) => s.name).filter((n) => !load.includes(n)).sort(), ["afterStopped", "stopped"]);
    assert.equal(one("stopped").parentSpanId, undefined);
    await page.context().close();
    h.sink.received.length = 0;
    page = await interactive({ interactions: ["submit"] });
    await page.click("#stop");
    await page.click("#go"); // a submit button: the click is not recorded, the submit is
    await page.waitForFunction(() => window.done.afterStopped === true, null, { timeout: 5000 });
    await flush(page);
    assert.equal(receivedSpans(h.sink).filter((s) => s.name.startsWith("click")).length, 0);
    one("submit form#f");
    const warn = await page.evaluate(() => { try { window.canopy.init({ serviceName: "x", interactions: "click" }); } catch (e) { return e.message; } });
    assert.ok(warn === undefined || /interactions/.test(warn));
    await page.context().close();
  });

  /** Inits Canopy and flushes until the page load is exported (bounded). */
  async function pageLoad(page, config = {}) {
    await page.evaluate((config) => window.canopy.init({ serviceName: "auto", documentLoad: true, ...config }), config);
    for (let i = 0; i < 50 && named("documentLoad").length === 0; i++) await flush(page);
    return one("documentLoad");
  }

  test("the page load: documentLoad, documentFetch and resourceFetch in the trace of <meta name=traceparent>", async () => {
    const [traceId, spanId] = ["4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"];
    const page = await h.page(`?traceparent=00-${traceId}-${spanId}-01`);
    const load = await pageLoad(page);
    assert.equal(load.traceId, traceId);
    assert.equal(load.parentSpanId, spanId);
    assert.equal(attr(load, "http.url"), await page.evaluate(() => location.href));
    const events = load.events.map((e) => e.name);
    for (const e of ["domInteractive", "domContentLoadedEventEnd", "domComplete", "loadEventStart", "loadEventEnd"]) assert.ok(events.includes(e), `documentLoad has ${e}`);
    const loadEnd = load.events.find((e) => e.name === "loadEventEnd").timeUnixNano;
    assert.equal(load.endTimeUnixNano, loadEnd, "documentLoad ends with the load event");
    const doc = one("documentFetch");
    assert.equal(doc.parentSpanId, load.spanId);
    assert.equal(doc.traceId, traceId);
    assert.equal(attr(doc, "http.url"), attr(load, "http.url"));
    assert.deepEqual(doc.events.map((e) => e.name).filter((n) => ["fetchStart", "requestStart", "responseStart", "responseEnd"].includes(n)),
      ["fetchStart", "requestStart", "responseStart", "responseEnd"]);
    const resources = named("resourceFetch");
    const wasm = resources.find((s) => attr(s, "http.url").endsWith("/pkg/canopy_web_bg.wasm"));
    assert.ok(wasm, `a resourceFetch for the .wasm; got ${resources.map((s) => attr(s, "http.url")).join(", ")}`);
    assert.ok(resources.every((s) => s.parentSpanId === load.spanId && s.traceId === traceId));
    assert.ok(attr(wasm, "http.response_content_length") > 10000);
    assert.ok(BigInt(wasm.startTimeUnixNano) < BigInt(wasm.endTimeUnixNano));
    await page.context().close();
  });

  test("init, then shutdown before the page-load task ran, then init again: the page load is recorded once", async () => {
    h.sink.received.length = 0;
    const page = await h.page();
    await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "auto", documentLoad: true });
      await c.shutdown();
      // A task later: the page-load task init scheduled (a 0 ms timer, queued first) ran while stopped.
      await new Promise((r) => setTimeout(r, 0));
      c.init({ serviceName: "auto", documentLoad: true });
    });
    for (let i = 0; i < 50 && named("documentLoad").length === 0; i++) await flush(page);
    one("documentLoad");
    await page.evaluate(async () => { await window.canopy.shutdown(); window.canopy.init({ serviceName: "auto", documentLoad: true }); });
    await page.evaluate(async () => { window.canopy.startSpan("marker").end(); await window.canopy.forceFlush(); });
    assert.equal(named("marker").length, 1);
    one("documentLoad"); // not again
    await page.context().close();
  });

  test("init with documentLoad, shutdown, init without it: no page load is recorded", async () => {
    const page = await h.page();
    const session = await page.evaluate(async () => {
      const c = window.canopy;
      c.init({ serviceName: "auto-noload", documentLoad: true });
      await c.shutdown();
      c.init({ serviceName: "auto-noload", documentLoad: false });
      await new Promise((r) => setTimeout(r, 0)); // the page-load task the first init scheduled has run
      c.startSpan("marker").end();
      await c.forceFlush();
      return sessionStorage.getItem("canopy.session").split(".")[0];
    });
    const mine = receivedSpans(h.sink).filter((s) => attr(s, "session.id") === session).map((s) => s.name);
    assert.ok(mine.includes("marker"), `the marker arrived: ${mine.join(", ")}`);
    assert.deepEqual(mine.filter((n) => ["documentLoad", "documentFetch", "resourceFetch"].includes(n)), []);
    await page.context().close();
  });

  test("the page load joins the trace of the document's Server-Timing traceparent; documentLoad: false records none", async () => {
    const [traceId, spanId] = ["0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"];
    let page = await h.page(`?servertiming=${encodeURIComponent(`traceparent;desc="00-${traceId}-${spanId}-01"`)}`);
    const load = await pageLoad(page);
    assert.equal(load.traceId, traceId);
    assert.equal(load.parentSpanId, spanId);
    assert.equal(one("documentFetch").traceId, traceId);
    await page.context().close();
    h.sink.received.length = 0;
    page = await h.page();
    await page.evaluate(async () => {
      window.canopy.init({ serviceName: "auto", documentLoad: false });
      // Crosses the task boundary: the page load would have been recorded in a task after init.
      await new Promise((r) => setTimeout(r, 0));
      window.canopy.startSpan("marker").end();
      await window.canopy.forceFlush();
    });
    one("marker");
    assert.equal(named("documentLoad").length + named("resourceFetch").length, 0);
    await page.context().close();
  });

  test("long animation frames: a slow click handler's frame is a child of the click, with its script", { skip: browser === "firefox" && "Firefox has neither long-animation-frame nor longtask entries" }, async () => {
    const page = await h.page();
    await page.evaluate(() => {
      const c = window.canopy;
      document.body.innerHTML = `<button id="slow">Slow</button>`;
      const busy = (ms) => { const end = performance.now() + ms; while (performance.now() < end); };
      document.getElementById("slow").addEventListener("click", function slowHandler() { busy(120); });
      c.init({ serviceName: "auto", longAnimationFrames: true });
      window.longFrames = 0;
      new PerformanceObserver((l) => { window.longFrames += l.getEntries().length; }).observe({ type: "long-animation-frame" });
    });
    await page.click("#slow");
    await page.waitForFunction(() => window.longFrames > 0, null, { timeout: 5000 });
    // The entry reaches Canopy's observer in a task of its own: flush until it is in (bounded).
    const under = () => named("longAnimationFrame").filter((s) => named("click button#slow").some((c) => s.parentSpanId === c.spanId));
    for (let i = 0; i < 50 && under().length === 0; i++) await flush(page);
    const click = one("click button#slow");
    const frames = under();
    assert.equal(frames.length, 1, `one long frame under the click; got ${named("longAnimationFrame").map((s) => s.parentSpanId).join(", ")}`);
    const f = frames[0];
    assert.equal(f.traceId, click.traceId);
    const ms = Number(BigInt(f.endTimeUnixNano) - BigInt(f.startTimeUnixNano)) / 1e6;
    assert.ok(ms >= 120, `the frame covers the handler (${ms} ms)`);
    assert.ok(BigInt(f.startTimeUnixNano) <= BigInt(click.startTimeUnixNano));
    assert.match(attr(f, "script.invoker"), /BUTTON#slow\.onclick/);
    assert.equal(attr(f, "script.invoker_type"), "event-listener");
    assert.ok(attr(f, "script.duration_ms") >= 100);
    assert.ok(attr(f, "long_frame.blocking_duration_ms") > 0);
    await page.context().close();
  });

  test("longAnimationFrames: false records none", { skip: browser === "firefox" && "no long frame entries in Firefox" }, async () => {
    const page = await h.page();
    await page.evaluate(async () => {
      window.canopy.init({ serviceName: "auto", longAnimationFrames: false });
      const seen = new Promise((r) => new PerformanceObserver(r).observe({ type: "long-animation-frame" }));
      // A 100 ms busy task of its own: the long frame under test (not a wait; `seen` is the condition).
      setTimeout(() => { const end = performance.now() + 100; while (performance.now() < end); }, 0);
      await seen; // the browser saw a long frame
      window.canopy.startSpan("marker").end();
      await window.canopy.forceFlush();
    });
    one("marker");
    assert.equal(named("longAnimationFrame").length, 0);
    await page.context().close();
  });

  test("a long frame during the page load is a child of documentLoad", { skip: browser === "firefox" && "no long frame entries in Firefox" }, async () => {
    // A DOMContentLoaded handler that blocks the page for 150 ms while it loads (a busy script
    // before the first frame makes no long-animation-frame entry).
    const page = await h.page("", "addEventListener('DOMContentLoaded', () => { const end = performance.now() + 150; while (performance.now() < end); })");
    const load = await pageLoad(page, { longAnimationFrames: true });
    const under = () => named("longAnimationFrame").filter((s) => s.parentSpanId === load.spanId);
    for (let i = 0; i < 20 && under().length === 0; i++) await flush(page);
    assert.ok(under().length >= 1, `a long frame under documentLoad; got ${JSON.stringify(named("longAnimationFrame").map((s) => [s.parentSpanId, s.startTimeUnixNano]))} (documentLoad ${load.spanId} ${load.startTimeUnixNano}-${load.endTimeUnixNano})`);
    const f = under()[0];
    assert.equal(f.traceId, load.traceId);
    assert.ok(BigInt(f.startTimeUnixNano) <= BigInt(load.endTimeUnixNano));
    await page.context().close();
  });
});
