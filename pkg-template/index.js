// canopy-web's main entry ("canopy-web"): the public API of ./api.js, plus loading the .wasm, so
// that an app calls `init(config)` and nothing else.
//
//   init(config)  starts loading canopy_web_bg.wasm (the bundler finds it through
//                 `new URL("canopy_web_bg.wasm", import.meta.url)` in the wasm-bindgen glue),
//                 then starts Canopy. It returns a Promise<boolean> (true once running) that never
//                 rejects: a bad config or a .wasm that cannot load is logged with console.error,
//                 and the app keeps working untraced, as with OpenTelemetry, Honeycomb or Sentry.
//   before then   spans are kept (up to MAX_PENDING) with their names, times, attributes, events,
//                 status and parents, and recorded when the .wasm is ready. Requests sent before
//                 then are not traced (fetch is patched when Canopy starts): await init() first,
//                 or let <TraceProvider> wait, when the first requests matter.
//   load(input)   loads the .wasm without starting (to start the download early, or to load it
//                 from your own URL or WebAssembly.Module).
//
// Nothing runs at import time (the package has "sideEffects": false), so importing this module on
// a server is harmless.
import loadWasm, { Boundary } from "./canopy_web.js";
import * as api from "./api.js";

/** Spans kept while the .wasm loads; later ones are not recorded. */
const MAX_PENDING = 1024;
/** Recorded starts, enters and exits at most (bounded memory before the .wasm is ready). */
const MAX_LOG = 4 * MAX_PENDING;
/** Calls kept per such span (attributes, events, …); later ones are ignored. */
const MAX_CALLS = 256;
/** OpenTelemetry's invalid span context: what a span reports before the .wasm is ready. */
const INVALID_CONTEXT = { traceId: "00000000000000000000000000000000", spanId: "0000000000000000", traceFlags: 0, isRemote: false };

let loading = null; // Promise<void> while the .wasm loads (and after)
let loaded = false;
let phase = "idle"; // "idle" | "starting" (init called, .wasm not ready) | "running"
let starting = null; // init's Promise<boolean> while starting
let generation = 0; // bumped by shutdown, so a load that finishes later does not start Canopy
let pending = []; // the calls recorded while starting, in order: ["start", PendingSpan] | ["enter", PendingSpan] | ["exit"]
let spansPending = 0;
const pendingActive = []; // PendingSpans being run by startActiveSpan/withSpan (for getActiveSpan only)

const now = () => (typeof performance !== "undefined" ? performance.now() : Date.now());

/**
 * Loads and instantiates canopy_web_bg.wasm once; `init` calls it for you. `input` (optional):
 * a URL, a Response, bytes or a WebAssembly.Module, used instead of the bundled file.
 */
export function load(input) {
  if (loaded) return Promise.resolve();
  if (loading === null) {
    loading = instantiate(input).then(
      (exports) => {
        api.attach(exports);
        loaded = true;
      },
      (e) => {
        loading = null;
        throw e;
      },
    );
  }
  return loading;
}

async function instantiate(input) {
  if (input !== undefined) return loadWasm({ module_or_path: input });
  try {
    return await loadWasm();
  } catch (e) {
    // Vite's dev server before Vite 8 pre-bundles dependencies into node_modules/.vite/deps
    // without the .wasm next to them (the glue's URL gets index.html); the package's own copies
    // are still served. This copy of the entry was bundled with its own glue, so its own .wasm
    // (BUILD) is the one to load: each .wasm links only with its own glue.
    const url = viteDepsFallback();
    if (url === undefined) throw e;
    return loadWasm({ module_or_path: url });
  }
}

/** This copy's directory in the package: "" (production), "dev/" or "core/"; scripts/pkg.sh
 *  writes it into each copy. */
const BUILD = "";

/**
 * This copy's .wasm in the installed package when this module runs from Vite's dependency
 * cache, else undefined. Where this module runs from is read from a stack
 * trace, whose first URL is this function's file, NOT from `import.meta.url`: webpack 5 replaces
 * a bare `import.meta.url` with the build machine's file:// path, which would then ship in every
 * app's bundle. A stack we cannot read (Error.stackTraceLimit = 0, an unknown format) only means
 * no fallback.
 */
function viteDepsFallback() {
  let stack = "";
  try {
    stack = String(new Error().stack);
  } catch (_) {}
  const here = /[a-z][a-z0-9+.-]*:\/\/[^\s()]+/i.exec(stack);
  const i = here ? here[0].indexOf("/node_modules/.vite/") : -1;
  if (i < 0) return undefined;
  const dir = here[0].slice(0, i) + "/node_modules/canopy-web/";
  return dir + BUILD + "canopy_web_bg.wasm";
}

