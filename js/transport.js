// The export transport's browser calls. Kept in JS because each is a handful of DOM calls that
// would cost more wasm as glue; every decision (what to send, when, keepalive or not, retries,
// what to store) is Rust's (src/export/machine.rs), and these only perform it.

/** One export request: gzips `body` (a Blob) when `gzip`, POSTs it, and resolves to
 *  [status, retryAfter, rejectedSpans, message]; never rejects (a network error, timeout or
 *  refusal is status 0). Self-contained (only globals), because the export worker runs its
 *  source too. */
async function exportOnce(fetch, url, body, headers, keepalive, timeoutMs, gzip) {
  const send = (payload, gzipped) => {
    const h = Object.assign({ "content-type": "application/json" }, headers);
    h["x-canopy-sent-at"] = String(Date.now());
    if (gzipped) h["content-encoding"] = "gzip";
    const init = { method: "POST", headers: h, body: payload, keepalive, credentials: "omit" };
    let timer;
    try {
      if (typeof AbortSignal !== "undefined" && AbortSignal.timeout) init.signal = AbortSignal.timeout(timeoutMs);
      else if (typeof AbortController === "function") {
        // Safari before 16 has no AbortSignal.timeout: a hung request must still end.
        const c = new AbortController();
        timer = setTimeout(() => c.abort(), timeoutMs);
        init.signal = c.signal;
      }
    } catch (_) {}
    const p = fetch(url, init);
    if (timer !== undefined) p.then(() => clearTimeout(timer), () => clearTimeout(timer));
    return p;
  };
  try {
    let res;
    if (gzip) {
      let packed;
      try {
        packed = await new Response(body.stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer();
      } catch (_) {}
      res = await (packed ? send(packed, true) : send(body, false));
    } else {
      res = await send(body, false);
    }
    let rejected = 0, message = null;
    if (res.ok && /json/.test(res.headers.get("content-type") || "")) {
      try {
        const ps = (await res.json()).partialSuccess;
        if (ps) {
          rejected = Number(ps.rejectedSpans || 0);
          message = ps.errorMessage || null;
        }
      } catch (_) {}
    } else if (!res.ok) {
      try { message = (await res.text()).slice(0, 300); } catch (_) {}
    }
    return [res.status, res.headers.get("retry-after"), rejected, message];
  } catch (_) {
    return [0, null, 0, null];
  }
}

// The export worker: compression and the request off the main thread, as Datadog's and
// Sentry's browser SDKs do, so a page pays only for a copy and a postMessage per batch. Used
// for requests that do not ride keepalive (keepalive requests are small, and must survive the
// page closing, which a worker does not). Where a worker cannot start (a Content-Security-Policy
// without blob: in worker-src, no Worker), everything runs on the main thread.
let worker; // undefined: not tried yet; null: not available
const waiting = new Map();
let nextCall = 1;

function exportWorker() {
  if (worker !== undefined) return worker;
  worker = null;
  try {
    if (typeof Worker !== "function" || typeof Blob !== "function" || typeof URL === "undefined") return null;
    const src = `const exportOnce = ${exportOnce.toString()};\n` +
      "onmessage = (e) => { const [id, url, buf, headers, timeoutMs, gzip] = e.data;" +
      " exportOnce(fetch, url, new Blob([buf]), headers, false, timeoutMs, gzip).then((r) => postMessage([id, r])); };";
    const href = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
    const w = new Worker(href);
    URL.revokeObjectURL(href);
    w.onmessage = (e) => {
      const [id, r] = e.data;
      const done = waiting.get(id);
      waiting.delete(id);
      if (done) finish(done, r);
    };
    // Refused after all (CSP, a crash): the calls in flight fail as network errors (Rust retries
    // them), and the main thread sends from now on.
    w.onerror = () => {
      worker = null;
      for (const done of waiting.values()) finish(done, [0, null, 0, null]);
      waiting.clear();
    };
    worker = w;
  } catch (_) {
    worker = null;
  }
  return worker;
}

function finish(done, r) {
  try { done(r[0], r[1], r[2], r[3]); } catch (_) {}
}

/** POSTs `bytes` (a view of wasm memory: copied before anything else runs), gzipped first when
 *  `gzip`, and calls `done(status, retryAfter, rejectedSpans, message)` once; never throws. */
export function post(fetch, url, bytes, headers, keepalive, timeoutMs, gzip, done) {
  const w = keepalive ? null : exportWorker();
  if (w !== null) {
    try {
      const copy = bytes.slice();
      const id = nextCall++;
      w.postMessage([id, url, copy.buffer, headers, timeoutMs, gzip], [copy.buffer]);
      waiting.set(id, done);
      return;
    } catch (_) {}
  }
  const body = new Blob([bytes]);
  const f = (u, init) => fetch.call(globalThis, u, init);
  exportOnce(f, url, body, headers, keepalive, timeoutMs, gzip).then((r) => finish(done, r));
}

export function canGzip() {
  return typeof CompressionStream === "function" && typeof Blob === "function" && typeof Response === "function";
}

/** Page hide: a keepalive POST started synchronously. False when the browser refuses it. */
export function sendKeepalive(fetch, url, text, headers) {
  try {
    const h = Object.assign({ "content-type": "application/json" }, headers);
    h["x-canopy-sent-at"] = String(Date.now());
    const p = fetch.call(globalThis, url, { method: "POST", headers: h, body: text, keepalive: true, credentials: "omit" });
    if (p && typeof p.catch === "function") p.catch(() => {});
    return true;
  } catch (_) {
    return false;
  }
}

/** navigator.sendBeacon with a CORS-safelisted type (no preflight, no custom headers); false
 *  when the browser refuses it (no sendBeacon, or over its budget). */
export function beacon(url, text) {
  try {
    const n = globalThis.navigator;
    if (!n || typeof n.sendBeacon !== "function") return false;
    const sep = url.includes("?") ? "&" : "?";
    return n.sendBeacon(url + sep + "sent_at=" + Date.now(), new Blob([text], { type: "text/plain;charset=UTF-8" }));
  } catch (_) {
    return false;
  }
}

export function isOffline() {
  const n = globalThis.navigator;
  return !!n && n.onLine === false;
}

/** Reads and removes the saved documents (so none is sent twice). */
export function takeStored(key) {
  try {
    const s = globalThis.localStorage;
    const v = s ? s.getItem(key) : null;
    if (v === null) return [];
    s.removeItem(key);
    const docs = JSON.parse(v);
    return Array.isArray(docs) ? docs.filter((d) => typeof d === "string") : [];
  } catch (_) {
    return [];
  }
}

/** Appends documents to the saved ones, keeping the newest within `maxBytes`. */
export function store(key, docs, maxBytes) {
  try {
    const s = globalThis.localStorage;
    if (!s) return;
    let all = [];
    try { all = JSON.parse(s.getItem(key) || "[]"); } catch (_) {}
    if (!Array.isArray(all)) all = [];
    all = all.concat(docs);
    let size = all.reduce((n, d) => n + d.length, 0);
    while (all.length && size > maxBytes) size -= all.shift().length;
    s.setItem(key, JSON.stringify(all));
  } catch (_) {}
}

/** A `pagehide` came while the page was still visible, and its hide has not come yet (see
 *  `listen`). */
let leaving = false;

/** True between a `pagehide` that found the page visible and the hide after it: the page is
 *  going away (Rust asks when a request ends, see `Exporter::on_leave`). */
export function isLeaving() {
  return leaving;
}

/** Calls `cb` once the running code returns (a microtask). */
export function soon(cb) {
  Promise.resolve().then(cb);
}

/** The page hide of `listen`'s listeners, with their retry (set by `listen`). */
let hideAgain = null;

/** The page hide again once the running code returns: what the page's own listeners end after
 *  Canopy's hide leaves as a listener's hide does. */
export function hideSoon() {
  soon(() => { if (hideAgain !== null) hideAgain(true); });
}

/** Calls `onHide(leaving)` when the page is hidden (a tab switch: false) or goes away (true),
 *  `onShow` when it is shown again, and `onOnline` when it comes online.
 *
 *  A `pagehide` while the page is still visible (a tab close, a navigation) is followed in the
 *  same task by the `visibilitychange` to hidden (the HTML standard's unload steps), and the
 *  page-hide send happens there. Firefox closing a tab cuts off script running in that
 *  `pagehide` (measured: a listener doing 5 ms of work, or one call into wasm, stopped mid-way
 *  while the `visibilitychange` listener after it ran whole), so this listener only takes note
 *  and calls nothing. A page still here a task later (a `pagehide` dispatched by a script) is
 *  hidden then, as for a tab switch; a page unloaded without that `visibilitychange` is hidden
 *  at `unload`. Firefox can stop the `visibilitychange` listener too (closing a tab under load,
 *  mid-way through the export's encoding, measured) and still run the listeners after it: a
 *  hide that did not return is called again once its listener is over, and at `unload` (Rust
 *  records a hide before it sends: one stopped while encoding is done again whole, one stopped
 *  while sending sends what has not left: at least once, a copy when stopped right after a send). */
export function listen(onHide, onShow, onOnline) {
  const g = globalThis;
  // True from a hide's start until it returns: still true after one that was stopped (or threw).
  let stopped = false;
  const hide = (l) => {
    stopped = true;
    try {
      onHide(l);
      stopped = false;
    } catch (_) {}
  };
  // A listener's hide. A stopped one is done again once the listener is over (a microtask, the
  // only chance for a page kept for back/forward) and, failing that, at `unload`.
  const hideNow = (l) => {
    soon(() => { if (stopped) hide(l); });
    hide(l);
  };
  hideAgain = hideNow;
  const unload = () => {
    if (leaving || stopped) {
      leaving = false;
      hide(true);
    }
  };
  try {
    if (g.document) {
      g.document.addEventListener("visibilitychange", () => {
        if (g.document.visibilityState !== "hidden") return onShow();
        const l = leaving;
        leaving = false;
        hideNow(l);
      });
    }
    if (typeof g.addEventListener === "function") {
      g.addEventListener("pagehide", (e) => {
        // A browser that skips the `visibilitychange` below (older WebKit) still fires `unload`
        // when the page is not kept for back/forward, as every browser does after a hide that
        // was stopped (added now, it cannot keep the page out of it; removed again if the page
        // is still here a task later).
        if (!e.persisted) g.addEventListener("unload", unload, { once: true });
        const visible = g.document && g.document.visibilityState === "visible";
        if (visible) leaving = true;
        setTimeout(() => {
          g.removeEventListener("unload", unload);
          if (leaving) { leaving = false; hideNow(false); }
        }, 0);
        if (!visible) hideNow(true);
      });
      g.addEventListener("pageshow", (e) => { if (e.persisted) onShow(); });
      g.addEventListener("online", () => onOnline());
    }
  } catch (_) {}
}
