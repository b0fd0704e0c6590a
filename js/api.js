// The public JavaScript API, a thin layer over the wasm exports (src/web/js_raw.rs).
//
// Why this is JavaScript: a wasm-bindgen class registers every instance with a
// FinalizationRegistry, which made each span several times slower; here a span is a plain object
// with a numeric handle and its ids, and the span itself lives in wasm until it ends. The other
// JavaScript here is what only JavaScript can do: try/finally around the caller's function and
// attaching to the Promise it returns. Ids, sampling, limits, encoding and export stay in Rust.

import * as raw from "./canopy_web.js";
import { Boundary as B } from "./canopy_web.js";
import { errorParts, markRecorded } from "./error.js";

let memory = null;
let words = null;

/** Gives the API the wasm instance's exports (the result of the wasm-bindgen init function). The
 *  production .wasm's export names are minified (scripts/minify-names.mjs), so its memory is found
 *  by type. */
export function attach(exports) {
  memory = (exports && Object.values(exports).find((v) => v instanceof WebAssembly.Memory)) || null;
  words = null;
}

function scratch() {
  // After memory.grow the old buffer is detached and the view's length drops to 0.
  if (words === null || words.length === 0) words = new Uint32Array(memory.buffer, raw.__scratch(), 8);
  return words;
}

const KINDS = { internal: 0, server: 1, client: 2, producer: 3, consumer: 4 };

function kindCode(k) {
  if (typeof k === "number") return k >= 0 && k <= 4 ? k : 255;
  if (typeof k === "string" && Object.prototype.hasOwnProperty.call(KINDS, k)) return KINDS[k];
  return 255;
}

const hex8 = (n) => (n >>> 0).toString(16).padStart(8, "0");

/** A time as milliseconds (Rust decides which are times); NaN for none, or for what cannot be
 *  read (a revoked Proxy, an HrTime of BigInts). */
function toMillis(t) {
  if (typeof t === "number") return t;
  if (t === undefined || t === null) return NaN;
  try {
    if (t instanceof Date) return t.getTime();
    if (Array.isArray(t) && t.length === 2) return t[0] * 1e3 + t[1] / 1e6; // OpenTelemetry HrTime
  } catch (_) {}
  return NaN;
}

/** `v instanceof C`, false for a value that cannot say (a revoked Proxy). (The package entry
 *  uses it too.) */
export function isInstance(v, C) {
  try {
    return v instanceof C;
  } catch (_) {
    return false;
  }
}

const isSpan = (v) => isInstance(v, Span);

/** A name as text; one that cannot be made text (a `toString` that throws) is empty: never
 *  an exception from a tracing call. (The package entry uses it too.) */
export function str(s) {
  if (typeof s === "string") return s;
  try {
    return String(s);
  } catch (_) {
    return "";
  }
}

/** Handle for "the attributes of the next span, event or link" (defined in src/web/js_raw.rs). */
const PENDING = B.Pending;

/** Span names, attribute keys and short string values repeat: Rust keeps each (up to its limit)
 *  and an id crosses the boundary instead of the text. Here only the id of each string is
 *  remembered. */
const interned = new Map();

/** The id of `s` in Rust's table, or -1 (pass the text). Only short strings are kept, here as
 *  there (both live as long as the page): a long one, such as a name built from data, passes its
 *  text each time. */
function idOf(s) {
  let id = interned.get(s);
  if (id === undefined) {
    if (s.length > B.MaxInternedLen) return -1;
    id = interned.size < B.MaxInterned ? raw.__intern(s) : -1;
    if (id >= 0 || interned.size < B.MaxInterned) interned.set(s, id);
  }
  return id;
}

/** String attribute values interned so far (value -> id, or -1): short values repeat too
 *  (`GET`, a route's name). A value is interned the second time it is seen (`seen` holds the
 *  values seen once, a bounded set emptied when full), so ids and other one-off values do not
 *  take the places, up to `B.MaxInternedValues` values; after that, or for a longer value, the
 *  text is passed. */
