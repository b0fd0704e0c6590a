// Types of canopy-web/react (js/react.js).
import type { Component, ErrorInfo, ReactElement, ReactNode } from "react";
import type {
  Attributes, CanopyConfig, Span, SpanOptions, forceFlush, getActiveSpan, startActiveSpan, startSpan, withSpan,
} from "./index.js";

export interface TraceProviderProps {
  /** Canopy's configuration, read once, when the first provider mounts. */
  config: CanopyConfig;
  children?: ReactNode;
  /** Rendered while Canopy starts (default: nothing). */
  fallback?: ReactNode;
  /**
   * The longest time children wait for Canopy to start, in milliseconds (default 3000). Until it
   * runs, spans are kept and recorded later, but requests are not traced; 0 renders at once.
   * Children hydrated from server-rendered HTML render at once, whatever this says.
   */
  waitMillis?: number;
}

/**
 * Starts Canopy with `config` and stops it (flushing first; fetch and XMLHttpRequest become
 * pass-throughs) when the last provider unmounts. Safe under React.StrictMode: one init, one
 * fetch wrapper, one export pipeline.
 */
export declare function TraceProvider(props: TraceProviderProps): ReactElement;

/** The tracing API for components. */
export interface Tracer {
  startSpan: typeof startSpan;
  startActiveSpan: typeof startActiveSpan;
  withSpan: typeof withSpan;
  getActiveSpan: typeof getActiveSpan;
  forceFlush: typeof forceFlush;
}

/** The tracing API; the same object on every render. */
export declare function useTracer(): Tracer;

/**
 * A stable callback that runs `fn(span, ...args)` in `startActiveSpan(name, options, …)`: the
 * span is current during `fn`'s synchronous run and ends when `fn` returns or its Promise
 * settles; a throw or rejection is recorded. After an `await`, pass `span` on explicitly.
 */
export declare function useTracedCallback<A extends unknown[], R>(
  name: string,
  fn: (span: Span, ...args: A) => R,
  options?: SpanOptions,
): (...args: A) => R;

/** What a function `fallback` receives. */
export interface TraceErrorBoundaryFallbackProps {
  /** What was thrown. */
  error: unknown;
  /** Renders the children again. */
  reset: () => void;
}

export interface TraceErrorBoundaryProps {
  children?: ReactNode;
  /** Rendered instead of the children after an error: an element, or a function of `{ error, reset }`. */
  fallback?: ReactNode | ((props: TraceErrorBoundaryFallbackProps) => ReactNode);
  /** The error span's name (default "react.error"). */
  name?: string;
  /** Extra attributes on the error span. */
  attributes?: Attributes;
  /** Called after the error span has ended. */
  onError?: (error: unknown, info: ErrorInfo, span: Span | undefined) => void;
}

export interface TraceErrorBoundaryState {
  failed: boolean;
  error: unknown;
}

/**
 * Records a render error of its children on a span (an `exception` event, the component stack in
 * `react.component_stack`, an error status), then renders `fallback`.
 */
export declare class TraceErrorBoundary extends Component<TraceErrorBoundaryProps, TraceErrorBoundaryState> {
  /** Renders the children again. */
  reset(): void;
}
