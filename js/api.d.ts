// Types of the public JavaScript API (js/api.js).
import type { AttributeValue, Attributes, CanopyConfig } from "./canopy_web.js";
export type {
  AttributeValue, Attributes, BatchConfig, CanopyConfig, SpanLimitsConfig, UrlPatternInput,
} from "./canopy_web.js";

/** Epoch milliseconds, a `performance.now()` value (any number below 1e11), a `Date`, or an `[seconds, nanos]` HrTime. */
export type TimeInput = number | Date | [number, number];
/** OpenTelemetry JS span kinds: 0 internal, 1 server, 2 client, 3 producer, 4 consumer. */
export type SpanKindInput = 0 | 1 | 2 | 3 | 4 | "internal" | "server" | "client" | "producer" | "consumer";
/** Status codes as in OpenTelemetry: 0 unset, 1 ok, 2 error. */
export interface SpanStatus { code: 0 | 1 | 2; message?: string }
/** A span's identity. */
export interface SpanContext { traceId: string; spanId: string; traceFlags: number; isRemote?: boolean; traceState?: string }
/** A link to another span. */
export interface Link { context: SpanContext; attributes?: Attributes }
/** Options for a new span. */
export interface SpanOptions {
  attributes?: Attributes;
  kind?: SpanKindInput;
  startTime?: TimeInput;
  /** The parent: a Span (Canopy's or OpenTelemetry's) or a SpanContext. */
  parent?: Span | SpanContext;
  links?: Link[];
  /** Start a new trace, ignoring the current span. */
  root?: boolean;
}

/** A span. End it with `end()`; a span that is dropped without `end()` is never exported. */
export declare class Span {
  private constructor();
  /** Sets an attribute; invalid values (objects, mixed arrays, null) are ignored. */
  setAttribute(key: string, value: AttributeValue): this;
  setAttributes(attributes: Attributes): this;
  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this;
  /** Adds an `exception` event with `exception.type`, `exception.message`, `exception.stacktrace`. */
  recordException(exception: unknown, time?: TimeInput): void;
  setStatus(status: SpanStatus): this;
  updateName(name: string): this;
  addLink(link: Link): this;
  /** Ends the span, now or at `endTime`. Later calls do nothing. */
  end(endTime?: TimeInput): void;
  /** True while the span is sampled and not ended. */
  isRecording(): boolean;
  /** The span's ids; valid after `end()` too. */
  spanContext(): SpanContext;
  /** Starts a child of this span. */
  startSpan(name: string, options?: SpanOptions): Span;
}

/** Log records with the active span's trace and span ids, sent as OpenTelemetry logs. */
/** Log records with the ids of `span`, else of the active span (after an `await`, pass the span). */
export interface Log {
  debug(message: string, attributes?: Attributes, span?: Span): void;
  info(message: string, attributes?: Attributes, span?: Span): void;
  warn(message: string, attributes?: Attributes, span?: Span): void;
  error(message: string, attributes?: Attributes, span?: Span): void;
}
/** `log.info("feed loaded", { items: 20 })`: OpenTelemetry logs (the relay's /v1/logs). */
export declare const log: Log;
/** Writes a log record with OpenTelemetry's SeverityNumber (5 debug, 9 info, 13 warn, 17 error). */
export declare function emitLog(severity: number, message: string, attributes?: Attributes, time?: TimeInput, span?: Span): void;

/** Gives the API the wasm instance's exports (what the wasm-bindgen init function returns; the
 *  production build's export names are minified, so its memory is found by type). */
export declare function attach(exports: object): void;
/** Starts Canopy. Throws one Error listing every problem in `config`. */
export declare function init(config: CanopyConfig): void;
/** Starts a span (parent: `options.parent`, else the active span, else a new trace). */
export declare function startSpan(name: string, options?: SpanOptions): Span;
/** Runs `fn(span)` with a new span active for its synchronous run; ends it when `fn` returns or its Promise settles. */
export declare function startActiveSpan<T>(name: string, fn: (span: Span) => T): T;
export declare function startActiveSpan<T>(name: string, options: SpanOptions | undefined, fn: (span: Span) => T): T;
/** Runs `fn()` with `span` active during its synchronous run. */
export declare function withSpan<T>(span: Span, fn: () => T): T;
/** The span made active by the innermost running `startActiveSpan`/`withSpan` callback. */
export declare function getActiveSpan(): Span | undefined;
/** `v instanceof C`, false for a value that cannot say (a revoked Proxy). Internal. */
export declare function isInstance(v: unknown, C: abstract new (...args: never[]) => unknown): boolean;
/** `s` as text; empty when it cannot be made text (a `toString` that throws). Internal. */
export declare function str(s: unknown): string;
/** Internal (shared with the package entry): ends `span` when `call`'s result settles. */
export declare function runActive<T>(span: { end(): void; _fail(e: unknown): void }, call: () => T): T;
/**
 * Sends what is queued now, without waiting for the batch delay, and then, once, what ended while
 * those requests were out (such as the span of the XMLHttpRequest whose own `loadend` handler
 * called it); resolves when each of those batches has had an attempt. It never waits through a
 * retry backoff or while the browser is offline: those spans leave when the export resumes.
 */
export declare function forceFlush(): Promise<void>;
/** Flushes, then stops: later spans are not recorded; `init` may be called again. */
export declare function shutdown(): Promise<void>;
