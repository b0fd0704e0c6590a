// What only JavaScript can read: a thrown value's parts. Recording them (the `exception` event,
// the error status) is Rust's (Span::record_exception / record_failure).

/** `[type, message, stack]` of an Error (type: its name, else its constructor's, else a
 *  string `code`), of a string (the message), or of anything else (its string form). */
export function errorParts(e) {
  if (typeof e === "string") return [undefined, e, undefined];
  if (e !== null && (typeof e === "object" || typeof e === "function")) {
    let type, message, stack;
    try {
      type = typeof e.name === "string" ? e.name : e.constructor && typeof e.constructor.name === "string" ? e.constructor.name : undefined;
      if (type === undefined && typeof e.code === "string") type = e.code;
      if (typeof e.message === "string") message = e.message;
      if (typeof e.stack === "string") stack = e.stack;
    } catch (_) {}
    return [type, message, stack];
  }
  let text;
  try { text = String(e); } catch (_) { text = "unknown error"; }
  return [undefined, text, undefined];
}

/** Errors already recorded on a span (by a startActiveSpan callback's failure, recordException or
 *  <TraceErrorBoundary>), so the page's uncaught-error listener does not record them twice. One
 *  registry per page, shared by every copy of this module. */
function recorded() {
  const key = Symbol.for("canopy.recordedErrors");
  let set = globalThis[key];
  if (!set) {
    set = new WeakSet();
    try { Object.defineProperty(globalThis, key, { value: set }); } catch (_) { return set; }
  }
  return set;
}

/** True when `e` was recorded on a span already. */
export function wasRecorded(e) {
  try {
    return e !== null && (typeof e === "object" || typeof e === "function") && recorded().has(e);
  } catch (_) {
    return false;
  }
}

/** Marks `e` as recorded (objects only: a string cannot be told apart from another). */
export function markRecorded(e) {
  try {
    if (e !== null && (typeof e === "object" || typeof e === "function")) recorded().add(e);
  } catch (_) {}
}

/** Calls `onError([type, message, stack, unhandledRejection, pageUrl])` for the page's uncaught
 *  errors and unhandled promise rejections, once per listener set-up, skipping errors already
 *  recorded. Returns a function that stops it. */
export function listenErrors(onError) {
  const g = globalThis;
  if (typeof g.addEventListener !== "function") return () => {};
  const report = (value, rejection) => {
    try {
      if (wasRecorded(value)) return;
      markRecorded(value);
      const [type, message, stack] = errorParts(value);
      // The page's address without its query and fragment (they can hold tokens).
      let page;
      try { page = g.location ? g.location.origin + g.location.pathname : undefined; } catch (_) {}
      onError([type, message, stack, rejection, page]);
    } catch (_) {}
  };
  // A script error has its Error in `error`; a cross-origin one only a message.
  const onErr = (e) => report(e && e.error !== undefined && e.error !== null ? e.error : e && e.message, false);
  const onRej = (e) => report(e ? e.reason : undefined, true);
  g.addEventListener("error", onErr);
  g.addEventListener("unhandledrejection", onRej);
  return () => {
    g.removeEventListener("error", onErr);
    g.removeEventListener("unhandledrejection", onRej);
  };
}
