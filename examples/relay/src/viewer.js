// The local trace viewer (served with a CSP that allows no inline script or style).
// Nothing here recurses over the trace: a trace's depth comes from the network.
"use strict";
let main, statusEl;
let current = null; // { id, count, selected }
/** The waterfall nests rows up to this depth; deeper rows sit flat under their ancestor at this depth. */
const MAX_NEST = 64;

function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") e.className = v;
    else if (k === "style") e.style.cssText = v; // CSSOM, which the CSP allows (a style attribute it would not)
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const kid of kids) if (kid != null) e.append(kid instanceof Node ? kid : String(kid));
  return e;
}

/** Appends many children one by one (spreading 100 000 arguments into a call overflows the stack). */
function appendAll(parent, kids) {
  for (const kid of kids) parent.append(kid);
  return parent;
}

function fmtMs(ms) {
  if (!isFinite(ms)) return "?";
  if (ms === 0) return "0";
  if (ms < 1) return (ms * 1000).toFixed(0) + " µs";
  if (ms < 1000) return ms.toFixed(ms < 10 ? 2 : 1) + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(2) + " s";
  if (ms < 3600000) return (ms / 60000).toFixed(1) + " min";
  return Math.round(ms / 3600000) + " h";
}

function ago(ns) {
  const s = (Date.now() - Number(BigInt(ns) / 1000000n)) / 1000;
  if (s < 0 || !isFinite(s)) return "";
  if (s < 60) return Math.round(s) + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}

// A colour per service, in the order services are first seen (distinct for the first ten).
const PALETTE = ["#2f7d4f", "#3b6fb6", "#9a4fb0", "#c07a1c", "#1f8a8a", "#b5476d", "#6a7d2f", "#5b5fc7", "#8a5a3c", "#4a8fb8"];
const colours = new Map();
function hue(service) {
  if (!colours.has(service)) colours.set(service, PALETTE[colours.size % PALETTE.length]);
  return colours.get(service);
}

function svc(name) {
  return el("span", { class: "svc", style: `background:${hue(name)}` }, name);
}

