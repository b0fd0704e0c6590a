// A plain webpack 5 app: no webpack.config.js, nothing configured for Canopy. It starts Canopy,
// loads a list inside a span (the fetch becomes that span's child and carries its traceparent),
// flushes, and writes what happened to document.body.dataset.result for the test to read.
// The test passes its OTLP sink as ?otlp=<url>; an app would use its relay, e.g. "/v1/traces".
import { init, startActiveSpan, forceFlush } from "canopy-web";

const endpoint = new URLSearchParams(location.search).get("otlp") || "/v1/traces";

async function main() {
  const started = await init({ serviceName: "webpack-app", endpoint });
  const items = await startActiveSpan("loadItems", async (span) => {
    const res = await fetch("/api/items.json");
    const list = await res.json();
    span.setAttribute("items.count", list.length);
    return list;
  });
  for (const item of items) {
    const li = document.createElement("li");
    li.textContent = item.name;
    document.getElementById("items").append(li);
  }
  await forceFlush();
  return { started, items: items.length };
}

main().then(
  (r) => { document.body.dataset.result = JSON.stringify(r); },
  (e) => { document.body.dataset.result = JSON.stringify({ error: String(e && e.stack || e) }); },
);
