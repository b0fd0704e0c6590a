// Loads the relay's viewer in headless Chromium on one trace and prints the log records it shows
// under each span, those of the trace alone, and the selected span's details.
// usage: node viewer_logs.mjs PLAYWRIGHT_CORE_INDEX RELAY_URL TRACE_ID SPAN_ID
const [playwright, base, trace, span] = process.argv.slice(2);
const { chromium } = await import(playwright);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run"],
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(`${base}/#trace/${trace}`);
  await page.waitForSelector("ul.logs li.log", { timeout: 20000 });
  await page.click(`li[data-span-id="${span}"] > .row`);
  const got = await page.evaluate((span) => {
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
  console.log(JSON.stringify({ ...got, errors }));
} finally {
  await browser.close();
}
