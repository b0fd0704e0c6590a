// The fetch and XMLHttpRequest wrappers. These need `this`, `arguments` and exact pass-through
// semantics, which wasm-bindgen closures cannot express; everything else (span bookkeeping,
// which URLs get headers, timing) is Rust, reached through `hooks`:
//   hooks.start(href, method) -> undefined (leave the request alone) | [id, traceparent?, tracestate?, xAmznTraceId?]
//   hooks.response(id, response) / hooks.fail(id, error)            (fetch)
//   hooks.xhrEnd(id, status, failure)                               (XHR; failure: "abort" | "timeout" | "error" | undefined)
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
    let started;
    try {
      started = callStart(h, request.url, request.method);
    } catch (_) {}
    if (!started) return original.call(this, request);
    const id = started[0];
    if (started[1] !== undefined) {
      try {
        // Never overwrite a traceparent the caller set. In no-cors mode the browser ignores these
        // names (not CORS-safelisted), as it would for the caller.
        const headers = request.headers;
        if (!headers.has("traceparent")) {
          headers.set("traceparent", started[1]);
          if (started[2] !== undefined && !headers.has("tracestate")) headers.set("tracestate", started[2]);
          if (started[3] !== undefined && !headers.has("x-amzn-trace-id")) headers.set("x-amzn-trace-id", started[3]);
          // W3C Baggage: a list; the caller's own members stay, ours is added unless named there.
          if (started[4] !== undefined) {
            const b = headers.get("baggage");
            if (b === null) headers.set("baggage", started[4]);
            else if (!/(^|,)\s*session\.id\s*=/.test(b)) headers.set("baggage", `${b},${started[4]}`);
          }
        }
      } catch (_) {}
    }
    let p;
    try {
      p = original.call(this, request);
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

/** Wraps `XMLHttpRequest.prototype.open/send/setRequestHeader`. Returns the state or why not. */
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
    return existing;
  }
  const state = { hooks, open: proto.open, send: proto.send, setRequestHeader: proto.setRequestHeader, info: new WeakMap() };
  const { open, send, setRequestHeader, info } = state;
  // Method definitions: the same names and lengths as the native methods, and not constructors.
  const wrappers = {
    open(method, url) {
      try {
        info.set(this, { method: String(method), href: new URL(String(url), baseUrl(g)).href, callerTraceparent: false });
      } catch (_) {
        info.delete(this);
      }
      return open.apply(this, arguments);
    },
    setRequestHeader(name, value) {
      const i = info.get(this);
      const r = setRequestHeader.apply(this, arguments);
      try {
        if (i && String(name).toLowerCase() === "traceparent") i.callerTraceparent = true;
      } catch (_) {}
      return r;
    },
    send() {
      const h = state.hooks;
      const i = info.get(this);
      if (!h || !i || i.id !== undefined) return send.apply(this, arguments);
      const started = callStart(h, i.href, i.method);
      if (!started) return send.apply(this, arguments);
      const id = (i.id = started[0]);
      const xhr = this;
      let failure;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        info.delete(xhr);
        try { h.xhrEnd(id, xhr.status, failure); } catch (_) {}
      };
      try {
        if (started[1] !== undefined && !i.callerTraceparent) {
          setRequestHeader.call(this, "traceparent", started[1]);
          if (started[2] !== undefined) setRequestHeader.call(this, "tracestate", started[2]);
          if (started[3] !== undefined) setRequestHeader.call(this, "x-amzn-trace-id", started[3]);
          // Appended to a baggage header the caller set (the browser joins the values with ", ").
          if (started[4] !== undefined) setRequestHeader.call(this, "baggage", started[4]);
        }
        // Capture listeners: where the browser runs them first at the target (Firefox), the span
        // has ended before the page's own loadend handler runs (Chromium runs them in order of
        // registration; a forceFlush called there takes the span in its second round).
        this.addEventListener("abort", () => { failure = "abort"; }, true);
        this.addEventListener("timeout", () => { failure = "timeout"; }, true);
        this.addEventListener("error", () => { failure = "error"; }, true);
        this.addEventListener("loadend", finish, true);
      } catch (_) {}
      try {
        return send.apply(this, arguments);
      } catch (e) {
        // A synchronous request that failed throws from send() instead of firing events.
        if (!failure) failure = "error";
        finish();
        throw e;
      }
    },
  };
  try {
    proto.open = wrappers.open;
    proto.setRequestHeader = wrappers.setRequestHeader;
    proto.send = wrappers.send;
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
    if (proto.open === state.open && proto.send === state.send && proto.setRequestHeader === state.setRequestHeader) {
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