/** Why the .wasm did not load, in words a user can act on, and what to log with them (the
 *  error itself in a browser; outside one, such as a server render or a test runner in Node,
 *  its message: the stack and cause of Node's failed `fetch` of a file: URL say nothing more). */
function loadFailure(e) {
  const text = String((e && e.message) || e);
  if (/Content Security Policy|CSP|unsafe-eval/i.test(text)) {
    return ["canopy: the page's Content-Security-Policy blocks WebAssembly, so tracing is off. " +
      "Allow it with 'wasm-unsafe-eval' in script-src, e.g. Content-Security-Policy: script-src 'self' 'wasm-unsafe-eval'.", e];
  }
  if (typeof document === "undefined" && typeof importScripts !== "function") {
    return [`canopy: could not load canopy_web_bg.wasm, so tracing is off (not a browser): ${text}`];
  }
  return ["canopy: could not load canopy_web_bg.wasm, so tracing is off:", e];
}

/**
 * Starts Canopy: loads the .wasm if needed, then validates `config`, patches fetch and
 * XMLHttpRequest and starts exporting. Resolves to true when running, false when it could not
 * start (the reason is logged); never rejects. A second call keeps the first configuration.
 */
export function init(config) {
  if (phase === "starting") {
    console.warn("canopy: init called while already starting: keeping the first configuration");
    return starting;
  }
  if (loaded) return Promise.resolve(startNow(config));
  phase = "starting";
  const gen = ++generation;
  starting = load().then(
    () => (gen === generation ? startNow(config) : false),
    (e) => {
      if (gen !== generation) return false;
      console.error(...loadFailure(e));
      stopStarting();
      return false;
    },
  );
  return starting;
}

function startNow(config) {
  try {
    api.init(config);
  } catch (e) {
    // "canopy: invalid config:\n  - serviceName is required …"
    const message = e && typeof e.message === "string" ? e.message : String(e);
    if (phase === "running") {
      console.error(`${message}\n(init ignored: Canopy is already running)`);
      return true;
    }
    // A bad config installed nothing; anything else was thrown part-way by the page's
    // environment (a patched addEventListener, no DOM), and what the failed init installed is
    // taken down again: nothing is left half-on.
    try {
      api.shutdown();
    } catch (_) {}
    console.error(`${message.startsWith("canopy:") ? message : `canopy: init failed: ${message}`}\n(tracing is off)`);
    if (phase === "starting") stopStarting();
    return false;
  }
  const calls = pending;
  phase = "running";
  starting = null;
  pending = [];
  spansPending = 0;
  replay(calls);
  return true;
}

function stopStarting() {
  phase = "idle";
  starting = null;
  for (const [op, p] of pending) if (op === "start") p._drop();
  pending = [];
  spansPending = 0;
}

/** True from the moment Canopy runs until `shutdown`. */
export function isRunning() {
  return phase === "running";
}

/**
 * Starts a span. Its parent is `options.parent`, else the active span, else the page's
 * server-rendered trace (`<meta name="traceparent">`), else none (a new trace).
 */
export function startSpan(name, options) {
  if (phase === "starting") return startPending(name, options, undefined);
  return api.startSpan(name, realOptions(options));
}

/**
 * Runs `fn(span)` with a new span active during its synchronous run. Ends the span when `fn`
 * returns, or when the Promise it returns settles (a rejection is recorded as an exception and
 * an error status, and reaches the caller unchanged). A throw is recorded likewise and rethrown.
 */
export function startActiveSpan(name, optionsOrFn, maybeFn) {
  const fn = typeof optionsOrFn === "function" ? optionsOrFn : maybeFn;
  const options = typeof optionsOrFn === "function" ? undefined : optionsOrFn;
  if (phase !== "starting") return api.startActiveSpan(name, realOptions(options), fn);
  if (typeof fn !== "function") throw new TypeError("canopy: startActiveSpan(name, [options], fn) needs a function");
  const span = startPending(name, options, undefined);
  return api.runActive(span, () => runPending(span, fn, span));
}

/** Runs `fn()` with `span` active during its synchronous run. */
export function withSpan(span, fn) {
  if (isPending(span)) {
    if (span._real !== null) return api.withSpan(span._real, fn);
    if (phase === "starting") return runPending(span, fn, undefined);
    return fn();
  }
  return api.withSpan(span, fn);
}

/** Writes a log record; while the .wasm loads it is kept (with its time and its place among the
 *  recorded span calls, so Rust gives it the span that was active) and written at replay. */
function emitLog(severity, message, attributes, span) {
  if (isPending(span) && span._real !== null) span = span._real;
  if (phase !== "starting") return isPending(span) ? undefined : api.emitLog(severity, message, attributes, undefined, span);
  if (pending.length >= MAX_LOG) return;
  pending.push(["log", [severity, api.str(message), copyAttrs(attributes), Date.now(), span]]);
}

