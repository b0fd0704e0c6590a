// The relay's trace viewer in real headless Chromium: post a known trace to the real relay
// binary (local mode), open it, check the waterfall nests children under parents, click a span.
// Run: node --test tests/e2e/relay-viewer.test.mjs   (builds the relay with cargo if needed)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launchChromium } from "./harness.mjs";
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const TRACE = "5b8efff798038103d269b633813fc60c";
const ms = 1_000_000n;
const t0 = BigInt(Date.now() - 5000) * ms;

// checkout ─┬─ fetch POST /api/cart ── POST /api/cart (api) ─┬─ SELECT cart (error)
//           │                                               └─ charge card
//           └─ render cart
const spans = [
  ["a000000000000001", "", "checkout", 1, 0, 900, "frontend", { "user.action": "click #checkout" }],
  ["a000000000000002", "a000000000000001", "fetch POST /api/cart", 3, 20, 620, "frontend", { "http.request.method": "POST", "url.full": "https://shop.example/api/cart" }],
  ["b000000000000003", "a000000000000002", "POST /api/cart", 2, 60, 580, "api", { "http.route": "/api/cart" }],
  ["b000000000000004", "b000000000000003", "SELECT cart", 3, 80, 300, "api", { "db.system": "postgresql", "db.statement": "SELECT * FROM cart WHERE id = $1" }],
  ["b000000000000005", "b000000000000003", "charge card", 3, 320, 560, "api", { "payment.provider": "stripe" }],
  ["a000000000000006", "a000000000000001", "render cart", 1, 640, 880, "frontend", { "items": 3 }],
];

function otlp() {
  const byService = new Map();
  for (const [id, parent, name, kind, start, end, service, attrs] of spans) {
    const span = {
      traceId: TRACE, spanId: id, name, kind,
      startTimeUnixNano: String(t0 + BigInt(start) * ms), endTimeUnixNano: String(t0 + BigInt(end) * ms),
      attributes: Object.entries(attrs).map(([key, v]) => ({ key, value: typeof v === "number" ? { intValue: String(v) } : { stringValue: v } })),
    };
    if (parent) span.parentSpanId = parent;
    if (name === "SELECT cart") {
      span.status = { code: 2, message: "deadlock detected" };
      span.events = [{ timeUnixNano: String(t0 + 250n * ms), name: "exception", attributes: [{ key: "exception.type", value: { stringValue: "DeadlockError" } }] }];
    }
    if (!byService.has(service)) byService.set(service, []);
    byService.get(service).push(span);
  }
  return {
    resourceSpans: [...byService].map(([service, s]) => ({
      resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
      scopeSpans: [{ scope: { name: "test" }, spans: s }],
    })),
  };
}

let relay, base, browser, stdout = "";

before(async () => {
  execFileSync("cargo", ["build", "-p", "canopy-relay", "--quiet"], { cwd: root, stdio: "inherit" });
  relay = spawn(join(root, "target", "debug", "canopy-relay"), [], {
    cwd: root, env: { PATH: process.env.PATH, CANOPY_LISTEN: "127.0.0.1:0" }, stdio: ["ignore", "pipe", "inherit"],
  });
  relay.stdout.setEncoding("utf8");
  base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("relay did not start: " + stdout)), 10000);
    relay.stdout.on("data", (d) => {
      stdout += d;
      const m = stdout.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  relay?.kill("SIGTERM");
});

