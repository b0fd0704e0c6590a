// Loads the relay's viewer in headless Chromium on one trace and prints what it rendered.
// usage: node viewer_deep.mjs PLAYWRIGHT_CORE_INDEX RELAY_URL TRACE_ID ROWS
import { viewTrace } from "./viewer_page.mjs";

const [playwright, base, trace, rows] = process.argv.slice(2);
await viewTrace(playwright, base, trace, async (page) => {
  await page.waitForFunction((n) => document.querySelectorAll("#waterfall li.span").length === n || document.querySelector(".empty"),
    Number(rows), { timeout: 120000 });
  return page.evaluate(() => {
    const lis = [...document.querySelectorAll("#waterfall li.span")];
    let nest = 0;
    for (const li of lis) {
      let n = 0;
      for (let p = li.parentElement.closest("li.span"); p; p = p.parentElement.closest("li.span")) n++;
      if (n > nest) nest = n;
    }
    return { rows: lis.length, nest, css: getComputedStyle(document.querySelector("header")).backgroundColor };
  });
});
