// Loads the relay's viewer in headless Chromium on one trace and prints the log records it shows
// under each span, those of the trace alone, and the selected span's details.
// usage: node viewer_logs.mjs PLAYWRIGHT_CORE_INDEX RELAY_URL TRACE_ID SPAN_ID
import { viewTrace } from "./viewer_page.mjs";

const [playwright, base, trace, span] = process.argv.slice(2);
await viewTrace(playwright, base, trace, async (page) => {
  await page.waitForSelector("ul.logs li.log", { timeout: 20000 });
  await page.click(`li[data-span-id="${span}"] > .row`);
  return page.evaluate((span) => {
    const logs = (root) => [...root.querySelectorAll(":scope > ul.logs > li.log")].map((li) =>
      ({ severity: li.dataset.severity, cls: li.className, text: li.querySelector(".body").textContent }));
    const bySpan = {};
    for (const li of document.querySelectorAll("#waterfall li.span")) {
      const l = logs(li);
      if (l.length) bySpan[li.dataset.spanId] = l;
    }
    const own = document.querySelector("#trace-logs");
    const heads = [...document.querySelectorAll("#details h4")].map((h) => h.textContent);
    return { bySpan, trace: own ? logs(own) : [], heads, meta: document.querySelector(".trace-head .meta").textContent };
  }, span);
});