/**
 * Log records (OpenTelemetry logs, sent to the relay's /v1/logs) with the trace and span ids of
 * the active span, or of the span given: `log.info("feed loaded", { items: 20 })`, and after an
 * `await`, `log.error("feed failed", { status }, span)`.
 */
export const log = {
  debug: (message, attributes, span) => emitLog(5, message, attributes, span),
  info: (message, attributes, span) => emitLog(9, message, attributes, span),
  warn: (message, attributes, span) => emitLog(13, message, attributes, span),
  error: (message, attributes, span) => emitLog(17, message, attributes, span),
};

/** The span made active by the innermost running `startActiveSpan`/`withSpan` callback. */
export function getActiveSpan() {
  if (pendingActive.length > 0) return pendingActive[pendingActive.length - 1];
  return api.getActiveSpan();
}

/** Sends everything queued; resolves when each batch has had an attempt. */
export function forceFlush() {
  if (phase === "starting") return starting.then((ok) => (ok ? api.forceFlush() : undefined));
  return api.forceFlush();
}

/**
 * Flushes, then stops: later spans are not recorded, fetch and XMLHttpRequest pass straight
 * through. `init` may be called again afterwards.
 */
export function shutdown() {
  generation++;
  if (phase === "starting") {
    stopStarting();
    return Promise.resolve();
  }
  phase = "idle";
  return api.shutdown();
}

/** Runs `fn` with `span` current, recording the enter and the exit: on replay Rust makes the
 *  real span current at the same point, and picks every parent itself. */
function runPending(span, fn, arg) {
  const depth = pendingActive.length;
  const record = pending.length < MAX_LOG;
  pendingActive.push(span);
  if (record) pending.push(["enter", span]);
  try {
    return fn(arg);
  } finally {
    pendingActive.length = depth;
    if (record) pending.push(["exit"]);
  }
}

/** `options` with a PendingSpan parent replaced by its real span. */
function realOptions(options) {
  const p = read(options, "parent");
  if (isPending(p)) {
    const parent = p._real;
    let copy = {};
    try {
      copy = { ...options };
    } catch (_) {} // a getter that throws: the parent is kept, the rest goes
    return parent !== null ? { ...copy, parent } : { ...copy, parent: undefined, root: true };
  }
  return options;
}

function startPending(name, options, parent) {
  const span = new PendingSpan(name, options);
  if (spansPending >= MAX_PENDING) {
    span._drop();
    return span;
  }
  // Only what the caller said: an explicit parent, or a new trace. The default (the current
  // span, else the page's trace) is left to Rust at replay.
  if (parent !== undefined) span._parent = parent;
  else if (read(options, "root") === true) span._parent = null;
  else {
    const p = read(options, "parent");
    if (p !== undefined && p !== null) span._parent = p;
  }
  spansPending++;
  pending.push(["start", span]);
  return span;
}

// The caller's values are read here with their getters and proxy traps, which may throw: a
// tracing call never throws into the page, while the .wasm loads as after.

/** `o[key]`, undefined when `o` is not an object or the read throws. */
function read(o, key) {
  try {
    return o !== null && (typeof o === "object" || typeof o === "function") ? o[key] : undefined;
  } catch (_) {
    return undefined;
  }
}

const isPending = (v) => api.isInstance(v, PendingSpan);

/** A copy of an attributes object as it is now (a key whose getter throws is left out). */
function copyAttrs(a) {
  if (a === null || typeof a !== "object") return undefined;
  const copy = Object.create(null);
  try {
    for (const k of Object.keys(a)) {
      try {
        copy[k] = a[k];
      } catch (_) {}
    }
  } catch (_) {}
  return copy;
}

function isTime(v) {
  try {
    return typeof v === "number" || v instanceof Date || (Array.isArray(v) && v.length === 2 && typeof v[0] === "number");
  } catch (_) {
    return false;
  }
}

function failureMessage(e) {
  if (typeof e === "string") return e;
  if (e !== null && (typeof e === "object" || typeof e === "function")) {
    const m = read(e, "message");
    return typeof m === "string" ? m : "";
  }
  return api.str(e);
}

/**
 * A span started while the .wasm loads. It records what is done to it (with the times it was
 * done) and, once Canopy runs, becomes a real span: the same calls are made on it in order, and
 * later calls go straight to it. Until then `spanContext()` is the invalid (all-zero) context.
 */
class PendingSpan {
  constructor(name, options) {
    this._name = api.str(name);
    const start = read(options, "startTime");
    this._start = start !== undefined ? start : now();
    this._kind = read(options, "kind");
    this._attributes = copyAttrs(read(options, "attributes"));
    this._links = undefined;
    try {
      const links = read(options, "links");
      if (Array.isArray(links)) {
        // By index and bounded, as the running API reads them.
        const n = Math.min(links.length, Boundary.MaxLinksRead);
        this._links = [];
        for (let i = 0; i < n; i++) this._links.push(links[i]);
      }
    } catch (_) {}
    this._parent = undefined; // PendingSpan | Span | SpanContext | null (a new trace) | undefined (the default)
    this._calls = [];
    this._real = null;
    this._ended = false;
    this._dropped = false;
  }

