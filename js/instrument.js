// The fetch and XMLHttpRequest wrappers. These need `this`, `arguments` and exact pass-through
// semantics, which wasm-bindgen closures cannot express; everything else (span bookkeeping,
// which URLs get headers, timing) is Rust, reached through `hooks`:
//   hooks.start(href, method) -> undefined (leave the request alone) | [id, traceparent?, tracestate?, xAmznTraceId?]
//   hooks.response(id, response) / hooks.fail(id, error)            (fetch)
//   hooks.xhrEnd(id, status, failure, doneMs)                       (XHR; failure: "abort" | "timeout" | "error" | undefined;
//                                                                    doneMs: when it was done, performance.now() ms, NaN = now)
// Every hook call is wrapped so that nothing we do can make the page's request fail.

const FETCH_STATE = Symbol.for("canopy.fetch");
const XHR_STATE = Symbol.for("canopy.xhr");

function baseUrl(g) {
  try {
    return (g.document && g.document.baseURI) || (g.location && g.location.href) || undefined;
  } catch (_) {
    return undefined;
  }
}

function callStart(hooks, href, method) {
  try {
    return hooks.start(href, method);
  } catch (_) {
    return undefined;
  }
}

/** The names of the headers `hooks.start` may answer with, in its order (after the id). */
const TRACE_HEADERS = ["traceparent", "tracestate", "x-amzn-trace-id", "baggage"];

/** Adds the trace headers `started` asks for to `headers` (a Headers): never over a traceparent
 *  the caller set; W3C Baggage is a list, so the caller's members stay and ours is added unless
 *  named there. */
function addTrace(headers, started) {
  if (started[1] === undefined || headers.has("traceparent")) return;
  headers.set("traceparent", started[1]);
  if (started[2] !== undefined && !headers.has("tracestate")) headers.set("tracestate", started[2]);
  if (started[3] !== undefined && !headers.has("x-amzn-trace-id")) headers.set("x-amzn-trace-id", started[3]);
  if (started[4] !== undefined) {
    const b = headers.get("baggage");
    if (b === null) headers.set("baggage", started[4]);
    else if (!namesSession(b)) headers.set("baggage", `${b},${started[4]}`);
  }
}

/** True when a `baggage` header value already has a `session.id` member (the caller's). */
const namesSession = (b) => /(^|,)\s*session\.id\s*=/.test(b);

/** `given` (an init's `headers`: a plain object, an array of pairs, a Headers, or nothing) with
 *  the trace headers added, in the form it was given: a wrapper that spreads a plain object or
 *  pushes pairs keeps working. Throws for headers that fetch would refuse. */
function withTrace(HeadersCtor, given, started) {
  const all = new HeadersCtor(given === null ? undefined : given);
  const before = new HeadersCtor(all);
  addTrace(all, started);
  // A Headers (of this realm or another), a Map, any other iterable: a Headers.
  if (given !== undefined && given !== null && !Array.isArray(given) && !isPlain(given)) return all;
  const changed = TRACE_HEADERS.filter((n) => all.get(n) !== before.get(n));
  const named = (k) => changed.includes(String(k).toLowerCase());
  if (Array.isArray(given)) {
    const out = given.filter((pair) => !named(pair[0]));
    for (const n of changed) out.push([n, all.get(n)]);
    return out;
  }
  const out = {};
  if (given !== undefined && given !== null) for (const k of Object.keys(given)) if (!named(k)) out[k] = given[k];
  for (const n of changed) out[n] = all.get(n);
  return out;
}

/** A plain object (`{...}` or `Object.create(null)`), which a wrapper may spread. */
function isPlain(o) {
  const p = Object.getPrototypeOf(o);
  return p === Object.prototype || p === null;
}

/** True for a function the browser made (not another library's wrapper). */
function isNative(f) {
  try {
    return /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(f));
  } catch (_) {
    return false;
  }
}

