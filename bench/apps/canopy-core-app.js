// Size benchmark: Canopy's core entry (no session, page load, interactions, route changes,
// long frames or Web Vitals) doing what otel-app.js does (batch export to /v1/traces, fetch
// instrumentation with traceparent for the same extra origin, an active span with a child).
import { init, startActiveSpan } from "canopy-web/core";

init({ serviceName: "frontend", endpoint: "/v1/traces", propagateTraceHeaderCorsUrls: [/^https:\/\/api\.example\.com\//] });

document.querySelector("#reload").addEventListener("click", () =>
  startActiveSpan("reload feed", async (span) => {
    const res = await fetch("/api/activities/home");
    const data = await res.json();
    const child = span.startSpan("processData");
    child.setAttribute("items", data.length);
    child.end();
  }),
);
