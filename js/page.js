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