const values = new Map();
const seen = new Set();
const SEEN_MAX = 256;

function valueIdOf(s) {
  if (s.length > B.MaxInternedValueLen) return -1;
  let id = values.get(s);
  if (id === undefined) {
    if (values.size >= B.MaxInternedValues) return -1;
    if (!seen.has(s)) {
      if (seen.size >= SEEN_MAX) seen.clear();
      seen.add(s);
      return -1;
    }
    seen.delete(s);
    id = idOf(s);
    values.set(s, id);
  }
  return id;
}

/** Hands one attribute to Rust, by type: the only decision here is JavaScript's `typeof`. */
function setAttr(h, key, value) {
  const id = idOf(key);
  const k = id < 0 ? key : undefined;
  switch (typeof value) {
    case "string": {
      const vid = valueIdOf(value);
      raw.__attrStr(h, k, id, vid < 0 ? value : undefined, vid);
      break;
    }
    case "number": raw.__attrNum(h, k, id, value); break;
    case "boolean": raw.__attrBool(h, k, id, value); break;
    default:
      if (value !== null && value !== undefined) {
        // Rust reads an array through JavaScript: a proxy whose traps throw is skipped.
        try {
          raw.__attr(h, key, value);
        } catch (_) {}
      }
  }
}

/** Hands over an object's attributes. Never throws: a getter or proxy trap that throws skips
 *  its attribute. */
function setAttrs(h, attributes) {
  if (attributes === null || typeof attributes !== "object") return;
  let keys;
  try {
    keys = Object.keys(attributes);
  } catch (_) {
    return;
  }
  for (const key of keys) {
    let value;
    try {
      value = attributes[key];
    } catch (_) {
      continue;
    }
    setAttr(h, key, value);
  }
}

/** > 0 while a call's attributes are being read into PENDING: their getters and proxy traps are
 *  the caller's code, which may make a call of its own (see `nested`). */
let reading = 0;

/** Hands over an object's attributes as the pending ones. */
function setPending(attributes) {
  if (attributes === null || typeof attributes !== "object") return;
  reading++;
  try {
    setAttrs(PENDING, attributes);
  } finally {
    reading--;
  }
}

/** Runs `call` (a call that takes the pending attributes or the scratch buffer) from inside the
 *  reading of another call's attributes (`reading > 0`, only ever from such a getter): Rust sets
 *  the outer call's pending attributes aside until it returns. */
function nested(call) {
  raw.__nest(true);
  try {
    return call();
  } finally {
    raw.__nest(false);
  }
}

/** Reads a SpanContext-like object (or another SDK's span) as `[traceId, spanId, flags,
 *  remote, traceState]`, or undefined when it cannot be read. Its code runs here, before
 *  anything is written to the scratch buffer (see `loadContext`). */
function readContext(p) {
  try {
    const cx = typeof p.spanContext === "function" ? p.spanContext() : p;
    if (!cx) return undefined;
    const t = cx.traceId, s = cx.spanId, f = Number(cx.traceFlags) >>> 0, remote = cx.isRemote === true, ts = cx.traceState;
    if (typeof t !== "string" || typeof s !== "string") return undefined;
    const state = typeof ts === "string" ? ts : ts && typeof ts.serialize === "function" ? String(ts.serialize()) : undefined;
    return [t, s, f, remote, state];
  } catch (_) {
    return undefined;
  }
}

/** Writes `readContext`'s ids to the scratch buffer via Rust, which checks them; returns the
 *  trace state, or false when the ids are invalid. */
function loadContext(c) {
  return c !== undefined && raw.__parent(c[0], c[1], c[2], c[3]) ? c[4] : false;
}

