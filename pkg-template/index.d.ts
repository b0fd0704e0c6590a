// Types of canopy-web's main entry (index.js): the API of api.d.ts, with an `init` that loads the
// .wasm itself.
import type { InitInput } from "./canopy_web.js";
import type { CanopyConfig, Log, Span, SpanOptions } from "./api.js";
export type {
  AttributeValue, Attributes, BatchConfig, CanopyConfig, Link, Log, Span, SpanContext, SpanKindInput,
  SpanLimitsConfig, SpanOptions, SpanStatus, TimeInput, UrlPatternInput,
} from "./api.js";

/**
 * Starts Canopy: loads the .wasm if needed, validates `config`, patches fetch and XMLHttpRequest
 * and starts exporting. Resolves to `true` when running, `false` when it could not start (the
 * reason is logged with `console.error`); never rejects. Spans started before then are kept and
 * recorded once it runs; requests sent before then are not traced. A second call keeps the first
 * configuration.
 */
export declare function init(config: CanopyConfig): Promise<boolean>;
/**
 * Loads the .wasm without starting Canopy (`init` does this itself). Pass a URL, a Response, bytes
 * or a `WebAssembly.Module` to use instead of the bundled file. Rejects if it cannot be loaded.
 */
export declare function load(input?: InitInput | Promise<InitInput>): Promise<void>;
/** True from the moment Canopy runs until `shutdown`. */
export declare function isRunning(): boolean;
/**
 * Starts a span. Its parent is `options.parent`, else the active span, else the page's
 * server-rendered trace (`<meta name="traceparent">`), else none (a new trace).
 */
export declare function startSpan(name: string, options?: SpanOptions): Span;
/**
 * Runs `fn(span)` with a new span active during its synchronous run; ends it when `fn` returns or
 * the Promise it returns settles. A throw or rejection is recorded (exception event, error status)
 * and reaches the caller unchanged. For a Promise, the result is a Promise of the same value that
 * settles once the span has ended (a rejection nobody handles still reaches `unhandledrejection`;
 * handle the returned Promise, not only the one `fn` made).
 */
export declare function startActiveSpan<T>(name: string, fn: (span: Span) => T): T;
export declare function startActiveSpan<T>(name: string, options: SpanOptions | undefined, fn: (span: Span) => T): T;
/** Runs `fn()` with `span` active during its synchronous run (after an `await`, in a timer, …). */
export declare function withSpan<T>(span: Span, fn: () => T): T;
/** The span made active by the innermost running `startActiveSpan`/`withSpan` callback. */
export declare function getActiveSpan(): Span | undefined;
/**
 * Log records with the active span's trace and span ids, batched and sent as OpenTelemetry logs
 * (the relay's /v1/logs) like spans: `log.warn("slow feed", { ms: 1200 })`.
 */
export declare const log: Log;
/**
 * Sends what is queued now, without waiting for the batch delay, and then, once, what ended while
 * those requests were out (such as the span of the XMLHttpRequest whose own `loadend` handler
 * called it); resolves when each of those batches has had an attempt. It never waits through a
 * retry backoff or while the browser is offline: those spans leave when the export resumes.
 */
export declare function forceFlush(): Promise<void>;
/** Flushes, then stops: later spans are not recorded, fetch and XMLHttpRequest pass through. */
export declare function shutdown(): Promise<void>;
