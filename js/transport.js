// The export transport's browser calls. Kept in JS because each is a handful of DOM calls that
// would cost more wasm as Reflect glue; policy (what to send, when, retries) stays in Rust.

/** POSTs `body` and resolves to [status, retryAfter, rejectedSpans, partialMessage]; never rejects
 *  (a network error, timeout or refusal is status 0). */
export async function post(fetch, url, body, headers, keepalive, timeoutMs, gzipped) {
  const h = Object.assign({ "content-type": "application/json" }, headers);
  h["x-canopy-sent-at"] = String(Date.now());
  if (gzipped) h["content-encoding"] = "gzip";
  const init = { method: "POST", headers: h, body, keepalive, credentials: "omit" };
  try {
    if (typeof AbortSignal !== "undefined" && AbortSignal.timeout) init.signal = AbortSignal.timeout(timeoutMs);
  } catch (_) {}
  let res;
  try {
    res = await fetch.call(globalThis, url, init);
  } catch (_) {
    return [0, null, 0, null];
  }
  const retryAfter = res.headers.get("retry-after");
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
  return [res.status, retryAfter, rejected, message];
}

/** Gzips UTF-8 bytes with CompressionStream (buffered, so keepalive can carry it). `bytes` is a
 *  view of wasm memory: the Blob copies it before anything else runs. */
export async function gzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export function canGzip() {
  return typeof CompressionStream === "function" && typeof Blob === "function" && typeof Response === "function";
}

/** Page hide: a keepalive POST started synchronously. False when the browser refuses it (no
 *  keepalive support, or it throws), so the caller falls back to a beacon. */
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

/** navigator.sendBeacon with a CORS-safelisted type (no preflight, no custom headers). */
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
    if (!s) return [];
    const v = s.getItem(key);
    if (v === null) return [];
    s.removeItem(key);
    const docs = JSON.parse(v);
    return Array.isArray(docs) ? docs.filter((d) => typeof d === "string") : [];
  } catch (_) {
    return [];
  }
}

/** Appends documents to the saved ones, keeping the newest within `maxBytes`. Returns how many
 *  documents were left out. */
export function store(key, docs, maxBytes) {
  try {
    const s = globalThis.localStorage;
    if (!s) return docs.length;
    let all = [];
    try { all = JSON.parse(s.getItem(key) || "[]"); } catch (_) {}
    if (!Array.isArray(all)) all = [];
    all = all.concat(docs);
    let size = all.reduce((n, d) => n + d.length, 0), dropped = 0;
    while (all.length && size > maxBytes) { size -= all.shift().length; dropped++; }
    s.setItem(key, JSON.stringify(all));
    return dropped;
  } catch (_) {
    return docs.length;
  }
}

/** Calls `cb` when the page is hidden or unloaded, and `online` when the browser comes online. */
export function listen(onHide, onOnline) {
  const g = globalThis;
  try {
    if (g.document) {
      g.document.addEventListener("visibilitychange", () => { if (g.document.visibilityState === "hidden") onHide(); });
    }
    if (typeof g.addEventListener === "function") {
      g.addEventListener("pagehide", () => onHide());
      g.addEventListener("online", () => onOnline());
    }
  } catch (_) {}
}
