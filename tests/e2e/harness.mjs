// Shared set-up for the browser tests: one browser, one sink, a fresh page per test.
// The same test bodies run in Chromium (playwright-core) and in Firefox (puppeteer-core over
// WebDriver BiDi, behind a thin adapter with the Playwright calls the tests use): a test file does
//   for (const name of browsers()) describe(name, () => { ... launch(name) ... });
// (launchForSuite(name) sets that up for a describe block: launch before, close after, empty sink).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, beforeEach } from "node:test";
import { chromium } from "../../tools/node_modules/playwright-core/index.mjs";
import puppeteer from "../../tools/node_modules/puppeteer-core/lib/puppeteer/puppeteer-core.js";
import { startSink } from "../support/sink.mjs";

const FIREFOX = process.env.FIREFOX || "/usr/bin/firefox-esr";
const KNOWN = ["chromium", "firefox"];

/** The browsers to run the suites in: `CANOPY_BROWSERS=chromium,firefox` (comma-separated), else
 *  Chromium, plus Firefox when Debian's firefox-esr is installed (scripts/setup.sh installs it). */
export function browsers() {
  const env = process.env.CANOPY_BROWSERS;
  if (env) {
    const names = env.split(",").map((s) => s.trim()).filter(Boolean);
    const bad = names.filter((n) => !KNOWN.includes(n));
    if (bad.length || !names.length) throw new Error(`CANOPY_BROWSERS: unknown browser(s) ${bad.join(", ")}; known: ${KNOWN.join(", ")}`);
    return names;
  }
  return existsSync(FIREFOX) ? KNOWN : ["chromium"];
}

/** A browser with the Playwright API subset the tests use (newContext, newPage, close). */
export function launchBrowser(name) {
  if (name === "chromium") return launchChromium();
  if (name === "firefox") return launchFirefox();
  throw new Error(`unknown browser ${name}`);
}

/** Debian's firefox-esr, headless over WebDriver BiDi (no browser download). `FIREFOX` overrides the binary. */
export async function launchFirefox() {
  const browser = await puppeteer.launch({ browser: "firefox", executablePath: FIREFOX, headless: true });
  return new FirefoxBrowser(browser);
}

/** Debian's Chromium, headless, with the flags this machine needs (no sandbox as root, no
 *  background networking: the network is closed). `CHROMIUM` overrides the binary. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
      "--js-flags=--expose-gc", "--enable-precise-memory-info"],
  });
}

/**
 * For a browser's describe block: launches `name` with a sink before its tests, closes it after
 * them, and empties the sink's received list before each test. Returns the harness `launch`
 * makes, filled in by `before`.
 */
export function launchForSuite(name) {
  const h = {};
  before(async () => { Object.assign(h, await launch(name)); });
  after(async () => { await h.close(); });
  beforeEach(() => { h.sink.received.length = 0; });
  return h;
}

/**
 * Polls `cond` until it returns something truthy and returns that; after `ms`, fails with
 * "timed out waiting for <what>" and `context()`.
 */
/** The session id Canopy keeps in `page`'s sessionStorage (every span of that page carries it):
 *  tells a page's spans from those a page closed by an earlier test delivers late. */
export async function pageSession(page) {
  return page.evaluate(() => (sessionStorage.getItem("canopy.session") || "").split(".")[0]);
}

export async function waitFor(what, cond, ms = 10000, context = () => "") {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}${context()}`);
    await new Promise((r) => setTimeout(r, 25)); // poll interval (bounded by the deadline)
  }
}

export async function launch(name = "chromium") {
  const sink = await startSink(0);
  const browser = await launchBrowser(name);

  const base = `http://127.0.0.1:${sink.port}`;
  return {
    name,
    sink,
    base,
    browser,
    /** A fresh page with the package loaded; `console` collects its console messages. */
    async page(query = "", prelude = "") {
      const context = await browser.newContext();
      const page = await context.newPage();
      if (prelude) await page.addInitScript(prelude);
      const consoleMessages = [];
      page.on("console", (m) => consoleMessages.push({ type: m.type(), text: m.text() }));
      page.on("pageerror", (e) => consoleMessages.push({ type: "pageerror", text: String(e) }));
      await page.goto(`${base}/tests/e2e/pages/api.html${query}`);
      await page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: 10000 });
      page.consoleMessages = consoleMessages;
      return page;
    },
    async close() {
      await browser.close();
      sink.server.close();
    },
  };
}

/** Every span the sink received, flattened, each with its resource and request. */
export const receivedSpans = (sink) => received(sink, "resourceSpans", "scopeSpans", "spans");

/** The spans the sink received from pages whose `serviceName` is `name` (a page closed by an
 *  earlier test may still deliver its own while a later test runs). */
export const spansOfService = (sink, name) =>
  receivedSpans(sink).filter((s) => (s.resource?.attributes || []).some((a) => a.key === "service.name" && a.value.stringValue === name));

