// The export transport's browser calls. Kept in JS because each is a handful of DOM calls that
// would cost more wasm as glue; every decision (what to send, when, keepalive or not, retries,
// what to store) is Rust's (src/export/machine.rs), and these only perform it.

/** POSTs `bytes` (a view of wasm memory: copied before anything else runs), gzipped first when
 *  `gzip`, and calls `done(status, retryAfter, rejectedSpans, message)` once; never throws (a
 *  network error, timeout or refusal is status 0). */
export function post(fetch, url, bytes, headers, keepalive, timeoutMs, gzip, done) {
  const body = new Blob([bytes]);
  const h = Object.assign({ "content-type": "application/json" }, headers);
  const send = (payload, gzipped) => {
    h["x-canopy-sent-at"] = String(Date.now());
    if (gzipped) h["content-encoding"] = "gzip";
    const init = { method: "POST", headers: h, body: payload, keepalive, credentials: "omit" };
    try {
      if (typeof AbortSignal !== "undefined" && AbortSignal.timeout) init.signal = AbortSignal.timeout(timeoutMs);
    } catch (_) {}
    return fetch.call(globalThis, url, init);
  };
  const compressed = gzip
    ? new Response(body.stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer().then((b) => send(b, true), () => send(body, false))
    : send(body, false);
  Promise.resolve(compressed)
    .then(async (res) => {
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
    }, () => [0, null, 0, null])
    .then((r) => {
      try { done(r[0], r[1], r[2], r[3]); } catch (_) {}
    });
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

/** Calls `onHide` when the page is hidden or unloaded, `onShow` when it is shown again, and
 *  `onOnline` when the browser comes online. */
export function listen(onHide, onShow, onOnline) {
  const g = globalThis;
  try {
    if (g.document) {
      g.document.addEventListener("visibilitychange", () => (g.document.visibilityState === "hidden" ? onHide() : onShow()));
    }
    if (typeof g.addEventListener === "function") {
      g.addEventListener("pagehide", () => onHide());
      g.addEventListener("pageshow", (e) => { if (e.persisted) onShow(); });
      g.addEventListener("online", () => onOnline());
    }
  } catch (_) {}
}