  _call(method, ...args) {
    if (this._ended || this._dropped || this._calls.length >= MAX_CALLS) return;
    this._calls.push([method, args]);
  }

  setAttribute(key, value) {
    if (this._real !== null) this._real.setAttribute(key, value);
    else {
      // An array as it is now (the running API copies it into wasm at once).
      let v = value;
      try {
        if (Array.isArray(value)) v = value.slice();
      } catch (_) {
        return this;
      }
      this._call("setAttribute", key, v);
    }
    return this;
  }

  setAttributes(attributes) {
    if (this._real !== null) this._real.setAttributes(attributes);
    else if (attributes !== null && typeof attributes === "object") this._call("setAttributes", copyAttrs(attributes));
    return this;
  }

  addEvent(name, attributesOrTime, time) {
    if (this._real !== null) this._real.addEvent(name, attributesOrTime, time);
    else if (isTime(attributesOrTime)) this._call("addEvent", name, attributesOrTime);
    else this._call("addEvent", api.str(name), copyAttrs(attributesOrTime), time === undefined ? now() : time);
    return this;
  }

  recordException(exception, time) {
    if (this._real !== null) this._real.recordException(exception, time);
    else this._call("recordException", exception, time === undefined ? now() : time);
  }

  setStatus(status) {
    if (this._real !== null) this._real.setStatus(status);
    else if (status) this._call("setStatus", { code: read(status, "code"), message: read(status, "message") });
    return this;
  }

  updateName(name) {
    if (this._real !== null) this._real.updateName(name);
    else this._call("updateName", name);
    return this;
  }

  addLink(link) {
    if (this._real !== null) this._real.addLink(link);
    else this._call("addLink", link);
    return this;
  }

  end(endTime) {
    if (this._real !== null) this._real.end(endTime);
    else if (!this._ended) {
      this._call("end", endTime === undefined ? now() : endTime);
      this._ended = true;
    }
  }

  isRecording() {
    if (this._real !== null) return this._real.isRecording();
    return !this._ended && !this._dropped;
  }

  spanContext() {
    if (this._real !== null) return this._real.spanContext();
    return { ...INVALID_CONTEXT };
  }

  startSpan(name, options) {
    if (this._real !== null) return this._real.startSpan(name, options);
    if (this._dropped || phase !== "starting") return startSpan(name, options);
    return startPending(name, options, this);
  }

  /** A failure of startActiveSpan's callback: exception event, error status, end. */
  _fail(error) {
    const t = now();
    this.recordException(error, t);
    this.setStatus({ code: 2, message: failureMessage(error) });
    this.end(t);
  }

  _drop() {
    this._dropped = true;
    this._calls = [];
  }
}

/**
 * Replays the recorded calls in order through the running API: each span is started with what
 * the caller said (its recorded start time, an explicit parent), and the enters and exits of
 * startActiveSpan/withSpan make the real spans current at the same points, so the parent of
 * every other span is chosen by Rust, by the same rule as when Canopy runs (the current span,
 * else the page's server-rendered trace for spans that started before the load event).
 */
function replay(calls) {
  const tokens = [];
  for (const [op, p] of calls) {
    try {
      if (op === "exit") {
        const t = tokens.pop();
        if (t !== null && t !== undefined) api.exit(t);
      } else if (op === "enter") {
        tokens.push(p._real !== null ? api.enter(p._real) : null);
      } else if (op === "log") {
        const [severity, message, attributes, time, span] = p;
        const real = isPending(span) ? span._real : span;
        if (real !== null) api.emitLog(severity, message, attributes, time, real);
      } else if (!p._dropped) start(p);
    } catch (_) {}
  }
  while (tokens.length > 0) {
    const t = tokens.pop();
    if (t !== null && t !== undefined) api.exit(t);
  }
}

function start(p) {
  const options = { startTime: p._start };
  if (p._kind !== undefined) options.kind = p._kind;
  if (p._attributes !== undefined) options.attributes = p._attributes;
  if (p._links !== undefined) options.links = p._links;
  let parent = p._parent;
  if (isPending(parent)) parent = parent._real !== null ? parent._real : null;
  if (parent === null) options.root = true;
  else if (parent !== undefined) options.parent = parent;
  try {
    p._real = api.startSpan(p._name, options);
  } catch (_) {
    p._drop();
    return;
  }
  const calls = p._calls;
  p._calls = [];
  for (const [method, args] of calls) {
    try {
      p._real[method](...args);
    } catch (_) {}
  }
}
