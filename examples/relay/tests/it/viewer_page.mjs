// What the viewer scripts share (viewer_deep.mjs, viewer_logs.mjs, run by the Rust tests through
// support.rs's `viewer_in_chromium`): headless Chromium on the relay's viewer at one trace, with
// the page's errors and console errors collected.

/**
 * Opens RELAY_URL/#trace/TRACE_ID in headless Chromium, runs `look(page)` and prints its result as
 * JSON, with `errors` (page errors and console errors) added.
 */
export async function viewTrace(playwright, base, trace, look) {
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
    const got = await look(page);
    console.log(JSON.stringify({ ...got, errors }));
  } finally {
    await browser.close();
  }
}