/** A span. End it with `end()`; a span that is dropped without `end()` is never exported. */
export class Span {
  constructor(handle, w, traceState) {
    this._h = handle;
    this._t0 = w[0]; this._t1 = w[1]; this._t2 = w[2]; this._t3 = w[3];
    this._s0 = w[4]; this._s1 = w[5]; this._f = w[6];
    this._ts = traceState;
  }

  /** Sets an attribute. Invalid values (objects, mixed arrays, null) are ignored. */
  setAttribute(key, value) {
    if (memory !== null && typeof key === "string") {
      try {
        setAttr(this._h, key, value);
      } catch (_) {}
    }
    return this;
  }

  /** Sets several attributes. */
  setAttributes(attributes) {
    if (memory !== null) setAttrs(this._h, attributes);
    return this;
  }

  /** Adds an event: `addEvent(name, attributes?, time?)` or `addEvent(name, time)`. */
  addEvent(name, attributesOrTime, time) {
    if (memory === null) return this;
    const n = str(name);
    const t = toMillis(attributesOrTime);
    const at = Number.isNaN(t) ? toMillis(time) : t;
    // `__event` takes the pending attributes: none when a time stands in their place.
    const event = () => {
      if (Number.isNaN(t)) setPending(attributesOrTime);
      raw.__event(this._h, n, at);
    };
    if (reading === 0) event();
    else nested(event);
    return this;
  }

  /** Records an exception as an `exception` event (type, message, stack trace). */
  recordException(exception, time) {
    if (memory !== null) {
      markRecorded(exception);
      const [type, message, stack] = errorParts(exception);
      raw.__exception(this._h, type, message, stack, toMillis(time));
    }
  }

  /** Sets the status: `{ code: 0 | 1 | 2, message? }` (unset, ok, error). */
  setStatus(status) {
    if (memory === null) return this;
    let code, message;
    try {
      if (!status) return this;
      code = status.code;
      message = status.message;
    } catch (_) {
      return this;
    }
    // Rust takes OpenTelemetry's codes (0, 1, 2) and ignores anything else.
    raw.__status(this._h, typeof code === "number" ? code : NaN, typeof message === "string" ? message : undefined);
    return this;
  }

  /** Renames the span. */
  updateName(name) {
    if (memory !== null) raw.__rename(this._h, str(name));
    return this;
  }

  /** Links this span to another: `{ context: SpanContext, attributes? }`. */
  addLink(link) {
    if (memory === null) return this;
    let cx, attributes;
    try {
      if (!link || !link.context) return this;
      cx = readContext(link.context);
      attributes = link.attributes;
    } catch (_) {
      return this;
    }
    if (cx === undefined) return this;
    const add = () => {
      if (loadContext(cx) === false) return; // invalid ids: no link
      // The attributes' getters may use the scratch buffer for a span of theirs: the ids are
      // written again after them.
      setPending(attributes);
      raw.__link(this._h, loadContext(cx));
    };
    if (reading === 0) add();
    else nested(add);
    return this;
  }

  /** Ends the span, now or at `endTime`. Later calls do nothing. */
  end(endTime) {
    if (memory !== null) raw.__end(this._h, toMillis(endTime));
  }

  /** True while the span is sampled and not ended. */
  isRecording() {
    return memory !== null && raw.__recording(this._h);
  }

  /** `{ traceId, spanId, traceFlags, isRemote, traceState? }`; valid after `end()` too. */
  spanContext() {
    const cx = {
      traceId: hex8(this._t0) + hex8(this._t1) + hex8(this._t2) + hex8(this._t3),
      spanId: hex8(this._s0) + hex8(this._s1),
      traceFlags: this._f & 0xff,
      isRemote: (this._f & B.FlagRemote) !== 0,
    };
    if (this._ts !== undefined) cx.traceState = this._ts;
    return cx;
  }

  /** Starts a child of this span. */
  startSpan(name, options) {
    return start(name, options, this);
  }

