// Size benchmark: the OpenTelemetry JS web stack with what Canopy records by default wherever an
// OpenTelemetry package (or a few lines, as Honeycomb's web SDK writes them) does the same:
// fetch and XMLHttpRequest spans, the page load (document-load), interactions (user-interaction),
// Web Vitals with attribution as spans (Google's web-vitals, the build Canopy uses), uncaught
// errors as exception spans, and OTLP log records. Canopy's route-change spans, long animation
// frames and session id have no OpenTelemetry JS package, so this app is a lower bound on what the
// same features cost with OpenTelemetry. The app itself does what otel-app.js does.
import { trace } from "@opentelemetry/api";
import { logs } from "@opentelemetry/api-logs";
import { ZoneContextManager } from "@opentelemetry/context-zone";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { DocumentLoadInstrumentation } from "@opentelemetry/instrumentation-document-load";
import { FetchInstrumentation } from "@opentelemetry/instrumentation-fetch";
import { UserInteractionInstrumentation } from "@opentelemetry/instrumentation-user-interaction";
import { XMLHttpRequestInstrumentation } from "@opentelemetry/instrumentation-xml-http-request";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchLogRecordProcessor, LoggerProvider } from "@opentelemetry/sdk-logs";
import { BatchSpanProcessor, WebTracerProvider } from "@opentelemetry/sdk-trace-web";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { onCLS, onFCP, onINP, onLCP, onTTFB } from "web-vitals/attribution";

const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: "frontend" });
const provider = new WebTracerProvider({
  resource,
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: location.origin + "/v1/traces" }))],
});
provider.register({ contextManager: new ZoneContextManager() });
const propagateTraceHeaderCorsUrls = [/^https:\/\/api\.example\.com\//];
registerInstrumentations({
  instrumentations: [
    new FetchInstrumentation({ propagateTraceHeaderCorsUrls }),
    new XMLHttpRequestInstrumentation({ propagateTraceHeaderCorsUrls }),
    new DocumentLoadInstrumentation(),
    new UserInteractionInstrumentation(),
  ],
});
logs.setGlobalLoggerProvider(new LoggerProvider({
  resource,
  processors: [new BatchLogRecordProcessor(new OTLPLogExporter({ url: location.origin + "/v1/logs" }))],
}));

const tracer = trace.getTracer("frontend");

// Web Vitals as spans, with their attribution (as Honeycomb's WebVitalsInstrumentation does).
const vital = (m) => {
  const p = m.name.toLowerCase();
  const span = tracer.startSpan(m.name);
  span.setAttributes({ [`${p}.value`]: m.value, [`${p}.delta`]: m.delta, [`${p}.id`]: m.id, [`${p}.rating`]: m.rating, [`${p}.navigation_type`]: m.navigationType });
  for (const [k, v] of Object.entries(m.attribution || {})) if (typeof v === "string" || typeof v === "number") span.setAttribute(`${p}.${k}`, v);
  span.end();
};
for (const on of [onCLS, onFCP, onINP, onLCP, onTTFB]) on(vital);

// Uncaught errors and unhandled rejections as exception spans.
const failed = (error) => {
  const span = tracer.startSpan("exception");
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: 2 });
  span.end();
};
addEventListener("error", (e) => failed(e.error ?? e.message));
addEventListener("unhandledrejection", (e) => failed(e.reason));

const log = logs.getLogger("frontend");
document.querySelector("#reload").addEventListener("click", () =>
  tracer.startActiveSpan("reload feed", async (span) => {
    try {
      const res = await fetch("/api/activities/home");
      const data = await res.json();
      const child = tracer.startSpan("processData");
      child.setAttribute("items", data.length);
      child.end();
      log.emit({ severityText: "INFO", body: "feed reloaded" });
    } finally {
      span.end();
    }
  }),
);
