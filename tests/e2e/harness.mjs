// Shared set-up for the browser tests: one Chromium, one sink, a fresh page per test.
import { chromium } from "../../tools/node_modules/playwright-core/index.mjs";
import { startSink } from "../support/sink.mjs";

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

export async function launch() {
  const sink = await startSink(0);
  const browser = await launchChromium();

  const base = `http://127.0.0.1:${sink.port}`;
  return {
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

/** Every span the sink received, flattened, with its resource attributes. */
export function receivedSpans(sink) {
  const out = [];
  for (const r of sink.received) {
    for (const rs of r.body.resourceSpans || []) {
      for (const ss of rs.scopeSpans || []) {
        for (const s of ss.spans || []) out.push({ ...s, resource: rs.resource, request: r });
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
