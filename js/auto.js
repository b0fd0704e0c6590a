// What a page records without code, the listening half (src/web/auto.rs decides what each
// becomes): route changes and user interactions. Every callback into Rust is guarded, so
// nothing here can break the page's own handlers or navigation.

const HISTORY_STATE = Symbol.for("canopy.history");

/** Elements an interaction is named after: the closest of these around the event's target. */
const CONTROLS = "a,button,input,select,textarea,summary,label,[role=button],[role=link],[role=menuitem],[role=tab],[contenteditable]";

/** Calls `cb(trigger, href, path, hash)` after each `pushState`/`replaceState` and at each
 *  `popstate`/`hashchange`. Returns a function that stops (the history wrappers then pass
 *  straight through: another library may have wrapped them after us). */
export function listenRoutes(cb) {
  const g = globalThis;
  const h = g.history;
  const state = { cb };
  const call = (trigger) => {
    try {
      const l = g.location;
      if (state.cb) state.cb(trigger, l.href, l.pathname, l.hash);
    } catch (_) {}
  };
  const wrap = (name) => {
    const original = h && h[name];
    if (typeof original !== "function") return;
    if (original[HISTORY_STATE]) {
      original[HISTORY_STATE].cb = cb; // a second init: reuse the wrapper
      return;
    }
    const wrapper = {
      [name]() {
        const r = original.apply(this, arguments);
        call(name);
        return r;
      },
    }[name];
    Object.defineProperty(wrapper, HISTORY_STATE, { value: state });
    try {
      h[name] = wrapper;
    } catch (_) {}
  };
  wrap("pushState");
  wrap("replaceState");
  const onPop = (e) => call(e.type);
  g.addEventListener("popstate", onPop);
  g.addEventListener("hashchange", onPop);
  return () => {
    for (const name of ["pushState", "replaceState"]) {
      const s = h && h[name] && h[name][HISTORY_STATE];
      if (s) s.cb = null;
    }
    state.cb = null;
    g.removeEventListener("popstate", onPop);
    g.removeEventListener("hashchange", onPop);
  };
}

/** For each event type: a capture listener on window, the first to run, that calls
 *  `begin(event, type, tagName, id, anchor, follows)` for a trusted event (a key press only for
 *  Enter or Escape on a control), and a bubbling one, the last, that calls `end(event)`. Returns
 *  a function that removes them.
 *
 *  `anchor` and `follows` are the facts that tie one event of an action to the one before it
 *  (Rust decides, src/web/auto.rs): a click's anchor is its control, an Enter key press's the
 *  form it submits; a submit follows its submitter (its form when there is none), and a click
 *  the browser made from the keyboard (`detail` 0) follows its control's form. */
export function listenInteractions(types, begin, end) {
  const g = globalThis;
  const onCapture = (e) => {
    try {
      if (!e.isTrusted) return;
      const key = e.type === "keydown";
      if (key && e.key !== "Enter" && e.key !== "Escape") return;
      let el = e.target;
      if (el && typeof el.closest === "function") el = el.closest(CONTROLS) || (key ? null : el);
      if (!el || !el.tagName) return;
      let anchor, follows;
      if (e.type === "click") {
        anchor = el;
        if (e.detail === 0) follows = el.form;
      } else if (key) {
        if (e.key === "Enter") anchor = el.form;
      } else if (e.type === "submit") {
        follows = e.submitter || e.target;
      }
      begin(e, e.type, el.tagName, el.id || undefined, anchor || undefined, follows || undefined);
    } catch (_) {}
  };
  const onBubble = (e) => {
    try {
      end(e);
    } catch (_) {}
  };
  for (const t of types) {
    g.addEventListener(t, onCapture, true);
    g.addEventListener(t, onBubble);
  }
  return () => {
    for (const t of types) {
      g.removeEventListener(t, onCapture, true);
      g.removeEventListener(t, onBubble);
    }
  };
}

/** True once `event`'s dispatch is over (every listener has run). */
export function dispatched(event) {
  return event.eventPhase === 0;
}

/** `[location.href, location.pathname]` (empty where there is no location). */
export function currentUrl() {
  try {
    const l = globalThis.location;
    return [l.href, l.pathname];
  } catch (_) {
    return [];
  }
}

/** The navigation entry, then each resource entry, as `[url, encodedBodySize, ...marks]` with
 *  the marks named by `names` (0 where an entry has none); empty without Navigation Timing. */
export function timings(names) {
  try {
    const p = globalThis.performance;
    const row = (e) => [e.name, e.encodedBodySize || 0, ...names.map((n) => e[n] || 0)];
    const nav = p.getEntriesByType("navigation")[0];
    return nav ? [row(nav), ...p.getEntriesByType("resource").map(row)] : [];
  } catch (_) {
    return [];
  }
}

/** Calls `cb(type, startTime, duration, blockingDuration, longestScript)` for each long animation
 *  frame (`long-animation-frame`; `longtask` where that is missing), those before this call
 *  first, synchronously. `longestScript`: `[invoker, invokerType, sourceURL, sourceFunctionName, duration]` or
 *  empty. Returns a function that stops, or undefined where neither entry type exists. */
export function observeLongFrames(cb) {
  try {
    const types = PerformanceObserver.supportedEntryTypes || [];
    const type = ["long-animation-frame", "longtask"].find((t) => types.includes(t));
    if (!type) return undefined;
    const handle = (entries) => {
      for (const e of entries) {
        try {
          let top;
          for (const x of e.scripts || []) if (!top || x.duration > top.duration) top = x;
          const script = top ? [top.invoker, top.invokerType, top.sourceURL, top.sourceFunctionName, top.duration] : [];
          cb(type, e.startTime, e.duration, e.blockingDuration || 0, script);
        } catch (_) {}
      }
    };
    const o = new PerformanceObserver((list) => handle(list.getEntries()));
    o.observe({ type, buffered: true });
    // The frames from before this call now, not in a later task: the page load (recorded in a
    // task of its own) finds those that delayed it.
    handle(o.takeRecords());
    return () => o.disconnect();
  } catch (_) {
    return undefined;
  }
}
