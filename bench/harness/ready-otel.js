// Start-up: the OpenTelemetry JS web stack as its docs show (WebTracerProvider, BatchSpanProcessor
// + OTLP/HTTP exporter, ZoneContextManager, fetch and XHR instrumentation). Served from /cache/
// (cacheable). window.READY = ms from navigation start to the provider registered and the
// instrumentations on (all synchronous once the bundle runs).
import { ZoneContextManager } from "@opentelemetry/context-zone";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { FetchInstrumentation } from "@opentelemetry/instrumentation-fetch";
import { XMLHttpRequestInstrumentation } from "@opentelemetry/instrumentation-xml-http-request";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, WebTracerProvider } from "@opentelemetry/sdk-trace-web";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";

const provider = new WebTracerProvider({
  resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: "bench" }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: location.origin + "/sink/ready-otel/v1/traces" }))],
});
provider.register({ contextManager: new ZoneContextManager() });
registerInstrumentations({ instrumentations: [new FetchInstrumentation(), new XMLHttpRequestInstrumentation()] });
window.READY = { ok: true, ms: performance.now() };