  _fail(error) {
    if (memory !== null) {
      markRecorded(error);
      const [type, message, stack] = errorParts(error);
      raw.__fail(this._h, type, message, stack);
    }
  }

  _load() {
    const w = scratch();
    w[0] = this._t0; w[1] = this._t1; w[2] = this._t2; w[3] = this._t3;
    w[4] = this._s0; w[5] = this._s1; w[6] = this._f;
  }
}

const NOOP_WORDS = [0, 0, 0, 0, 0, 0, 0];

function start(name, options, parent) {
  if (memory === null) return new Span(-1, NOOP_WORDS, undefined);
  return reading === 0 ? start0(name, options, parent) : nested(() => start0(name, options, parent));
}

function start0(name, options, parent) {
  // The caller's code (a name's toString, getters, proxy traps, a parent's traceState) runs
  // before the scratch buffer is written: it may start spans of its own, which use it. Then
  // nothing but Canopy's runs until `__start` has taken the ids and the pending attributes.
  const n = str(name);
  let mode = B.ParentCurrent, cx, ts, kind = 255, startMs = NaN, links, attributes;
  if (options !== undefined && options !== null) {
    try {
      if (options.root === true) mode = B.ParentRoot;
      else if (parent === undefined) {
        const p = options.parent;
        if (p !== undefined && p !== null) {
          if (isSpan(p)) parent = p;
          // A SpanContext or another SDK's span; an unreadable one makes a root, never a guess.
          else if ((cx = readContext(p)) === undefined) mode = B.ParentRoot;
        }
      }
      const k = options.kind;
      if (k !== undefined) kind = kindCode(k);
      startMs = toMillis(options.startTime);
      links = options.links;
      attributes = options.attributes;
    } catch (_) {
      // An option that cannot be read (a getter that throws): the span starts without the rest.
    }
    setPending(attributes);
  }
  if (cx !== undefined) {
    ts = loadContext(cx);
    if (ts === false) { mode = B.ParentRoot; ts = undefined; } else mode = B.ParentScratch;
  } else if (parent !== undefined && mode === B.ParentCurrent) {
    parent._load();
    mode = B.ParentScratch;
    ts = parent._ts;
  }
  const id = idOf(n);
  const h = raw.__start(id < 0 ? n : undefined, id, mode, ts, kind, startMs);
  // The ids are copied out of the scratch buffer before anything else runs in wasm: a later call
  // may grow its memory, which detaches the view.
  const span = new Span(h, scratch(), undefined);
  if ((span._f & B.FlagTraceState) !== 0) span._ts = raw.__traceState(h);
  try {
    if (Array.isArray(links)) {
      // By index and bounded: a sparse array's length would otherwise set how long this runs.
      const n = Math.min(links.length, B.MaxLinksRead);
      for (let i = 0; i < n; i++) span.addLink(links[i]);
    }
  } catch (_) {}
  return span;
}

/** The Span objects of the contexts Rust holds current, with their depths there (src/context.rs
 *  owns the stack, where an interaction span can sit below ours; this only lets `getActiveSpan()`
 *  return the caller's own object). */
const active = [];
const depths = [];

/** Makes `span` current (Rust's stack) until `exit(token)`. */
export function enter(span) {
  span._load();
  const token = raw.__enter(span._ts);
  active.push(span);
  depths.push(token);
  return token;
}

/** Undoes `enter`. */
export function exit(token) {
  raw.__exit(token);
  while (depths.length > 0 && depths[depths.length - 1] >= token) {
    depths.pop();
    active.pop();
  }
}

function run(span, fn, arg) {
  if (memory === null) return fn(arg);
  const token = enter(span);
  try {
    return fn(arg);
  } finally {
    exit(token);
  }
}

/**
 * Starts a span. Its parent is `options.parent`, else the active span, else the page's
 * server-rendered trace (`<meta name="traceparent">`), else none (a new trace).
 */
