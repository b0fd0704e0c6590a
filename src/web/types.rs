//! TypeScript types for the JavaScript API (wasm-bindgen cannot derive them).

#[allow(unused_imports)]
use crate::prelude::*;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** A primitive attribute value, or a homogeneous array of one kind. */
export type AttributeValue = string | number | boolean | bigint | string[] | number[] | boolean[];
/** Attributes as a plain object. */
export type Attributes = Record<string, AttributeValue>;
/** Batching (OpenTelemetry defaults). */
export interface BatchConfig {
  /** Spans held at most (default 2048); more are dropped and counted. */
  maxQueueSize?: number;
  /** Spans per request (default 512). */
  maxExportBatchSize?: number;
  /** Longest wait before sending (default 5000 ms). */
  scheduledDelayMillis?: number;
  /** Request timeout (default 30000 ms). */
  exportTimeoutMillis?: number;
  /** Largest request body before compression (default 512 KiB); larger batches are split. */
  maxExportBytes?: number;
}
/** Span limits (OpenTelemetry defaults: 128 each, no value length limit). */
export interface SpanLimitsConfig {
  attributeCountLimit?: number;
  attributeValueLengthLimit?: number;
  eventCountLimit?: number;
  linkCountLimit?: number;
}
/** A URL prefix or a regular expression. */
export type UrlPatternInput = string | RegExp;
/** `init`'s configuration. */
export interface CanopyConfig {
  /** `service.name` (required). */
  serviceName: string;
  serviceVersion?: string;
  /** `deployment.environment.name`. */
  environment?: string;
  /** Where OTLP/HTTP JSON is posted: an http(s) URL or a path (default "/v1/traces"). */
  endpoint?: string;
  /** Extra headers on every export request. */
  headers?: Record<string, string>;
  /** Fraction of new traces sampled, 0..1 (default 1). */
  sampleRate?: number;
  resourceAttributes?: Attributes;
  /** Log each exported batch as a span tree to the console. */
  debug?: boolean;
  batch?: BatchConfig;
  spanLimits?: SpanLimitsConfig;
  /** Gzip request bodies with CompressionStream (default "gzip"; page-hide requests are never compressed). */
  compression?: "gzip" | "none";
  /** Create a CLIENT span per fetch (default true). */
  instrumentFetch?: boolean;
  /** Create a CLIENT span per XMLHttpRequest (default true). */
  instrumentXhr?: boolean;
  /**
   * AWS X-Ray: new traces get X-Ray compatible ids (epoch seconds first) and the requests that
   * get `traceparent` also get `X-Amzn-Trace-Id: Root=1-…;Parent=…;Sampled=…` (default false).
   */
  xray?: boolean;
  /**
   * Record uncaught errors and unhandled promise rejections (default true): each becomes a short
   * `exception` span with an `exception` event (type, message, stack trace) and an error status.
   * Errors a span already recorded (a failing startActiveSpan callback, recordException,
   * <TraceErrorBoundary>) are not recorded again.
   */
  captureErrors?: boolean;
  /**
   * Also record the page's console.debug/log/info/warn/error calls as log records (default
   * false), with the active span's ids. Canopy's own console messages are not recorded.
   */
  captureConsole?: boolean;
  /**
   * Where log records go (OTLP/HTTP JSON logs). Default: the endpoint with its "/v1/traces"
   * ending replaced by "/v1/logs"; with an endpoint not ending so, logs are off unless this is set.
   */
  logsEndpoint?: string;
  /**
   * Cross-origin URLs that get `traceparent`/`tracestate` (same-origin URLs always do). A string
   * matches that URL and everything below it ("https://api.example.com" matches
   * "https://api.example.com/v1" but not "https://api.example.com.evil.net"), read as the page's
   * URL parser reads it when it has a scheme or starts with "/" ("/api" is the page's origin); a
   * RegExp is tested against the absolute URL.
   */
  propagateTraceHeaderCorsUrls?: UrlPatternInput | UrlPatternInput[];
  /** URLs that get no span and no headers (same matching rules). */
  ignoreUrls?: UrlPatternInput | UrlPatternInput[];
  /**
   * The page load as spans after the load event (default true): `documentLoad` with a
   * `documentFetch` child and a `resourceFetch` child per resource, from Navigation and Resource
   * Timing, in the server's trace when the page has `<meta name="traceparent">` or the document
   * response `Server-Timing: traceparent;desc="00-…"`.
   */
  documentLoad?: boolean;
  /**
   * Long animation frames (long tasks where the browser lacks them) over 50 ms as
   * `longAnimationFrame` spans with their longest script (`script.invoker`, `script.source_url`,
   * …), children of the interaction they delayed (default true).
   */
  longAnimationFrames?: boolean;
  /**
   * Web Vitals (LCP, INP, CLS, FCP, TTFB) with their attribution, from Google's `web-vitals`
   * library (loaded only when on), as Honeycomb's web SDK records them: a span per report named
   * after the metric, with `lcp.value`, `lcp.rating`, `lcp.element`, `inp.input_delay`, … (default
   * true). Reported when final or when the page is hidden, as that library does; INP is held
   * and recorded at page hide (or `shutdown`) with its value then.
   */
  webVitals?: boolean;
  /**
   * Send `baggage: session.id=<id>` next to `traceparent`, to the same URLs only (default false),
   * so a backend can put the browser session on its own spans and logs. Cross-origin backends
   * must then allow the `baggage` header in their CORS preflight answers too.
   */
  sessionBaggage?: boolean;
  /**
   * A `routeChange` span (`url.path`, the previous path) when the URL changes through
   * `history.pushState`/`replaceState`, `popstate` or a hash change (default true).
   */
  routeChanges?: boolean;
  /**
   * User interactions recorded as spans named from the element (`click button#save`), current
   * while the event is dispatched so that what its handlers start synchronously are children:
   * `true` (default: click, submit, and keydown of Enter or Escape on a control), `false`, or
   * the DOM event types.
   */
  interactions?: boolean | string[];
}
"#;

#[wasm_bindgen]
extern "C" {
    /// `CanopyConfig`.
    #[wasm_bindgen(typescript_type = "CanopyConfig")]
    pub type CanopyConfig;
}
