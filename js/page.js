// What the page says about itself, read for Rust (src/web/document.rs), which decides what
// to do with it.

/** `url` resolved against the document's base URL by the browser's own URL parser; undefined
 *  when the parser rejects it. */
export function resolveUrl(url) {
  try {
    const g = globalThis;
    const base = (g.document && g.document.baseURI) || (g.location && g.location.href) || undefined;
    return new URL(url, base).href;
  } catch (_) {
    return undefined;
  }
}

/** When the document's load event started (a performance.now() time), or undefined. */
export function loadEventTime() {
  try {
    const nav = globalThis.performance.getEntriesByType("navigation")[0];
    return nav && nav.loadEventStart > 0 ? nav.loadEventStart : undefined;
  } catch (_) {
    return undefined;
  }
}

/** `<meta name="…">`'s content, or undefined. */
export function meta(name) {
  try {
    const el = globalThis.document && globalThis.document.querySelector(`meta[name="${name}"]`);
    return el && typeof el.content === "string" ? el.content : undefined;
  } catch (_) {
    return undefined;
  }
}

/** The document response's `Server-Timing: traceparent;desc="…"` (from the navigation
 *  entry's serverTiming), or undefined. */
export function serverTraceparent() {
  try {
    const t = globalThis.performance.getEntriesByType("navigation")[0].serverTiming.find((e) => e.name === "traceparent");
    return t ? t.description : undefined;
  } catch (_) {
    return undefined;
  }
}

/** True once the document has loaded (or where there is no document, in a worker). */
export function documentComplete() {
  const d = globalThis.document;
  return !d || d.readyState === "complete";
}

/** `[userAgent, language, brands ("name version")[], platform, mobile]` from `navigator` and
 *  its User-Agent Client Hints (`userAgentData`, Chromium only); each undefined where missing. */
export function browserFacts() {
  const n = globalThis.navigator;
  const str = (v) => (typeof v === "string" ? v : undefined);
  const out = [n && str(n.userAgent), n && str(n.language)];
  try {
    const d = n && n.userAgentData;
    if (d) out.push(d.brands.map((b) => `${b.brand} ${b.version}`), str(d.platform), typeof d.mobile === "boolean" ? d.mobile : undefined);
  } catch (_) {}
  return out;
}

/** sessionStorage, which can be missing or throw (privacy modes, quota). */
export function sessionGet(key) {
  try {
    const v = globalThis.sessionStorage.getItem(key);
    return typeof v === "string" ? v : undefined;
  } catch (_) {
    return undefined;
  }
}

export function sessionSet(key, value) {
  try {
    globalThis.sessionStorage.setItem(key, value);
  } catch (_) {}
}

/** Calls `cb` once at the window's `load` event (never where there is no window). */
export function onLoad(cb) {
  try {
    if (typeof globalThis.addEventListener === "function") globalThis.addEventListener("load", () => cb(), { once: true });
  } catch (_) {}
}