test("the viewer lists the trace, nests the waterfall, and shows a span's attributes", async () => {
  const res = await fetch(`${base}/v1/traces`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-canopy-sent-at": String(Date.now()) },
    body: JSON.stringify(otlp()),
  });
  assert.equal(res.status, 200, await res.text());

  const page = await (await browser.newContext({ viewport: { width: 1400, height: 700 } })).newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(`${base}/`);

  // The list: root name, service, span count, errors.
  const row = page.locator(`tr[data-trace-id="${TRACE}"]`);
  await row.waitFor({ timeout: 10000 });
  const cells = await row.locator("td").allTextContents();
  assert.equal(cells[0], "checkout");
  assert.equal(cells[1], "frontend");
  assert.equal(cells[2], "6");
  assert.equal(cells[4], "1", "one error");

  await row.click();
  await page.waitForSelector("#waterfall li.span");
  assert.equal(new URL(page.url()).hash, `#trace/${TRACE}`);

  // Every child sits inside its parent's <li>, at one more level of indentation.
  const tree = await page.evaluate(() => [...document.querySelectorAll("#waterfall li.span")].map((li) => ({
    id: li.dataset.spanId,
    domParent: li.parentElement.closest("li.span")?.dataset.spanId ?? "",
    depth: Number(li.querySelector(":scope > .row").style.getPropertyValue("--depth")),
    name: li.querySelector(":scope > .row .span-name").textContent,
    left: parseFloat(li.querySelector(":scope > .row .bar").style.left),
    width: parseFloat(li.querySelector(":scope > .row .bar").style.width),
  })));
  assert.deepEqual(tree.map((s) => s.name), ["checkout", "fetch POST /api/cart", "POST /api/cart", "SELECT cart", "charge card", "render cart"],
    "depth-first, children by start time");
  const depthOf = new Map(tree.map((s) => [s.id, s.depth]));
  for (const [id, parent] of spans.map((s) => [s[0], s[1]])) {
    const got = tree.find((s) => s.id === id);
    assert.equal(got.domParent, parent, `${got.name} is nested under its parent`);
    assert.equal(got.depth, parent ? depthOf.get(parent) + 1 : 0, `${got.name} is indented one level deeper`);
  }
  // Bars to scale: the root spans the trace; the others sit where their times say.
  const byName = Object.fromEntries(tree.map((s) => [s.name, s]));
  assert.ok(Math.abs(byName["checkout"].left) < 0.01 && Math.abs(byName["checkout"].width - 100) < 0.01);
  assert.ok(Math.abs(byName["SELECT cart"].left - (80 / 900) * 100) < 0.01, `SELECT cart at ${byName["SELECT cart"].left}%`);
  assert.ok(Math.abs(byName["render cart"].width - (240 / 900) * 100) < 0.01);
  assert.equal(await page.locator('li[data-span-id="b000000000000004"] > .row .bar.error').count(), 1, "the error span is red");

  // Clicking a span shows its attributes and events.
  await page.locator('li[data-span-id="b000000000000004"] > .row').click();
  await page.waitForSelector("#detail-name");
  assert.equal(await page.textContent("#detail-name"), "SELECT cart");
  const attrs = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll("#detail-attributes tr")]
    .map((tr) => [tr.dataset.key, tr.querySelector(".v").textContent])));
  assert.deepEqual(attrs, { "db.system": "postgresql", "db.statement": "SELECT * FROM cart WHERE id = $1" });
  const details = await page.textContent("#details");
  assert.match(details, /deadlock detected/);
  assert.match(details, /Events \(1\)/);
  assert.match(details, /exception/);
  assert.match(details, /DeadlockError/);
  assert.match(details, /service\.name/);
  assert.equal(await page.locator(".row.selected").count(), 1);

  mkdirSync(join(root, "target"), { recursive: true });
  await page.screenshot({ path: join(root, "target", "relay-viewer.png"), fullPage: true });
  assert.deepEqual(errors, [], "no errors in the page");

  // The relay printed the same tree to its console.
  assert.match(stdout, /trace 5b8efff798038103d269b633813fc60c {2}frontend {2}6 spans {2}900\.0 ms {2}1 error\n {2}checkout {2}900\.0 ms\n {4}fetch POST \/api\/cart {2}600\.0 ms\n {6}POST \/api\/cart {2}520\.0 ms\n {8}SELECT cart {2}220\.0 ms {2}ERROR deadlock detected\n/);
});

test("a page load with its Web Vitals: a waterfall, each vital with its rating", async () => {
  const trace = "6c9fefff798038103d269b633813fc61";
  const at = (offset) => String(t0 + BigInt(offset) * ms);
  const span = (id, parent, name, start, end, attrs) => ({ traceId: trace, spanId: id, ...(parent ? { parentSpanId: parent } : {}), name, kind: 1,
    startTimeUnixNano: at(start), endTimeUnixNano: at(end),
    attributes: Object.entries(attrs).map(([key, v]) => ({ key, value: typeof v === "number" ? { doubleValue: v } : { stringValue: v } })) });
  const body = { resourceSpans: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "frontend" } }] }, scopeSpans: [{ scope: { name: "canopy-web" }, spans: [
    span("c000000000000001", "", "documentLoad", 0, 1200, { "http.url": "https://shop.example/" }),
    span("c000000000000002", "c000000000000001", "documentFetch", 5, 300, {}),
    span("c000000000000003", "c000000000000001", "resourceFetch", 320, 900, { "http.url": "https://shop.example/hero.jpg" }),
    span("c000000000000004", "c000000000000001", "LCP", 1100, 1100, { "lcp.value": 4300, "lcp.rating": "poor", "lcp.element": "#hero" }),
    span("c000000000000005", "c000000000000001", "CLS", 1150, 1150, { "cls.value": 0.02, "cls.rating": "good" }),
  ] }] }] };
  const res = await fetch(`${base}/v1/traces`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  assert.equal(res.status, 200, await res.text());
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 700 } })).newPage();
  await page.goto(`${base}/#trace/${trace}`);
  await page.waitForSelector("#waterfall li.span");
  await page.waitForFunction(() => document.querySelectorAll("#waterfall li.span").length === 5);
  const rows = await page.evaluate(() => [...document.querySelectorAll("#waterfall li.span")].map((li) => ({
    name: li.querySelector(".span-name").textContent,
    parent: li.parentElement.closest("li.span")?.querySelector(".span-name").textContent ?? "",
    rating: li.querySelector(":scope > .row .rating")?.textContent ?? "",
    ratingClass: li.querySelector(":scope > .row .rating")?.className ?? "",
  })));
  assert.deepEqual(rows.map((r) => [r.name, r.parent, r.rating]), [
    ["documentLoad", "", ""],
    ["documentFetch", "documentLoad", ""],
    ["resourceFetch", "documentLoad", ""],
    ["LCP", "documentLoad", "poor"],
    ["CLS", "documentLoad", "good"],
  ]);
  assert.equal(rows[3].ratingClass, "rating poor");
  await page.click(`li[data-span-id="c000000000000004"] > .row`);
  await page.waitForSelector("#details .rating.poor");
  await page.context().close();
});