export function startSpan(name, options) {
  return start(name, options, undefined);
}

/**
 * Runs `fn(span)` with a new span active during its synchronous run. Ends the span when `fn`
 * returns, or when the Promise it returns settles: then the result is a Promise of the same
 * value, settled after the span ended (a rejection is recorded as an exception and an error
 * status, and reaches the caller unchanged: a caller that does not handle it gets the page's
 * `unhandledrejection`, as without Canopy). A throw is recorded likewise and rethrown.
 */
export function startActiveSpan(name, optionsOrFn, maybeFn) {
  const fn = typeof optionsOrFn === "function" ? optionsOrFn : maybeFn;
  const options = typeof optionsOrFn === "function" ? undefined : optionsOrFn;
  if (typeof fn !== "function") throw new TypeError("canopy: startActiveSpan(name, [options], fn) needs a function");
  const span = start(name, options, undefined);
  return runActive(span, () => run(span, fn, span));
}

/**
 * Runs `call` for an active span and ends `span` when it returns, or when the Promise it
 * returns settles; a throw or rejection is recorded as the span's failure and passed on
 * unchanged. (Shared with the package entry, which does the same for spans started early.)
 *
 * A Promise is answered with the Promise its `then` makes (as Sentry's `startSpan` does), not
 * handled on the side: a handler attached to the caller's Promise would mark a rejection
 * handled, and the page's `unhandledrejection` reporting would never hear of it. Another
 * thenable (whose `then` may return anything) is returned itself, with the span ended when it
 * settles.
 */
export function runActive(span, call) {
  let result;
  try {
    result = call();
  } catch (e) {
    span._fail(e);
    throw e;
  }
  let then;
  try {
    if (result !== null && (typeof result === "object" || typeof result === "function")) then = result.then;
  } catch (_) {}
  if (typeof then !== "function") {
    span.end();
    return result;
  }
  const ok = (v) => { span.end(); return v; };
  const failed = (e) => { span._fail(e); throw e; };
  try {
    if (result instanceof Promise) return then.call(result, ok, failed);
    then.call(result, ok, (e) => { span._fail(e); });
  } catch (_) {
    span.end();
  }
  return result;
}

/** Runs `fn()` with `span` active during its synchronous run. */
export function withSpan(span, fn) {
  if (!isSpan(span)) return fn();
  return run(span, fn, undefined);
}

/** The span made active by the innermost running `startActiveSpan`/`withSpan` callback. */
export function getActiveSpan() {
  return active.length > 0 ? active[active.length - 1] : undefined;
}

/** Starts Canopy (see `CanopyConfig`). Throws one Error listing every problem in the config. */
export function init(config) {
  raw.init(config);
  if (stopConsole === null && raw.__captures() & B.CaptureConsole) stopConsole = captureConsole();
  const vitals = raw.__webVitals();
  if (vitals !== undefined && !vitalsLoaded) {
    // A separate module, loaded only when on (a bundler makes it a chunk of its own, or inlines
    // it); it reports through Rust, which checks webVitals again on each report.
    vitalsLoaded = true;
    import("./vitals.js").then((v) => v.listenVitals(vitals, raw.__vital), () => { vitalsLoaded = false; });
  }
}

let vitalsLoaded = false;

let stopConsole = null;

/** Writes a log record (`severity`: OpenTelemetry's SeverityNumber) with the ids of `span`, else
 *  of the active span; Rust decides the rest (limits, batching, where it goes). */
export function emitLog(severity, message, attributes, time, span) {
  if (memory === null) return;
  const text = str(message);
  if (isSpan(span)) return run(span, () => emitLog(severity, text, attributes, time));
  const at = toMillis(time);
  const write = () => {
    setPending(attributes);
    raw.__log(typeof severity === "number" ? severity >>> 0 : 0, text, at);
  };
  if (reading === 0) write();
  else nested(write);
}