/** Wraps `g.fetch`. Returns the state, or a string saying why it could not. */
export function installFetch(g, hooks) {
  const current = g.fetch;
  if (typeof current !== "function") return "no fetch in this environment";
  const existing = current[FETCH_STATE];
  if (existing) {
    existing.hooks = hooks; // a second init (React StrictMode): reuse the wrapper, never wrap twice
    return existing;
  }
  const original = current;
  // The Request constructor fetch itself uses, taken now: a page that later replaces
  // `window.Request` does not change what our wrapper builds.
  const RequestCtor = g.Request;
  const HeadersCtor = g.Headers;
  // Another library wrapped fetch before us (one adding a CSRF or auth header, another SDK): it
  // is called the way the page called, `(url, init)`, with our headers added in the init's own
  // form. Such wrappers read `init.headers` and expect a URL string: given a Request of ours,
  // they would replace its headers, or fail.
  const foreign = !isNative(original) && typeof HeadersCtor === "function";
  const state = { hooks, original, wrapper: null };
  // `function fetch(input)`: the same name and length (1) as the native function.
  const wrapper = function fetch(input) {
    const h = state.hooks;
    if (!h || arguments.length === 0 || typeof RequestCtor !== "function") return original.apply(this, arguments);
    const init = arguments[1];
    // An init that is neither an object nor undefined/null is a TypeError for fetch: let it say so.
    if (init !== undefined && init !== null && typeof init !== "object" && typeof init !== "function") {
      return original.apply(this, arguments);
    }
    if (foreign) {
      let url, init2, started;
      try {
        const plain = init === undefined || init === null || (typeof init === "object" && isPlain(init));
        // A Request (of this realm or another) keeps the Request path below.
        const request = input instanceof RequestCtor || Object.prototype.toString.call(input) === "[object Request]";
        if (plain && !request) {
          url = `${input}`; // ToString, once: fetch's own conversion
          const method = init !== undefined && init !== null && init.method !== undefined ? String(init.method) : "GET";
          const href = new URL(url, baseUrl(g)).href;
          started = callStart(h, href, method);
          try {
            if (started) init2 = { ...init, headers: withTrace(HeadersCtor, init ? init.headers : undefined, started) };
          } catch (_) {} // headers fetch will refuse: sent as given, to fail as it would
        }
      } catch (_) {
        url = undefined; // not read: the Request path below takes the call
      }
      if (url !== undefined) return send(h, started, () => (init2 === undefined ? original.apply(this, arguments) : original.call(this, url, init2)));
    }
    // fetch's first step is `new Request(input, init)`. Take that step ourselves, once, and hand
    // the result to the original fetch: the browser reads the init exactly as it would (a Request
    // given as init, inherited members and getters, each read once), and everything the Request
    // carries (referrer, referrerPolicy, mode, credentials, cache, redirect, integrity, keepalive,
    // signal, priority, duplex, body) is kept. Adding our headers to this Request of our own
    // mutates nothing of the caller's. (Passing a second, non-empty init instead would make the
    // browser reset the referrer and the referrer policy.)
    let request;
    try {
      request = new RequestCtor(input, init);
    } catch (_) {
      // An invalid URL, a GET with a body, a used body...: nothing was consumed (the Request
      // constructor throws before it takes a body); let fetch reject the call as usual.
      return original.apply(this, arguments);
    }
    // From here on `request` is the caller's request (its body may now be ours): always send it.
    const started = callStart(h, request.url, request.method);
    if (started) {
      try {
        // In no-cors mode the browser ignores these names (not CORS-safelisted), as it would for
        // the caller.
        addTrace(request.headers, started);
      } catch (_) {}
    }
    return send(h, started, () => original.call(this, request));
  };
  /** Sends with `call` and, for a request Rust started (`started`), reports its outcome. */
  const send = (h, started, call) => {
    if (!started) return call();
    const id = started[0];
    let p;
    try {
      p = call();
    } catch (e) {
      try { h.fail(id, e); } catch (_) {}
      throw e;
    }
    try {
      p.then(
        (r) => { try { h.response(id, r); } catch (_) {} },
        (e) => { try { h.fail(id, e); } catch (_) {} },
      );
    } catch (_) {}
    return p; // the caller's own Promise and Response, untouched
  };
  Object.defineProperty(wrapper, FETCH_STATE, { value: state });
  state.wrapper = wrapper;
  try {
    g.fetch = wrapper;
  } catch (e) {
    return "fetch could not be patched: " + e;
  }
  if (g.fetch !== wrapper) return "fetch could not be patched (read-only)";
  return state;
}

