// Type-checks the package's TypeScript declarations the way a user's code meets them.
// Lines marked @ts-expect-error must be rejected: that proves the types are real, not `any`.
import wasmInit from "../../../pkg/canopy_web.js";
import {
  attach, init, startSpan, startActiveSpan, withSpan, getActiveSpan, forceFlush, shutdown,
  type Span, type CanopyConfig, type SpanOptions, type SpanContext,
} from "../../../pkg/api.js";

export async function main(): Promise<void> {
  attach(await wasmInit());
  const config: CanopyConfig = {
    serviceName: "frontend", serviceVersion: "1.0.0", environment: "prod", endpoint: "/v1/traces",
    headers: { "x-team": "web" }, sampleRate: 0.5, resourceAttributes: { "app.region": "eu" }, debug: false,
    batch: { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 5000, exportTimeoutMillis: 30000 },
    spanLimits: { attributeValueLengthLimit: 1024 },
  };
  init(config);
  // @ts-expect-error serviceName is required
  init({ endpoint: "/v1/traces" });
  // @ts-expect-error sampleRate is a number
  init({ serviceName: "x", sampleRate: "all" });

  const opts: SpanOptions = { kind: 2, attributes: { a: 1, b: "x", c: true, d: [1, 2] }, startTime: new Date(), root: false };
  const span: Span = startSpan("work", opts);
  span.setAttribute("http.request.method", "GET");
  // @ts-expect-error attribute values are primitives or arrays of them
  span.setAttribute("bad", { nested: true });
  span.setAttributes({ n: 1 });
  span.addEvent("cache-miss", { key: "home" });
  span.addEvent("at", Date.now());
  span.recordException(new Error("boom"));
  span.setStatus({ code: 2, message: "failed" });
  // @ts-expect-error status codes are 0, 1 or 2
  span.setStatus({ code: 7 });
  span.updateName("renamed");
  const ctx: SpanContext = span.spanContext();
  const traceId: string = ctx.traceId;
  const recording: boolean = span.isRecording();
  const child: Span = span.startSpan("child", { parent: ctx });
  child.end(new Date());
  span.end();

  const n: number = startActiveSpan("sync", (s: Span) => { s.setAttribute("k", 1); return 5; });
  const p: Promise<string> = startActiveSpan("async", { kind: "client" }, async () => "done");
  const w: boolean = withSpan(span, () => true);
  // @ts-expect-error withSpan needs a Span
  withSpan("not a span", () => 1);
  const active: Span | undefined = getActiveSpan();
  const flushed: Promise<void> = forceFlush();
  await flushed;
  await shutdown();
  void [traceId, recording, n, p, w, active];
}