/** A value as text; control characters other than newline and tab shown as \uXXXX. */
function show(value) {
  if (value === null) return "(empty)";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

async function getJson(url) {
  const res = await fetch(url, { cache: "no-store" });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

async function renderList() {
  const { traces } = await getJson("/api/traces");
  statusEl.textContent = `${traces.length} trace${traces.length === 1 ? "" : "s"} · refreshes every 2 s`;
  if (!traces.length) {
    main.replaceChildren(el("div", { class: "empty" }, "No traces yet. Point the SDK at ",
      el("code", {}, `${location.origin}/v1/traces`), "."));
    return;
  }
  const rows = traces.map((t) => el("tr", { "data-trace-id": t.traceId, onclick: () => { location.hash = "#trace/" + t.traceId; } },
    el("td", {}, t.rootName || "(no name)"),
    el("td", {}, svc(t.service || "unknown")),
    el("td", { class: "num" }, t.spanCount),
    el("td", { class: "num" }, fmtMs(t.durationMs)),
    el("td", { class: "num" + (t.errorCount ? " err" : "") }, t.errorCount || ""),
    el("td", {}, ago(t.startTimeUnixNano)),
    el("td", {}, el("code", {}, t.traceId.slice(0, 16)))));
  main.replaceChildren(el("table", { class: "traces", id: "traces" },
    el("thead", {}, el("tr", {}, el("th", {}, "Root span"), el("th", {}, "Service"), el("th", { class: "num" }, "Spans"),
      el("th", { class: "num" }, "Duration"), el("th", { class: "num" }, "Errors"), el("th", {}, "Started"), el("th", {}, "Trace id"))),
    appendAll(el("tbody", {}), rows)));
}

/**
 * The waterfall's rows in depth-first order, children by start time: first the spans without a
 * parent, then those whose parent never arrived, then spans in a parent cycle. Each row has its
 * depth and child count. An explicit stack, not recursion.
 */
function flatten(spans) {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const kids = new Map();
  const roots = [];
  for (const s of spans) {
    if (s.parentSpanId && byId.has(s.parentSpanId) && s.parentSpanId !== s.spanId) {
      if (!kids.has(s.parentSpanId)) kids.set(s.parentSpanId, []);
      kids.get(s.parentSpanId).push(s);
    } else roots.push(s);
  }
  // Spans without a parent first, then those whose parent never arrived (each by start time).
  roots.sort((a, b) => (a.parentSpanId ? 1 : 0) - (b.parentSpanId ? 1 : 0));
  const seen = new Set();
  const rows = [];
  const visit = (first) => {
    const stack = [[first, 0]];
    while (stack.length) {
      const [s, depth] = stack.pop();
      if (seen.has(s.spanId)) continue;
      seen.add(s.spanId);
      const children = kids.get(s.spanId) || [];
      rows.push({ span: s, depth, childCount: children.length });
      for (let i = children.length - 1; i >= 0; i--) stack.push([children[i], depth + 1]);
    }
  };
  for (const s of roots) visit(s);
  for (const s of spans) visit(s);
  return rows;
}

/**
 * Log records by the span they belong to (in the order given, i.e. by time); records without a
 * span id, or whose span is not in the trace, under "" (the trace's own).
 */
function logsBySpan(logs, spans) {
  const ids = new Set(spans.map((s) => s.spanId));
  const out = new Map();
  for (const r of logs) {
    const key = r.spanId && ids.has(r.spanId) ? r.spanId : "";
    if (!out.has(key)) out.set(key, []);
    out.get(key).push(r);
  }
  return out;
}

function severityClass(r) {
  return r.severityNumber >= 17 ? "error" : r.severityNumber >= 13 ? "warn" : "";
}

/** A list of log records: time in the trace, severity, body. */
function logList(records, ms, depth) {
  return appendAll(el("ul", { class: "logs", style: `--depth:${Math.min(depth, MAX_NEST)}` }), records.map((r) =>
    el("li", { class: "log " + severityClass(r), "data-severity": r.severity },
      el("span", { class: "t" }, fmtMs(ms(r.timeUnixNano))),
      el("span", { class: "sev" }, r.severity),
      el("span", { class: "body" }, show(r.body)))));
}

/** `file:line:col` of a parsed frame. */
function where(f) {
  return f.filename + (f.lineno !== undefined ? `:${f.lineno}` + (f.colno !== undefined ? `:${f.colno}` : "") : "");
}

/** Exceptions under their span's row: type, message and the newest frame. */
function exceptionList(items, ms, depth) {
  return appendAll(el("ul", { class: "exceptions", style: `--depth:${Math.min(depth, MAX_NEST)}` }), items.map((x) =>
    el("li", { class: "exception" },
      el("span", { class: "t" }, fmtMs(ms(x.timeUnixNano))),
      el("span", { class: "sev" }, "✖ " + (x.type || "Error")),
      el("span", { class: "body" }, x.message, x.frames[0] ? el("span", { class: "at" }, ` at ${x.frames[0].method || "?"} (${where(x.frames[0])})`) : null))));
}

async function renderTrace(id) {
  let data;
  try {
    data = await getJson("/api/traces/" + id);
  } catch (e) {
    main.replaceChildren(el("a", { class: "back", href: "#" }, "← all traces"), el("div", { class: "empty" }, String(e.message)));
    return;
  }
  const spans = data.spans;
  const logs = data.logs || [];
  const count = spans.length + logs.length;
  if (current && current.id === id && current.count === count) return;
  const selected = current && current.id === id ? current.selected : null;
  current = { id, count, selected };
  const bySpan = logsBySpan(logs, spans);
  const exceptions = data.exceptions || [];
  const exBySpan = new Map();
  for (const x of exceptions) {
    if (!exBySpan.has(x.spanId)) exBySpan.set(x.spanId, []);
    exBySpan.get(x.spanId).push(x);
  }
  // The extent leaves out spans without a start time (0 is "unknown" in OTLP).
  const timed = spans.some((s) => s.startTimeUnixNano !== "0") ? spans.filter((s) => s.startTimeUnixNano !== "0") : spans;
  const start = timed.reduce((m, s) => (BigInt(s.startTimeUnixNano) < m ? BigInt(s.startTimeUnixNano) : m), BigInt(timed[0].startTimeUnixNano));
  const end = timed.reduce((m, s) => (BigInt(s.endTimeUnixNano) > m ? BigInt(s.endTimeUnixNano) : m), start);
  const extent = Number(end - start) / 1e6; // the trace's duration (ms)
  const total = Math.max(extent, 1e-6); // the scale of the bars: never 0
  const ms = (ns) => Number(BigInt(ns) - start) / 1e6;
  const rows = flatten(spans);
  const root = rows[0] ? rows[0].span : spans[0];
  const errors = spans.filter((s) => s.status === "error").length;
  statusEl.textContent = `trace ${id}`;

  const details = el("aside", { class: "details", id: "details" }, el("div", { class: "empty" }, "Click a span to see its attributes and events."));
  const select = (s, row) => {
    for (const r of main.querySelectorAll(".row.selected")) r.classList.remove("selected");
    row.classList.add("selected");
    current.selected = s.spanId;
    details.replaceChildren(...spanDetails(s, ms, bySpan.get(s.spanId) || [], exBySpan.get(s.spanId) || []));
  };
  const node = (s, depth, childCount) => {
    const clamp = (v, hi) => Math.min(Math.max(v, 0), hi);
    const left = clamp((ms(s.startTimeUnixNano) / total) * 100, 100);
    const width = clamp((Math.max(Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)), 0) / 1e6 / total) * 100, 100 - left);
    const li = el("li", { class: "span", "data-span-id": s.spanId, "data-parent-span-id": s.parentSpanId || "" });
    const nests = childCount > 0 && depth < MAX_NEST;
    const caret = el("span", { class: "caret" }, nests ? "▾" : "");
    caret.addEventListener("click", (ev) => { ev.stopPropagation(); li.classList.toggle("collapsed"); caret.textContent = li.classList.contains("collapsed") ? "▸" : "▾"; });
    const row = el("div", { class: "row", style: `--depth:${Math.min(depth, MAX_NEST)}`, title: s.name },
      el("span", { class: "name" }, caret, depth > MAX_NEST ? el("span", { class: "deep" }, `[${depth}] `) : null,
        el("span", { class: "span-name" }, show(s.name) || "(no name)"), rating(s),
        s.service !== root.service ? svc(s.service) : null),
      el("span", { class: "track" },
        el("span", { class: "bar" + (s.status === "error" ? " error" : ""), style: `left:${left}%;width:${width}%;background-color:${s.status === "error" ? "" : hue(s.service)}` }),
        el("span", { class: "dur", style: `left:${Math.min(left + width, 100)}%` }, fmtMs(Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1e6))));
    row.addEventListener("click", () => select(s, row));
    li.append(row);
    if (exBySpan.has(s.spanId)) li.append(exceptionList(exBySpan.get(s.spanId), ms, depth));
    if (bySpan.has(s.spanId)) li.append(logList(bySpan.get(s.spanId), ms, depth));
    return { li, nests };
  };
  // Each row goes into the list of its parent; lists[d] is where rows of depth d go. Past
  // MAX_NEST, rows stay in the list at that depth (the DOM and the page stay shallow).
  const tree = el("ul", { class: "tree" });
  const lists = [tree];
  for (const { span, depth, childCount } of rows) {
    const { li, nests } = node(span, depth, childCount);
    lists[Math.min(depth, MAX_NEST)].append(li);
    if (nests) {
      const ul = el("ul", { class: "children" });
      li.append(ul);
      lists[depth + 1] = ul;
    }
  }
  // A zero-length trace labels only its start ("0"); its other ticks would all read "0 µs".
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => el("span", { class: "tick", style: `left:${f * 100}%` }, extent > 0 || f === 0 ? fmtMs(extent * f) : ""));
  const waterfall = el("div", { class: "waterfall", id: "waterfall" },
    el("div", { class: "axis" }, el("span", { class: "label" }, "Span"), el("span", { class: "ticks" }, ...ticks)),
    tree);
  main.replaceChildren(
    el("div", { class: "trace-head" }, el("a", { class: "back", href: "#" }, "← all traces"),
      el("h2", {}, root.name || "(no name)"), svc(root.service),
      el("span", { class: "meta" }, `${spans.length} spans${logs.length ? ` · ${logs.length} log${logs.length > 1 ? "s" : ""}` : ""}${exceptions.length ? ` · ${exceptions.length} exception${exceptions.length > 1 ? "s" : ""}` : ""} · ${fmtMs(extent)}${errors ? ` · ${errors} error${errors > 1 ? "s" : ""}` : ""} · ${id}`)),
    el("div", { class: "layout" }, waterfall, details),
    ...(bySpan.has("") ? [el("div", { class: "trace-logs", id: "trace-logs" }, el("h4", {}, "Logs of the trace, not of a span in it"), logList(bySpan.get(""), ms, 0))] : []));
  const again = selected && main.querySelector(`li[data-span-id="${selected}"] > .row`);
  if (again) again.click();
}