/** Makes the fetch wrapper a pass-through; restores the original only if `fetch` is still ours. */
export function uninstallFetch(g, state) {
  state.hooks = null;
  try {
    if (g.fetch === state.wrapper) g.fetch = state.original;
  } catch (_) {}
}

const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

/** Puts the wrapper of `addEventListener` on `proto` where it inherits the method (one of its
 *  own, such as a fake XMLHttpRequest's in tests, is left alone, and the page's
 *  `readystatechange` listeners are then not looked for). Never throws: where it cannot be
 *  defined (a frozen prototype), the rest of the instrumentation goes on without it. */
function wrapAdd(proto, wrappers) {
  try {
    if (!hasOwn(proto, "addEventListener")) {
      Object.defineProperty(proto, "addEventListener", { value: wrappers.addEventListener, writable: true, enumerable: true, configurable: true });
    }
  } catch (_) {}
}

/** Wraps `XMLHttpRequest.prototype.open/send/setRequestHeader`, and `addEventListener` (see
 *  `wrapAdd`). Returns the state or why not. */
export function installXhr(g, hooks) {
  const X = g.XMLHttpRequest;
  if (typeof X !== "function") return "no XMLHttpRequest in this environment";
  const proto = X.prototype;
  const existing = proto[XHR_STATE];
  if (existing) {
    existing.hooks = hooks;
    // After a partial restore (another library kept its wrapper on one method), put ours back
    // on the methods that are the originals again; leave foreign wrappers alone.
    for (const name of ["open", "send", "setRequestHeader"]) {
      try {
        if (proto[name] === existing[name]) proto[name] = existing.wrappers[name];
      } catch (_) {}
    }
    wrapAdd(proto, existing.wrappers);
    return existing;
  }
  const state = { hooks, open: proto.open, send: proto.send, setRequestHeader: proto.setRequestHeader, info: new WeakMap(), live: new WeakMap(), listened: new WeakSet() };
  // info: what `open` was given, until the request is sent; live: the request in flight, with
  // its span's id, the hooks that started it and how it failed; listened: the objects given a
  // `readystatechange` listener with addEventListener (by the page, or by a library such as an
  // error monitor that listens to every request: those requests then listen too).
  const { open, send, setRequestHeader, info, live, listened } = state;
  const end = (xhr, r, status) => {
    if (r.done) return;
    r.done = true;
    if (live.get(xhr) === r) live.delete(xhr);
    try { r.hooks.xhrEnd(r.id, status, r.failure, r.at); } catch (_) {}
  };
  // The capture listeners, one function each for every request: the browser adds a listener
  // once per object, so a reused XMLHttpRequest does not gather more with every send. A request
  // ends with one of `load`, `abort`, `timeout` or `error`, then `loadend`, all fired with
  // readyState 4 (done); one the page's own listener (which may run first) has already followed
  // with `open` sees 1, and is not the next request's (`open` ended it).
  // The first of those events gives the outcome and the time: its time stamp, taken when the
  // event was made, before the page's own handlers for it ran (they run first when added before
  // send). The span ends at `loadend`, after the page's own `loadend` handler when that was added
  // first, so Rust's work is not in the page's way.
  const outcome = (how) => function (e) {
    const r = this.readyState === 4 ? live.get(this) : undefined;
    if (!r) return;
    if (how) r.failure = how;
    try {
      if (r.at !== r.at) r.at = +e.timeStamp; // NaN until set; a page's own getter may throw
    } catch (_) {}
  };
  const listeners = [["load", outcome(undefined)], ["abort", outcome("abort")], ["timeout", outcome("timeout")], ["error", outcome("error")],
    ["loadend", function () {
      const r = this.readyState === 4 ? live.get(this) : undefined;
      if (r) end(this, r, this.status);
    }]];
  // A page's `onreadystatechange`, or a `readystatechange` listener it added, runs before `load`
  // is even made: with one, the request's first DONE `readystatechange` gives the time instead
  // (its time stamp, whichever listener runs first; this listener is added only then: that event
  // fires three or more times a request, and listening to it measurably adds to every request's
  // time).
  const done = outcome(undefined);
  // Method definitions: the same names and lengths as the native methods, and not constructors.
  const wrappers = {
    open(method, url) {
      // The method and URL made text once, as open does (a Symbol throws there, as without us),
      // and those strings handed on: the caller's toString runs once.
      let args = arguments, m, u;
      try {
        m = `${method}`;
        u = `${url}`;
        args = Array.prototype.slice.call(arguments);
        args[0] = m;
        args[1] = u;
      } catch (_) {
        args = arguments;
      }
      // A request of this object not ended yet: in flight, or done with its events still being
      // dispatched (the page's own `readystatechange`, `load` or `loadend` listener opening the
      // next request before ours ran). Its state is read now: open resets it.
      const prev = live.get(this);
      let finished = false, status = 0;
      if (prev) {
        try {
          finished = this.readyState === 4;
          status = this.status;
        } catch (_) {}
      }
      const r = open.apply(this, args);
      // Opened (a method or URL that open refuses throws above, and nothing changes): a request
      // still in flight was cancelled without any event, so its span ends here, as one done.
      if (prev) {
        if (!finished) prev.failure = "abort";
        else if (status === 0 && !prev.failure) prev.failure = "error";
        end(this, prev, finished ? status : 0);
      }
      try {
        info.set(this, { method: m, href: new URL(u, baseUrl(g)).href, callerTraceparent: false, baggage: undefined });
      } catch (_) {
        info.delete(this);
      }
      return r;
    },
    setRequestHeader(name, value) {
      const i = info.get(this);
      const r = setRequestHeader.apply(this, arguments);
      try {
        const n = i ? String(name).toLowerCase() : "";
        if (n === "traceparent") i.callerTraceparent = true;
        // The browser joins a repeated header's values with ", ".
        else if (n === "baggage") i.baggage = i.baggage === undefined ? String(value) : `${i.baggage}, ${value}`;
      } catch (_) {}
      return r;
    },
    send() {
      const h = state.hooks;
      const i = info.get(this);
      if (!h || !i) return send.apply(this, arguments);
      const started = callStart(h, i.href, i.method);
      if (!started) return send.apply(this, arguments);
      // Sent: what open gave is used (a second send throws InvalidStateError, untraced).
      info.delete(this);
      const rec = { id: started[0], hooks: h, failure: undefined, done: false, at: NaN };
      live.set(this, rec);
      try {
        if (started[1] !== undefined && !i.callerTraceparent) {
          setRequestHeader.call(this, "traceparent", started[1]);
          if (started[2] !== undefined) setRequestHeader.call(this, "tracestate", started[2]);
          if (started[3] !== undefined) setRequestHeader.call(this, "x-amzn-trace-id", started[3]);
          // Appended to a baggage header the caller set (the browser joins the values with ", "),
          // unless that names a session already.
          if (started[4] !== undefined && !namesSession(i.baggage ?? "")) setRequestHeader.call(this, "baggage", started[4]);
        }
        for (const [type, f] of listeners) this.addEventListener(type, f, true);
        if (typeof this.onreadystatechange === "function" || listened.has(this)) this.addEventListener("readystatechange", done, true);
      } catch (_) {}
      try {
        return send.apply(this, arguments);
      } catch (e) {
        // A synchronous request that failed throws from send() instead of firing events; a send
        // the browser refused (InvalidStateError) sent nothing.
        if (!rec.failure) rec.failure = "error";
        end(this, rec, this.status);
        throw e;
      }
    },
    // A `readystatechange` listener (see `done`): noted for `send`, and a request already in
    // flight listens now. The inherited method is looked up on each call: one that something
    // puts on EventTarget later (zone.js) is called too.
    addEventListener(type, listener) {
      const add = Object.getPrototypeOf(proto).addEventListener;
      try {
        if (type === "readystatechange") {
          listened.add(this);
          if (live.has(this)) add.call(this, type, done, true);
        }
      } catch (_) {}
      return add.apply(this, arguments);
    },
  };
  try {
    proto.open = wrappers.open;
    proto.setRequestHeader = wrappers.setRequestHeader;
    proto.send = wrappers.send;
    wrapAdd(proto, wrappers);
    Object.defineProperty(proto, XHR_STATE, { value: state, configurable: true });
  } catch (e) {
    return "XMLHttpRequest could not be patched: " + e;
  }
  if (proto.send !== wrappers.send) return "XMLHttpRequest could not be patched (read-only)";
  state.wrappers = wrappers;
  return state;
}