/** `log.info("feed loaded", { items: 20 })`: log records with the active span's trace and span
 *  ids; after an `await`, name the span: `log.error("failed", attrs, span)`. */
export const log = {
  debug: (message, attributes, span) => emitLog(5, message, attributes, undefined, span),
  info: (message, attributes, span) => emitLog(9, message, attributes, undefined, span),
  warn: (message, attributes, span) => emitLog(13, message, attributes, undefined, span),
  error: (message, attributes, span) => emitLog(17, message, attributes, undefined, span),
};

const CONSOLE_LEVELS = { debug: 5, log: 9, info: 9, warn: 13, error: 17 };

function consoleText(v) {
  if (typeof v === "string") return v;
  if (v instanceof Error) {
    // Chromium's stack starts with "Type: message"; Firefox's and Safari's are frames only.
    const head = `${v.name}: ${v.message}`;
    const stack = typeof v.stack === "string" ? v.stack : "";
    return stack.startsWith(head) ? stack : stack ? `${head}\n${stack}` : head;
  }
  if (v !== null && typeof v === "object") {
    try {
      return JSON.stringify(v);
    } catch (_) {}
  }
  return String(v);
}

/** A console call's text as the console prints it: the Console standard's formatter (`%s`, `%d`
 *  and `%i`, `%f`, `%o` and `%O`, `%c` dropped, `%%`) when the first argument is a string and
 *  more follow (React logs its errors as `console.error("%o\n\n%s\n\n%s\n", error, …)`), then the
 *  arguments left, separated by spaces. */
function consoleBody(args) {
  let i = 1;
  let first = args[0];
  if (typeof first === "string" && args.length > 1) {
    first = first.replace(/%([sdifoOc%])/g, (spec, c) => {
      if (c === "%") return "%";
      if (i >= args.length) return spec;
      const v = args[i++];
      if (c === "c") return "";
      try {
        if (c === "d" || c === "i") return typeof v === "symbol" ? "NaN" : String(parseInt(v, 10));
        if (c === "f") return typeof v === "symbol" ? "NaN" : String(parseFloat(v));
      } catch (_) {
        return "NaN"; // a value whose conversion throws
      }
      return consoleText(v); // %s, %o, %O: an object as JSON, an Error with its stack
    });
  }
  let text = args.length > 0 ? consoleText(first) : "";
  for (; i < args.length; i++) text += " " + consoleText(args[i]);
  return text;
}

/** Wraps console.debug/log/info/warn/error so each call is also a log record; returns the undo.
 *  The page's own console keeps working unchanged; Canopy's own messages are not recorded. */
function captureConsole() {
  const saved = [];
  let inside = false;
  for (const name of Object.keys(CONSOLE_LEVELS)) {
    const original = console[name];
    if (typeof original !== "function") continue;
    const wrapper = function (...args) {
      if (!inside && !(typeof args[0] === "string" && args[0].startsWith("canopy:"))) {
        inside = true;
        try {
          emitLog(CONSOLE_LEVELS[name], consoleBody(args), { "log.source": "console" });
        } catch (_) {
        } finally {
          inside = false;
        }
      }
      return original.apply(this, args);
    };
    console[name] = wrapper;
    saved.push([name, original, wrapper]);
  }
  return () => {
    // Only where nobody wrapped ours since: their wrapper keeps calling ours, which passes through.
    for (const [name, original, wrapper] of saved) if (console[name] === wrapper) console[name] = original;
  };
}

/** Sends everything queued; resolves when each batch has had an attempt. */
export function forceFlush() {
  return memory === null ? Promise.resolve() : raw.forceFlush();
}

/** Flushes, then stops: later spans are not recorded. `init` may be called again afterwards. */
export function shutdown() {
  if (stopConsole !== null) {
    stopConsole();
    stopConsole = null;
  }
  return memory === null ? Promise.resolve() : raw.shutdown();
}
