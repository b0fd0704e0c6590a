// The OpenTelemetry JS web stack's side of the benchmark (see common.js): WebTracerProvider,
// BatchSpanProcessor + OTLP/HTTP JSON exporter, ZoneContextManager, fetch instrumentation (and XHR
// instrumentation in the "requests" pages).
import { context, SpanKind, trace } from "@opentelemetry/api";
import { ZoneContextManager } from "@opentelemetry/context-zone";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { FetchInstrumentation } from "@opentelemetry/instrumentation-fetch";
import { XMLHttpRequestInstrumentation } from "@opentelemetry/instrumentation-xml-http-request";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, WebTracerProvider } from "@opentelemetry/sdk-trace-web";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { actionSpans, expose } from "./common.js";

let provider, tracer;
const l4 = (s) => s.end();
const l3 = (s) => { tracer.startActiveSpan("l4", l4); s.end(); };
const l2 = (s) => { tracer.startActiveSpan("l3", l3); s.end(); };
const l1 = (s) => { tracer.startActiveSpan("l2", l2); s.end(); };

expose("otel", {
  async setup(endpoint, batch, _compression, mode) {
    provider = new WebTracerProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: "bench" }),
      spanProcessors: [
        new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }), batch),
      ],
    });
    provider.register({ contextManager: new ZoneContextManager() });
    const xhr = mode === "requests" ? [new XMLHttpRequestInstrumentation()] : [];
    registerInstrumentations({ instrumentations: [new FetchInstrumentation(), ...xhr] });
    tracer = trace.getTracer("bench");
  },
  flush: () => provider.forceFlush(),
  manual(n) {
    for (let i = 0; i < n; i++) tracer.startSpan("op").end();
  },
  nested(n) {
    for (let i = 0; i < n; i++) tracer.startActiveSpan("l1", l1);
  },
  options(n) {
    for (let i = 0; i < n; i++) tracer.startSpan("op", { attributes: { "http.request.method": "GET", "app.items": 3 } }).end();
  },
  attrs(n) {
    for (let i = 0; i < n; i++) {
      const s = tracer.startSpan("op");
      s.setAttribute("http.request.method", "GET");
      s.setAttribute("http.response.status_code", 200);
      s.setAttribute("cache.hit", true);
      s.end();
    }
  },
  action(i) {
    const a = actionSpans(i);
    tracer.startActiveSpan("loadData", { attributes: a.root }, (root) => {
      tracer.startSpan("GET", { kind: SpanKind.CLIENT, attributes: a.client }).end();
      tracer.startSpan("cache.lookup", { attributes: a.cache }).end();
      tracer.startSpan("processData", { attributes: a.process }).end();
      tracer.startSpan("render").end();
      root.end();
    });
  },
  fetchAction(i) {
    return tracer.startActiveSpan("loadData", async (root) => {
      const res = await fetch(`data.json?page=${i % 7}`);
      const data = await res.json();
      // After an await the zone may not carry the context: name the parent, as Canopy's does.
      const parent = trace.setSpan(context.active(), root);
      const s = tracer.startSpan("processData", { attributes: { "app.items": data.items.length } }, parent);
      s.end();
      root.end();
    });
  },
});
