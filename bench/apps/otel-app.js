// Size benchmark: the OpenTelemetry JS web stack, set up as its docs show for a browser app
// (WebTracerProvider, BatchSpanProcessor + OTLP/HTTP exporter, ZoneContextManager, fetch
// instrumentation), doing the same as canopy-app.js.
import { trace } from "@opentelemetry/api";
import { ZoneContextManager } from "@opentelemetry/context-zone";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { FetchInstrumentation } from "@opentelemetry/instrumentation-fetch";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, WebTracerProvider } from "@opentelemetry/sdk-trace-web";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";

const provider = new WebTracerProvider({
  resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: "frontend" }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: location.origin + "/v1/traces" }))],
});
provider.register({ contextManager: new ZoneContextManager() });
registerInstrumentations({
  instrumentations: [new FetchInstrumentation({ propagateTraceHeaderCorsUrls: [/^https:\/\/api\.example\.com\//] })],
});

const tracer = trace.getTracer("frontend");
document.querySelector("#reload").addEventListener("click", () =>
  tracer.startActiveSpan("reload feed", async (span) => {
    try {
      const res = await fetch("/api/activities/home");
      const data = await res.json();
      const child = tracer.startSpan("processData");
      child.setAttribute("items", data.length);
      child.end();
    } finally {
      span.end();
    }
  }),
);
