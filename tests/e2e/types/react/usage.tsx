// Type-checks canopy-web and canopy-web/react the way a React + TypeScript app meets them:
// tests/e2e/package-types.test.mjs copies this file next to a node_modules/ holding the packed
// tarball and @types/react, so the imports resolve through package.json's exports. Each line
// under an expect-error directive must be rejected: that proves the types are real, not `any`.
import { StrictMode, useEffect, useState, type MouseEvent, type ReactNode } from "react";
import { createRoot } from "react-dom/client";
import {
  init, load, isRunning, startSpan, startActiveSpan, withSpan, getActiveSpan, forceFlush, shutdown,
  type CanopyConfig, type Span, type SpanContext, type SpanOptions,
} from "canopy-web";
import {
  TraceProvider, TraceErrorBoundary, useTracer, useTracedCallback,
  type TraceErrorBoundaryFallbackProps, type TraceProviderProps, type Tracer,
} from "canopy-web/react";

const config: CanopyConfig = {
  serviceName: "frontend",
  serviceVersion: "1.2.3",
  endpoint: "/v1/traces",
  propagateTraceHeaderCorsUrls: ["https://api.example.com", /\.internal\.example\.com\//],
  batch: { scheduledDelayMillis: 1000 },
};

export async function vanilla(): Promise<void> {
  await load(new URL("/assets/canopy_web_bg.wasm", location.href));
  const running: boolean = await init(config);
  const now: boolean = isRunning();
  // @ts-expect-error init returns a Promise<boolean>
  const sync: boolean = init(config);
  // @ts-expect-error serviceName is required
  void init({ endpoint: "/v1/traces" });
  const opts: SpanOptions = { kind: "client", attributes: { "app.page": "home" }, startTime: performance.now() };
  const span: Span = startSpan("boot", opts).setAttribute("n", 1).addEvent("ready");
  const cx: SpanContext = span.spanContext();
  const child: Span = span.startSpan("child", { parent: cx });
  child.end();
  const n: number = startActiveSpan("sync", (s) => { s.setAttribute("k", true); return 5; });
  const p: Promise<string> = startActiveSpan("async", { root: true }, async () => "done");
  const w: boolean = withSpan(span, () => getActiveSpan() !== undefined);
  // @ts-expect-error withSpan needs a Span
  withSpan(cx, () => 1);
  span.end();
  await forceFlush();
  await shutdown();
  void [running, now, sync, n, p, w];
}

function Feed(): ReactNode {
  const tracer: Tracer = useTracer();
  const [items, setItems] = useState<string[]>([]);
  useEffect(() => {
    void tracer.startActiveSpan("loadData", async (span: Span) => {
      const res = await fetch("/api/activities/home");
      const data = (await res.json()) as string[];
      span.startSpan("processData").end();
      setItems(data);
    });
  }, [tracer]);
  const onClick = useTracedCallback(
    "click",
    async (span, event: MouseEvent<HTMLButtonElement>) => {
      span.setAttribute("ui.x", event.clientX);
      return items.length;
    },
    { attributes: { "ui.action": "reload" } },
  );
  const result: Promise<number> = onClick({ clientX: 1 } as MouseEvent<HTMLButtonElement>);
  // @ts-expect-error the callback takes what fn takes after the span
  void onClick("not an event");
  // @ts-expect-error span is a Span, not a string
  useTracedCallback("bad", (span: string) => span);
  void result;
  return <button onClick={onClick}>{items.length}</button>;
}

function Fallback({ error, reset }: TraceErrorBoundaryFallbackProps): ReactNode {
  return <button onClick={reset}>{error instanceof Error ? error.message : "failed"}</button>;
}

const props: TraceProviderProps = { config, waitMillis: 1000, fallback: <p>starting</p> };

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <TraceProvider {...props}>
      <TraceErrorBoundary
        fallback={Fallback}
        name="feed.error"
        attributes={{ "app.area": "feed" }}
        onError={(error: unknown, info, span) => {
          const stack: string | null | undefined = info.componentStack;
          const id: string | undefined = span?.spanContext().traceId;
          void [error, stack, id];
        }}
      >
        <Feed />
      </TraceErrorBoundary>
      <TraceErrorBoundary fallback={<p>the sidebar failed</p>}>
        <Feed />
      </TraceErrorBoundary>
      <TraceErrorBoundary fallback={({ reset }) => <button onClick={() => reset()}>retry</button>}>
        <Feed />
      </TraceErrorBoundary>
    </TraceProvider>
  </StrictMode>,
);

// @ts-expect-error config is required
export const noConfig = <TraceProvider><Feed /></TraceProvider>;
// @ts-expect-error serviceName is required
export const noName = <TraceProvider config={{ endpoint: "/v1/traces" }} />;
// @ts-expect-error waitMillis is a number
export const badWait = <TraceProvider config={config} waitMillis="1s" />;
// @ts-expect-error a fallback function receives { error, reset }
export const badFallback = <TraceErrorBoundary fallback={(message: string) => message} />;
// @ts-expect-error attribute values are primitives or arrays of them
export const badAttributes = <TraceErrorBoundary attributes={{ nested: { a: 1 } }} />;

// The core entry (canopy-web/core, canopy-web/core/react) has the same types.
import * as core from "canopy-web/core";
import { TraceProvider as CoreTraceProvider } from "canopy-web/core/react";
export const coreStarted: Promise<boolean> = core.init(config);
export const coreSpan: Span = core.startSpan("core");
export const coreRoot = <CoreTraceProvider config={config}><Feed /></CoreTraceProvider>;
// @ts-expect-error serviceName is required in the core entry too
export const coreNoName = core.init({ endpoint: "/v1/traces" });