/** Makes the XHR wrappers pass-throughs; restores each method only if it is still ours. */
export function uninstallXhr(g, state) {
  state.hooks = null;
  const proto = g.XMLHttpRequest && g.XMLHttpRequest.prototype;
  if (!proto || !state.wrappers) return;
  try {
    for (const name of ["open", "send", "setRequestHeader"]) {
      if (proto[name] === state.wrappers[name]) proto[name] = state[name];
    }
    // Ours taken away, the inherited one is there again.
    if (proto.addEventListener === state.wrappers.addEventListener) delete proto.addEventListener;
    if (proto.open === state.open && proto.send === state.send && proto.setRequestHeader === state.setRequestHeader && proto.addEventListener !== state.wrappers.addEventListener) {
      delete proto[XHR_STATE];
    }
  } catch (_) {}
}

/** The hooks object the wrappers call, around Rust's callbacks: `response` gets the status
 *  (the wrapper hands over the Response, which Rust never reads), and one PerformanceObserver
 *  hands each `fetch` resource timing entry's URL and numbers to `timing`, in the order of
 *  Timing in src/web/instrument.rs. */
export function makeHooks(start, response, fail, xhrEnd, timing) {
  try {
    if (typeof PerformanceObserver === "function") {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          if (e.initiatorType !== "fetch") continue;
          try {
            timing(e.name, [e.startTime, e.domainLookupStart, e.domainLookupEnd, e.connectStart, e.connectEnd,
              e.secureConnectionStart, e.requestStart, e.responseStart, e.responseEnd, e.encodedBodySize || 0]);
          } catch (_) {}
        }
      }).observe({ type: "resource" });
    }
  } catch (_) {}
  return { start, response: (id, r) => response(id, r && typeof r.status === "number" ? r.status : 0), fail, xhrEnd };
}

/** The original `fetch` if `fetch` is currently a Canopy wrapper (so the exporter never makes
 *  spans of its own), else `fetch` itself; undefined where there is none. */
export function originalFetch() {
  const f = globalThis.fetch;
  if (typeof f !== "function") return undefined;
  const state = f[FETCH_STATE];
  return state && typeof state.original === "function" ? state.original : f;
}

/** The page's origin (`location.origin`), undefined in a context without one. */
export function pageOrigin() {
  try {
    return globalThis.location ? String(globalThis.location.origin) : undefined;
  } catch (_) {
    return undefined;
  }
}

export function hasXhr() {
  return typeof globalThis.XMLHttpRequest === "function";
}