/** A Web Vital's rating (`lcp.rating`, …: "good", "needs-improvement", "poor") as a badge. */
function rating(s) {
  const r = s.attributes.find((a) => a.key.endsWith(".rating") && ["good", "needs-improvement", "poor"].includes(a.value));
  return r ? el("span", { class: "rating " + r.value, title: r.key }, r.value.replace("-", " ")) : null;
}

function attrTable(attrs) {
  if (!attrs || !attrs.length) return el("div", { class: "meta" }, "none");
  return el("table", { class: "attrs" }, el("tbody", {}, ...attrs.map((a) =>
    el("tr", { "data-key": a.key }, el("td", { class: "k" }, a.key), el("td", { class: "v" }, show(a.value))))));
}

function spanDetails(s, ms, records, exceptions) {
  const dur = Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1e6;
  const skew = s.attributes.find((a) => a.key === "canopy.clock_skew_ms");
  const out = [
    el("h3", { id: "detail-name" }, show(s.name) || "(no name)"),
    el("div", {}, el("span", { class: "badge" }, s.kind), el("span", { class: "badge" + (s.status === "error" ? " error" : "") }, s.status),
      el("span", { class: "badge" }, fmtMs(dur)), el("span", { class: "badge" }, "at " + fmtMs(ms(s.startTimeUnixNano))),
      skew ? el("span", { class: "badge" }, `clock corrected ${skew.value} ms`) : null, rating(s)),
  ];
  if (s.statusMessage) out.push(el("div", { class: "err" }, s.statusMessage));
  out.push(el("h4", {}, "Attributes"), el("div", { id: "detail-attributes" }, attrTable(s.attributes)));
  out.push(el("h4", {}, `Events (${s.events.length})`));
  for (const e of s.events) out.push(el("div", { class: "event" }, el("div", {}, e.name, " ", el("span", { class: "t" }, "at " + fmtMs(ms(e.timeUnixNano)))), attrTable(e.attributes)));
  if (exceptions.length) {
    out.push(el("h4", {}, `Exceptions (${exceptions.length})`));
    for (const x of exceptions) {
      out.push(el("div", { class: "event exception" }, el("div", {}, el("span", { class: "badge error" }, x.type || "Error"), " ", x.message, " ",
        el("span", { class: "t" }, "at " + fmtMs(ms(x.timeUnixNano)))),
        x.frames.length ? el("table", { class: "attrs frames" }, el("tbody", {}, ...x.frames.map((f) =>
          el("tr", {}, el("td", { class: "k" }, f.method || "?"), el("td", { class: "v" }, where(f)))))) : null));
    }
  }
  if (records.length) {
    out.push(el("h4", {}, `Logs (${records.length})`));
    for (const r of records) out.push(el("div", { class: "event" }, el("div", {}, el("span", { class: "badge " + severityClass(r) }, r.severity), " ", show(r.body), " ",
      el("span", { class: "t" }, "at " + fmtMs(ms(r.timeUnixNano)))), attrTable(r.attributes)));
  }
  if (s.links.length) {
    out.push(el("h4", {}, "Links"));
    for (const l of s.links) out.push(el("div", {}, el("code", {}, `${l.traceId} / ${l.spanId}`)));
  }
  out.push(el("h4", {}, "Ids"), attrTable([{ key: "trace", value: s.traceId }, { key: "span", value: s.spanId }, { key: "parent", value: s.parentSpanId || "(root)" }, { key: "scope", value: s.scope }]));
  out.push(el("h4", {}, `Resource · ${s.service}`), attrTable(s.resource));
  return out;
}

async function route() {
  const m = location.hash.match(/^#trace\/([0-9a-f]{32})$/);
  try {
    if (m) await renderTrace(m[1]);
    else { current = null; await renderList(); }
    document.body.dataset.ready = "1";
  } catch (e) {
    statusEl.textContent = "relay unreachable: " + e.message;
  }
}

function start() {
  main = document.getElementById("main");
  statusEl = document.getElementById("status");
  window.addEventListener("hashchange", () => { current = null; route(); });
  route();
  setInterval(route, 2000);
}

if (typeof document !== "undefined") start();
else if (typeof module !== "undefined") module.exports = { flatten, logsBySpan, MAX_NEST }; // for the relay's tests (Node)
