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
