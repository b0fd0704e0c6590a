// canopy-web/react: <TraceProvider>, useTracer, useTracedCallback, <TraceErrorBoundary>.
// Plain JavaScript (no JSX), copied into pkg/ next to index.js by scripts/pkg.sh.
//
// One Canopy runs per page, whatever the number of providers: the first provider starts it
// during its first render (so that requests made in its children's effects, which run before the
// provider's own effects, are traced), and it stops a tick after the last provider unmounts.
// React.StrictMode's unmount-and-remount of effects happens within one commit, so it never
// reaches that tick: there is one init, one fetch wrapper and one export pipeline.
import { Component, Fragment, createElement, useCallback, useEffect, useLayoutEffect, useRef, useState, useSyncExternalStore } from "react";
import { forceFlush, getActiveSpan, init, isRunning, shutdown, startActiveSpan, startSpan, withSpan } from "./index.js";
import { wasRecorded } from "./error.js";

const inBrowser = typeof window !== "undefined" && typeof document !== "undefined";
const useLatestEffect = inBrowser ? useLayoutEffect : useEffect;

/** The attribute holding React's component stack on a TraceErrorBoundary span. */
const COMPONENT_STACK = "react.component_stack";

let started = null; // init's Promise<boolean> while providers keep Canopy on
let owners = 0; // mounted providers
let stopTimer = null;

function ensureStarted(config) {
  if (started === null) started = init(config);
  return started;
}

function retain(config) {
  owners++;
  if (stopTimer !== null) {
    clearTimeout(stopTimer);
    stopTimer = null;
  }
  return ensureStarted(config);
}

function release() {
  owners--;
  if (owners > 0 || stopTimer !== null) return;
  stopTimer = setTimeout(() => {
    stopTimer = null;
    if (owners === 0 && started !== null) {
      started = null;
      shutdown(); // flushes; fetch and XMLHttpRequest become pass-throughs
    }
  }, 0);
}

const noChanges = () => () => {};
const onClient = () => false;
const onServer = () => true;

/**
 * Starts Canopy with `config` (read once, when the first provider mounts) and stops it, after a
 * flush, when the last provider unmounts. Children are rendered once Canopy runs, so that their
 * first requests are traced, or after `waitMillis` (default 3000; 0 renders them at once) with
 * `fallback` (default nothing) until then; children hydrated from server-rendered HTML render at
 * once. If Canopy cannot start, children render untraced.
 */
export function TraceProvider({ config, children, fallback = null, waitMillis = 3000 }) {
  // True when rendering on the server and while hydrating what the server rendered (React reads
  // the server snapshot for both): the children are there already, so they are kept, not
  // swapped for `fallback` (which would not match the server's HTML).
  const fromServer = useSyncExternalStore(noChanges, onClient, onServer);
  const [shown, setShown] = useState(() => {
    if (!inBrowser) return true; // server rendering: nothing to trace
    ensureStarted(config);
    return fromServer || isRunning() || !(waitMillis > 0);
  });
  const configRef = useRef(config);
  useEffect(() => {
    if (!inBrowser) return undefined;
    const running = retain(configRef.current);
    let live = true;
    let timer = null;
    if (!shown) {
      const show = () => {
        if (live) setShown(true);
      };
      running.then(show, show);
      if (Number.isFinite(waitMillis)) timer = setTimeout(show, waitMillis);
    }
    return () => {
      live = false;
      if (timer !== null) clearTimeout(timer);
      release();
    };
  }, []); // eslint-disable-line react-hooks/exhaustive-deps -- config is read once
  return createElement(Fragment, null, shown ? children : fallback);
}

/** The tracing API for components. The same object every time, so it can go in dependency lists. */
const TRACER = Object.freeze({ startSpan, startActiveSpan, withSpan, getActiveSpan, forceFlush });

/** The tracing API: `{ startSpan, startActiveSpan, withSpan, getActiveSpan, forceFlush }`. */
export function useTracer() {
  return TRACER;
}

/**
 * A stable callback that runs `fn(span, ...args)` inside `startActiveSpan(name, options, …)`: the
 * span is current during `fn`'s synchronous run (so a fetch started there is its child), ends
 * when `fn` returns or its Promise settles, and records a throw or rejection. After an `await`,
 * pass `span` on explicitly (`span.startSpan(...)`, `withSpan(span, ...)`). The callback always
 * calls the latest `fn`, `name` and `options`, so it never needs dependencies.
 */
export function useTracedCallback(name, fn, options) {
  const latest = useRef({ name, fn, options });
  useLatestEffect(() => {
    latest.current = { name, fn, options };
  });
  return useCallback((...args) => {
    const { name: n, fn: f, options: o } = latest.current;
    return startActiveSpan(n, o, (span) => f(span, ...args));
  }, []);
}

function failureMessage(e) {
  if (typeof e === "string") return e;
  if (e !== null && (typeof e === "object" || typeof e === "function")) return typeof e.message === "string" ? e.message : "";
  return String(e);
}

/**
 * Catches errors thrown while rendering its children. Each is recorded on a span named `name`
 * (default "react.error"): an `exception` event (exception.type, exception.message,
 * exception.stacktrace), the component stack in `react.component_stack`, and an error status.
 * Then `fallback` is rendered: an element, or a function of `{ error, reset }` (`reset()` renders
 * the children again). `onError(error, info, span)` is called after the span has ended (`span`
 * is undefined when the error had been recorded on a span already: it is not recorded twice).
 */
export class TraceErrorBoundary extends Component {
  constructor(props) {
    super(props);
    this.state = { failed: false, error: undefined };
    this.reset = this.reset.bind(this);
  }

  static getDerivedStateFromError(error) {
    return { failed: true, error };
  }

  componentDidCatch(error, info) {
    const { name, attributes, onError } = this.props;
    let span;
    // An error a span recorded already (a failing startActiveSpan callback whose error the app
    // then rendered) is not recorded twice.
    if (!wasRecorded(error)) try {
      span = startSpan(typeof name === "string" && name !== "" ? name : "react.error", attributes ? { attributes } : undefined);
      span.recordException(error);
      const stack = info && typeof info.componentStack === "string" ? info.componentStack.replace(/^\n+/, "") : "";
      if (stack !== "") span.setAttribute(COMPONENT_STACK, stack);
      span.setStatus({ code: 2, message: failureMessage(error) });
      span.end();
    } catch (_) {
      // Recording must never break the page.
    }
    if (typeof onError === "function") onError(error, info, span);
  }

  reset() {
    this.setState({ failed: false, error: undefined });
  }

  render() {
    if (!this.state.failed) return this.props.children === undefined ? null : this.props.children;
    const { fallback } = this.props;
    if (typeof fallback === "function") return fallback({ error: this.state.error, reset: this.reset });
    return fallback === undefined ? null : fallback;
  }
}
