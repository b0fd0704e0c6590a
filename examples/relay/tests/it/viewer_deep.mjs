// Loads the relay's viewer in headless Chromium on one trace and prints what it rendered.
// usage: node viewer_deep.mjs PLAYWRIGHT_CORE_INDEX RELAY_URL TRACE_ID ROWS
const [playwright, base, trace, rows] = process.argv.slice(2);
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
  await page.waitForFunction((n) => document.querySelectorAll("#waterfall li.span").length === n || document.querySelector(".empty"),
    Number(rows), { timeout: 120000 });
  const got = await page.evaluate(() => {
    const lis = [...document.querySelectorAll("#waterfall li.span")];
    let nest = 0;
    for (const li of lis) {
      let n = 0;
      for (let p = li.parentElement.closest("li.span"); p; p = p.parentElement.closest("li.span")) n++;
      if (n > nest) nest = n;
    }
    return { rows: lis.length, nest, css: getComputedStyle(document.querySelector("header")).backgroundColor };
  });
  console.log(JSON.stringify({ ...got, errors }));
} finally {
  await browser.close();
}