/** Every log record the sink received, flattened, each with its resource and request. */
export const receivedLogs = (sink) => received(sink, "resourceLogs", "scopeLogs", "logRecords");

function received(sink, resources, scopes, items) {
  const out = [];
  for (const r of sink.received) {
    for (const res of r.body[resources] || []) {
      for (const scope of res[scopes] || []) {
        for (const x of scope[items] || []) out.push({ ...x, resource: res.resource, request: r });
      }
    }
  }
  return out;
}

export function attr(span, key) {
  const kv = (span.attributes || []).find((a) => a.key === key);
  if (!kv) return undefined;
  const v = kv.value;
  return v.stringValue ?? v.boolValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ?? v.arrayValue;
}

// Firefox: Playwright-shaped wrappers over puppeteer-core's BiDi Browser, BrowserContext and Page.
// Only what the tests call; anything else is a TypeError, not a silent no-op.

class FirefoxBrowser {
  constructor(browser) { this.raw = browser; }
  async newContext() { return new FirefoxContext(await this.raw.createBrowserContext()); }
  async newPage() { return (await this.newContext()).newPage(); }
  version() { return this.raw.version(); }
  async close() { await this.raw.close(); }
}

class FirefoxContext {
  constructor(context) {
    this.raw = context;
    this.initScripts = [];
    this.openPages = new Set();
    this.offline = false;
  }
  async newPage() {
    const page = new FirefoxPage(await this.raw.newPage(), this);
    for (const [fn, arg] of this.initScripts) await page.addInitScript(fn, arg);
    if (this.offline) await page.raw.setOfflineMode(true);
    this.openPages.add(page);
    return page;
  }
  pages() { return [...this.openPages]; }
  async addInitScript(fn, arg) {
    this.initScripts.push([fn, arg]);
    for (const p of this.openPages) await p.addInitScript(fn, arg);
  }
  async setOffline(offline) {
    this.offline = offline;
    for (const p of this.openPages) await p.raw.setOfflineMode(offline);
  }
  async close() { await this.raw.close(); this.openPages.clear(); }
}

// Playwright names console.warn "warning"; puppeteer says "warn".
const consoleType = (t) => (t === "warn" ? "warning" : t);
const lowerKeys = (o) => Object.fromEntries(Object.entries(o || {}).map(([k, v]) => [k.toLowerCase(), v]));

class FirefoxPage {
  constructor(page, context) {
    this.raw = page;
    this.ctx = context;
  }
  context() { return this.ctx; }
  async goto(url, opts = {}) { return this.raw.goto(url, { timeout: opts.timeout ?? 30000, waitUntil: "load" }); }
  async reload(opts = {}) { return this.raw.reload({ timeout: opts.timeout ?? 30000, waitUntil: "load" }); }
  async evaluate(fn, arg) { return arg === undefined ? this.raw.evaluate(fn) : this.raw.evaluate(fn, arg); }
  /** Playwright's signature: (fn, arg, { timeout }). */
  async waitForFunction(fn, arg, opts = {}) {
    const o = { timeout: opts.timeout ?? this.defaultTimeout ?? 30000, polling: 50 };
    return arg === undefined || arg === null ? this.raw.waitForFunction(fn, o) : this.raw.waitForFunction(fn, o, arg);
  }
  async waitForSelector(selector, opts = {}) {
    return this.raw.waitForSelector(selector, { timeout: opts.timeout ?? this.defaultTimeout ?? 30000 });
  }
  /** Like Playwright, waits for the element before clicking it. */
  async click(selector, opts = {}) {
    const el = await this.waitForSelector(selector, opts);
    await el.click();
    await el.dispose();
  }
  /** Like Playwright's page.press: focuses the element, then presses the key. */
  async press(selector, key) {
    await this.raw.focus(selector);
    await this.raw.keyboard.press(key);
  }
  async addInitScript(fn, arg) {
    if (typeof fn === "function") return this.raw.evaluateOnNewDocument(fn, arg);
    return this.raw.evaluateOnNewDocument(String(fn));
  }
  setDefaultTimeout(ms) { this.defaultTimeout = ms; this.raw.setDefaultTimeout(ms); }
  url() { return this.raw.url(); }
  async close() { this.ctx.openPages.delete(this); await this.raw.close(); }
  on(event, handler) {
    const wrap = {
      console: (m) => handler({ type: () => consoleType(m.type()), text: () => m.text() }),
      pageerror: (e) => handler(e),
      // puppeteer has no resourceType over BiDi (it throws): undefined here, the tests say what they use instead.
      request: (r) => handler({ url: () => r.url(), method: () => r.method(), headers: () => lowerKeys(r.headers()), resourceType: () => undefined }),
      response: (r) => handler({ url: () => r.url(), status: () => r.status(), headers: () => lowerKeys(r.headers()) }),
    }[event];
    if (!wrap) throw new TypeError(`FirefoxPage.on: unsupported event ${event}`);
    this.raw.on(event, wrap);
    return this;
  }
}
