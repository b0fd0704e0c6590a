// The request cases of the differential test (tests/e2e/differential.test.mjs). Every case runs
// in the page and returns a plain, JSON-able description of what the PAGE can observe: status,
// statusText, visible headers, a hash of the body bytes, url/redirected/type/ok, and for failures
// the error's name, constructor and message. The test runs the list once without Canopy and once
// with Canopy instrumenting fetch and XHR, and requires identical descriptions.
//
// Nothing here may depend on time or randomness (no timings in results; consecutive progress
// events are collapsed), or the two runs would differ without Canopy's help.
//
// env: { same, cors, nocors, refused } — origins of the page's own server, a CORS server (listed
// in propagateTraceHeaderCorsUrls in the Canopy run), a server without CORS, and a closed port.

export const CALLER_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
export const CALLER_TRACESTATE = "caller=1";

const fetchCases = [];
const xhrCases = [];
const F = (name, run) => fetchCases.push({ name, kind: "fetch", run });
const X = (name, run) => xhrCases.push({ name, kind: "xhr", run });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const enc = new TextEncoder();
const dec = new TextDecoder();

async function sha(data) {
  const buf = typeof data === "string" ? enc.encode(data) : data;
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  return Array.from(d.slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function describeError(e) {
  if (e === null || (typeof e !== "object" && typeof e !== "function")) return { thrown: String(e), typeOf: typeof e };
  return {
    name: e.name,
    ctor: e.constructor && e.constructor.name,
    message: e.message,
    isTypeError: e instanceof TypeError,
    isDOMException: e instanceof DOMException,
    code: e instanceof DOMException ? e.code : undefined,
  };
}

/** What the page can see of a Response; `read`: "bytes" (default), "none". */
async function describeResponse(res, read = "bytes") {
  const out = {
    isResponse: res instanceof Response,
    protoIsResponse: Object.getPrototypeOf(res) === Response.prototype,
    status: res.status,
    statusText: res.statusText,
    ok: res.ok,
    type: res.type,
    url: res.url,
    redirected: res.redirected,
    headers: [...res.headers].sort(),
    bodyIsNull: res.body === null,
    bodyUsedBefore: res.bodyUsed,
  };
  if (read === "bytes") {
    const b = await res.arrayBuffer();
    out.bodyLength = b.byteLength;
    out.bodySha = await sha(b);
    if (b.byteLength < 8192 && /json/.test(res.headers.get("content-type") || "")) {
      try { out.json = JSON.parse(dec.decode(b)); } catch { out.json = "unparsable"; }
    }
    out.bodyUsedAfter = res.bodyUsed;
  }
  return out;
}

/** fetch(...args) described: a synchronous throw, a rejection, or the response. */
async function go(args, read) {
  let p;
  try {
    p = fetch(...args);
  } catch (e) {
    return { threwSync: describeError(e) };
  }
  const promise = { isPromise: p instanceof Promise, protoIsPromise: Object.getPrototypeOf(p) === Promise.prototype };
  try {
    const r = await p;
    return { promise, response: await describeResponse(r, read) };
  } catch (e) {
    return { promise, error: describeError(e) };
  }
}

const echo = (origin, tag) => `${origin}/echo?case=${encodeURIComponent(tag)}`;

// ---------------------------------------------------------------------------------------------
// fetch
// ---------------------------------------------------------------------------------------------

F("string input, same-origin GET", (e) => go([echo(e.same, "string")]));
F("relative string input", () => go(["/echo?case=relative"]));
F("URL object input", (e) => go([new URL("/echo?case=url-object", e.same)]));
F("Request input, GET with headers", async (e) => {
  const req = new Request(echo(e.same, "request-get"), { headers: { "x-req": "1" } });
  const r = await go([req]);
  return { r, reqHeadersAfter: [...req.headers], bodyUsed: req.bodyUsed };
});
F("Request input, POST with a body", async (e) => {
  const req = new Request(echo(e.same, "request-post"), { method: "POST", body: "request body", headers: { "content-type": "text/plain" } });
  const r = await go([req]);
  return { r, reqHeadersAfter: [...req.headers], bodyUsed: req.bodyUsed, method: req.method };
});
F("Request input plus an init that overrides method, body and headers", async (e) => {
  const req = new Request(echo(e.same, "request-init"), { method: "POST", body: "original", headers: { "x-req": "1" } });
  const init = { method: "PUT", body: "override", headers: { "x-init": "2" } };
  const r = await go([req, init]);
  return { r, reqHeadersAfter: [...req.headers], reqBodyUsed: req.bodyUsed, initAfter: JSON.stringify(init) };
});
F("Request whose body was already used is rejected the second time", async (e) => {
  const req = new Request(echo(e.same, "request-reuse"), { method: "POST", body: "once" });
  const first = await go([req]);
  const second = await go([req]);
  return { first, second, bodyUsed: req.bodyUsed };
});
F("Request input to the allowed CORS origin, headers unchanged", async (e) => {
  const req = new Request(echo(e.cors, "request-cors"), { headers: { "x-req": "1" } });
  const r = await go([req]);
  return { r, reqHeadersAfter: [...req.headers] };
});
F("POST JSON", (e) => go([echo(e.same, "post-json"), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ a: 1, b: [true, null] }) }]));
F("PUT text", (e) => go([echo(e.same, "put-text"), { method: "PUT", body: "plain text body ✓" }]));
F("DELETE", (e) => go([echo(e.same, "delete"), { method: "DELETE" }]));
F("PATCH", (e) => go([echo(e.same, "patch"), { method: "PATCH", body: "p" }]));
F("lowercase methods: post is normalised, patch is not", async (e) => ({
  post: await go([echo(e.same, "lower-post"), { method: "post", body: "x" }]),
  patch: await go([echo(e.same, "lower-patch"), { method: "patch", body: "x" }]),
}));
F("HEAD", (e) => go([echo(e.same, "head"), { method: "HEAD" }]));
F("Blob body with a type", (e) => go([echo(e.same, "blob-body"), { method: "POST", body: new Blob(["blob ", "parts"], { type: "application/x-test" }) }]));
F("FormData body with a field and a file", (e) => {
  const fd = new FormData();
  fd.append("field", "value");
  fd.append("file", new Blob(["file content"], { type: "text/plain" }), "a.txt");
  return go([echo(e.same, "formdata"), { method: "POST", body: fd }]);
});
F("URLSearchParams body", (e) => go([echo(e.same, "urlsearchparams"), { method: "POST", body: new URLSearchParams({ a: "1", b: "two words" }) }]));
F("ArrayBuffer body", (e) => go([echo(e.same, "arraybuffer"), { method: "POST", body: new Uint8Array([0, 1, 2, 253, 254, 255]).buffer }]));
F("Uint8Array view with an offset as body", (e) => {
  const big = new Uint8Array(64).map((_, i) => i);
  return go([echo(e.same, "typed-view"), { method: "POST", body: big.subarray(10, 20) }]);
});
F("large upload body (2 MB)", (e) => {
  const b = new Uint8Array(2 * 1024 * 1024).map((_, i) => (i * 7) & 255);
  return go([echo(e.same, "large-upload"), { method: "POST", body: b }]);
});
F("ReadableStream body with duplex: half", (e) => {
  const body = new ReadableStream({
    start(c) { c.enqueue(enc.encode("stream ")); c.enqueue(enc.encode("body")); c.close(); },
  });
  return go([echo(e.same, "stream-body"), { method: "POST", body, duplex: "half" }]);
});
F("ReadableStream body without duplex is rejected", (e) => {
  const body = new ReadableStream({ start(c) { c.enqueue(enc.encode("x")); c.close(); } });
  return go([echo(e.same, "stream-no-duplex"), { method: "POST", body }]);
});
F("GET with a body is rejected", (e) => go([echo(e.same, "get-body"), { method: "GET", body: "x" }]));
F("forbidden method CONNECT is rejected", (e) => go([echo(e.same, "connect"), { method: "CONNECT" }]));
F("only-if-cached outside same-origin mode is rejected", (e) => go([echo(e.same, "only-if-cached"), { cache: "only-if-cached", mode: "cors" }]));
F("init headers as a Headers object, reused for two requests and unchanged", async (e) => {
  const h = new Headers({ "x-a": "1", "content-type": "text/plain" });
  const before = [...h];
  const init = { method: "POST", body: "hdrs", headers: h };
  const same = await go([echo(e.same, "headers-object"), init]);
  const cors = await go([echo(e.cors, "headers-object-cors"), init]);
  const nocors = await go([echo(e.nocors, "headers-object-nocors"), init]);
  return { same, cors, nocors, before, after: [...h], initKeepsObject: init.headers === h, initKeys: Object.keys(init) };
});
F("init headers as an array of pairs (duplicate names), unchanged", async (e) => {
  const headers = [["x-a", "1"], ["x-b", "2"], ["x-a", "3"]];
  const before = JSON.stringify(headers);
  const r = await go([echo(e.same, "headers-array"), { headers }]);
  return { r, unchanged: JSON.stringify(headers) === before, after: JSON.stringify(headers) };
});
F("init headers as a frozen plain object in a frozen init", async (e) => {
  const init = Object.freeze({ headers: Object.freeze({ "x-a": "1", "X-Mixed-Case": "v" }) });
  const r = await go([echo(e.same, "headers-plain"), init]);
  return { r, after: JSON.stringify(init) };
});
F("caller-set traceparent/tracestate (plain object), same-origin", async (e) => {
  const init = { headers: { traceparent: CALLER_TRACEPARENT, tracestate: CALLER_TRACESTATE } };
  const r = await go([echo(e.same, "caller-tp-fetch"), init]);
  return { r, after: JSON.stringify(init) };
});
F("caller-set traceparent (Headers), allowed CORS origin", async (e) => {
  const h = new Headers({ traceparent: CALLER_TRACEPARENT });
  const r = await go([echo(e.cors, "caller-tp-fetch-cors"), { headers: h }]);
  return { r, after: [...h] };
});
F("caller-set traceparent on a Request input", async (e) => {
  const req = new Request(echo(e.same, "caller-tp-request"), { headers: { traceparent: CALLER_TRACEPARENT } });
  const r = await go([req]);
  return { r, after: [...req.headers] };
});
F("AbortController aborted before the call", (e) => {
  const c = new AbortController();
  c.abort();
  return go([`${e.same}/slow?ms=1000&case=abort-before`, { signal: c.signal }]);
});
F("AbortController aborted during the request", async (e) => {
  const c = new AbortController();
  const p = go([`${e.same}/slow?ms=3000&case=abort-during`, { signal: c.signal }]);
  await sleep(100);
  c.abort();
  return p;
});
F("abort with a custom reason rejects with that very reason", async (e) => {
  const c = new AbortController();
  const reason = new RangeError("my reason");
  const p = fetch(`${e.same}/slow?ms=3000&case=abort-reason`, { signal: c.signal });
  await sleep(50);
  c.abort(reason);
  try { await p; return { resolved: true }; } catch (err) { return { same: err === reason, err: describeError(err) }; }
});
F("abort on a Request's own signal", async (e) => {
  const c = new AbortController();
  const req = new Request(`${e.same}/slow?ms=3000&case=abort-request`, { signal: c.signal });
  const p = go([req]);
  await sleep(50);
  c.abort();
  return p;
});
F("AbortSignal.timeout", (e) => go([`${e.same}/slow?ms=3000&case=timeout`, { signal: AbortSignal.timeout(150) }]));
F("abort while reading the body", async (e) => {
  const c = new AbortController();
  const res = await fetch(`${e.same}/stream?chunks=20&ms=50&case=abort-body`, { signal: c.signal });
  const reader = res.body.getReader();
  const first = await reader.read();
  c.abort();
  try {
    for (let i = 0; i < 100; i++) { const x = await reader.read(); if (x.done) return { first: !first.done, done: true }; }
    return { first: !first.done, tooManyChunks: true };
  } catch (err) {
    return { first: !first.done, readError: describeError(err) };
  }
});
F("refused connection", (e) => go([`${e.refused}/echo?case=refused`]));
F("invalid URL", () => go(["http://[::1"]));
F("unsupported scheme", () => go(["ftp://127.0.0.1/file"]));
F("data: URL", () => go(["data:text/plain;charset=utf-8,hello%20data"]));
F("blob: URL", async () => {
  const u = URL.createObjectURL(new Blob(["blob url body"], { type: "text/x-blob" }));
  const r = await go([u]);
  URL.revokeObjectURL(u);
  if (r.response) r.response.url = r.response.url.startsWith("blob:") ? "blob:(url)" : r.response.url;
  return r;
});
F("CORS failure: server without CORS", (e) => go([echo(e.nocors, "nocors-simple")]));
F("CORS failure: preflighted request to a server without CORS", (e) => go([echo(e.nocors, "nocors-preflight"), { method: "PUT", headers: { "x-custom": "1" } }]));
F("cross-origin CORS GET (allowed origin)", (e) => go([echo(e.cors, "cors-get")]));
F("cross-origin CORS POST JSON (preflight)", (e) => go([echo(e.cors, "cors-post"), { method: "POST", headers: { "content-type": "application/json", "x-custom": "1" }, body: "{\"a\":1}" }]));
F("cross-origin CORS with credentials: include", (e) => go([echo(e.cors, "cors-credentials"), { credentials: "include" }]));
F("mode no-cors gives an opaque response", (e) => go([echo(e.nocors, "no-cors-mode"), { mode: "no-cors" }]));
F("mode same-origin to another origin is rejected", (e) => go([echo(e.cors, "same-origin-mode"), { mode: "same-origin" }]));
F("redirect followed (302, same-origin)", (e) => go([`${e.same}/redirect?code=302&to=${encodeURIComponent("/echo?case=redirected")}`]));
F("redirect 303 turns POST into GET", (e) => go([`${e.same}/redirect?code=303&to=${encodeURIComponent("/echo?case=303")}`, { method: "POST", body: "dropped" }]));
F("redirect 307 keeps POST and body", (e) => go([`${e.same}/redirect?code=307&to=${encodeURIComponent("/echo?case=307")}`, { method: "POST", body: "kept" }]));
F("redirect to the CORS origin", (e) => go([`${e.same}/redirect?code=302&to=${encodeURIComponent(echo(e.cors, "redirect-cross"))}`]));
F("redirect: manual", (e) => go([`${e.same}/redirect?code=302&to=${encodeURIComponent("/echo?case=manual")}`, { redirect: "manual" }]));
F("redirect: error", (e) => go([`${e.same}/redirect?code=302&to=${encodeURIComponent("/echo?case=error")}`, { redirect: "error" }]));
F("204 No Content", (e) => go([`${e.same}/status/204`]));
F("404 Not Found", (e) => go([`${e.same}/status/404`]));
F("500 Internal Server Error", (e) => go([`${e.same}/status/500`]));
F("503 from the CORS origin", (e) => go([`${e.cors}/status/503`]));
F("200 then 304 with If-None-Match", async (e) => ({
  first: await go([`${e.same}/etag`, { cache: "no-store" }]),
  second: await go([`${e.same}/etag`, { cache: "no-store", headers: { "if-none-match": "\"canopy-v1\"" } }]),
}));
F("response headers, same-origin (all visible)", (e) => go([`${e.same}/headers`]));
F("response headers, cross-origin (only safelisted and exposed)", (e) => go([`${e.cors}/headers`]));
F("large body (4 MB)", (e) => go([`${e.same}/large?bytes=4000000`]));
F("chunked stream read with a reader", async (e) => {
  const res = await fetch(`${e.same}/stream?chunks=8&ms=20`);
  const reader = res.body.getReader();
  const parts = [];
  for (let i = 0; i < 1000; i++) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(dec.decode(value, { stream: true }));
  }
  return { status: res.status, text: parts.join(""), locked: res.body.locked, bodyUsed: res.bodyUsed };
});
F("20 concurrent requests", async (e) => {
  const all = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    go([echo(i % 2 ? e.cors : e.same, `concurrent-${i}`), i % 3 ? undefined : { headers: { "x-i": String(i) } }].filter((x) => x !== undefined))));
  return all;
});
F("response.clone() with both copies read", async (e) => {
  const r = await fetch(`${e.same}/json`);
  const c = r.clone();
  const [a, b] = await Promise.all([r.text(), c.arrayBuffer()]);
  return { a, bLen: b.byteLength, bSha: await sha(b), same: a === dec.decode(b), usedR: r.bodyUsed, usedC: c.bodyUsed, cType: c.type, cUrl: c.url };
});
F("json(), blob() and formData()-less helpers", async (e) => {
  const j = await (await fetch(`${e.same}/json`)).json();
  const bl = await (await fetch(`${e.same}/blob`)).blob();
  const t = await (await fetch(`${e.same}/status/404`)).text();
  return { j, blob: { size: bl.size, type: bl.type, sha: await sha(await bl.arrayBuffer()) }, t };
});
F("WebAssembly.compileStreaming(fetch(\"/module.wasm\"))", async () => {
  const m = await WebAssembly.compileStreaming(fetch("/module.wasm"));
  return { exports: WebAssembly.Module.exports(m) };
});
F("WebAssembly.instantiateStreaming from the CORS origin", async (e) => {
  const { instance } = await WebAssembly.instantiateStreaming(fetch(`${e.cors}/module.wasm`));
  return { answer: instance.exports.answer() };
});
F("WebAssembly.compileStreaming of an opaque response fails", async (e) => {
  try {
    await WebAssembly.compileStreaming(fetch(`${e.nocors}/module.wasm`, { mode: "no-cors" }));
    return { compiled: true };
  } catch (err) {
    return { err: describeError(err) };
  }
});
F("/endless: reader.cancel() after the first chunk closes the connection", async (e) => {
  const res = await fetch(`${e.same}/endless?id=fetch-cancel`);
  const reader = res.body.getReader();
  const first = await reader.read();
  await reader.cancel();
  let status = null;
  for (let i = 0; i < 60; i++) {
    status = await (await fetch(`${e.same}/endless-status?id=fetch-cancel`)).json();
    if (status.closed) break;
    await sleep(50);
  }
  return { firstChunk: dec.decode(first.value).startsWith("endless 0"), serverSawClose: status.closed, locked: res.body.locked };
});
F("/endless: abort() after the first chunk closes the connection", async (e) => {
  const c = new AbortController();
  const res = await fetch(`${e.same}/endless?id=fetch-abort`, { signal: c.signal });
  const reader = res.body.getReader();
  await reader.read();
  c.abort();
  const readAfter = await reader.read().then(() => "resolved", (err) => describeError(err));
  let status = null;
  for (let i = 0; i < 60; i++) {
    status = await (await fetch(`${e.same}/endless-status?id=fetch-abort`)).json();
    if (status.closed) break;
    await sleep(50);
  }
  return { readAfter, serverSawClose: status.closed };
});
F("fetch as a bare function, window.fetch, globalThis.fetch, self.fetch", async (e) => ({
  same: fetch === window.fetch && fetch === globalThis.fetch && fetch === self.fetch,
  bare: await go([echo(e.same, "bare")]),
  viaWindow: await window.fetch(echo(e.same, "window")).then((r) => r.status),
  detached: await (0, window.fetch)(echo(e.same, "detached")).then((r) => r.status),
  callWindow: await fetch.call(window, echo(e.same, "call-window")).then((r) => r.status),
  callUndefined: await fetch.call(undefined, echo(e.same, "call-undefined")).then((r) => r.status, (err) => describeError(err)),
}));
F("fetch.call({}, url) is an illegal invocation", async (e) => {
  let p;
  try { p = fetch.call({}, echo(e.same, "illegal")); } catch (err) { return { threwSync: describeError(err) }; }
  try { await p; return { resolved: true }; } catch (err) { return { rejected: describeError(err) }; }
});
F("fetch() with no arguments", async () => {
  let p;
  try { p = fetch(); } catch (err) { return { threwSync: describeError(err) }; }
  try { await p; return { resolved: true }; } catch (err) { return { rejected: describeError(err) }; }
});
F("fetch's shape: typeof, length, name, property descriptor", () => {
  const d = Object.getOwnPropertyDescriptor(window, "fetch");
  return {
    typeOf: typeof fetch, length: fetch.length, name: fetch.name,
    writable: d && d.writable, enumerable: d && d.enumerable, configurable: d && d.configurable, isAccessor: !!(d && d.get),
  };
});
F("keepalive POST", (e) => go([echo(e.same, "keepalive"), { method: "POST", body: "beacon-ish", keepalive: true }]));
F("referrerPolicy and integrity options pass through", async (e) => ({
  noReferrer: await go([echo(e.same, "no-referrer"), { referrerPolicy: "no-referrer" }]),
  badIntegrity: await go([`${e.same}/json`, { integrity: "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" }]),
}));

// Request objects: everything a Request carries must survive the added traceparent (issue 9).
// The Referer each request arrived with is in /echo's answer, and the test checks the servers'
// own record of it (testserver `seen[].referer`) for the "req-ref-*" tags.
const reqState = (req) => ({
  referrer: req.referrer, referrerPolicy: req.referrerPolicy, bodyUsed: req.bodyUsed, method: req.method,
  headers: [...req.headers], keepalive: req.keepalive, aborted: req.signal.aborted,
});
F("Request with referrerPolicy no-referrer sends no Referer", async (e) => {
  const req = new Request(echo(e.same, "req-ref-no-referrer"), { referrerPolicy: "no-referrer", headers: { "x-req": "1" } });
  return { r: await go([req]), after: reqState(req) };
});
F("Request with referrerPolicy no-referrer to the allowed CORS origin sends no Referer", async (e) => {
  const req = new Request(echo(e.cors, "req-ref-no-referrer-cors"), { referrerPolicy: "no-referrer" });
  return { r: await go([req]), after: reqState(req) };
});
F("Request with a custom same-origin referrer sends exactly that Referer", async (e) => {
  const req = new Request(echo(e.same, "req-ref-custom"), { referrer: `${e.same}/custom/referrer?from=request` });
  return { r: await go([req]), after: reqState(req) };
});
F("Request with a custom referrer and an empty init keeps its referrer", async (e) => {
  const req = new Request(echo(e.same, "req-ref-custom-empty-init"), { referrer: `${e.same}/custom/referrer?from=empty-init` });
  return { r: await go([req, {}]), after: reqState(req) };
});
F("Request with referrer \"\" and with policies origin / unsafe-url / same-origin", async (e) => {
  const out = {};
  for (const [tag, init] of [["empty", { referrer: "" }], ["origin", { referrerPolicy: "origin" }],
    ["unsafe-url", { referrerPolicy: "unsafe-url" }], ["same-origin-cors", { referrerPolicy: "same-origin" }]]) {
    const req = new Request(echo(tag === "same-origin-cors" ? e.cors : e.same, `req-ref-${tag}`), init);
    out[tag] = { r: await go([req]), after: reqState(req) };
  }
  return out;
});
F("Request with a custom referrer plus an init with headers: the init resets the referrer", async (e) => {
  const req = new Request(echo(e.same, "req-ref-reset-by-init"), { referrer: `${e.same}/custom/referrer?from=reset`, referrerPolicy: "no-referrer" });
  return { r: await go([req, { headers: { "x-init": "1" } }]), after: reqState(req) };
});
F("Request as init: fetch(url, request) with method, headers and body", async (e) => {
  const req = new Request(echo(e.same, "not-this-url"), { method: "POST", headers: { "x-from-request-init": "1", "content-type": "text/plain" }, body: "body from a Request used as init" });
  return { r: await go([echo(e.same, "request-as-init"), req]), after: reqState(req) };
});
F("Request as init: fetch(url, request) with method PUT, headers, no-referrer, no body", async (e) => {
  const req = new Request(echo(e.same, "not-this-url"), { method: "PUT", headers: { "x-from-request-init": "2" }, referrerPolicy: "no-referrer" });
  return { r: await go([echo(e.same, "req-ref-as-init"), req]), after: reqState(req) };
});
F("Request as init to the allowed CORS origin", async (e) => {
  const req = new Request(echo(e.same, "not-this-url"), { method: "DELETE", headers: { "x-from-request-init": "3" } });
  return { r: await go([echo(e.cors, "request-as-init-cors"), req]), after: reqState(req) };
});
F("non-object inits: a number, a string, true, a symbol are rejected", async (e) => ({
  number: await go([echo(e.same, "init-number"), 5]),
  string: await go([echo(e.same, "init-string"), "x"]),
  bool: await go([echo(e.same, "init-true"), true]),
  symbol: await go([echo(e.same, "init-symbol"), Symbol("init")]),
  bigint: await go([echo(e.same, "init-bigint"), 5n]),
}));
F("init null, init undefined, and a function with members as init", async (e) => {
  const fn = Object.assign(function opts() {}, { method: "POST", body: "function init", headers: { "x-fn": "1" } });
  return {
    nul: await go([echo(e.same, "init-null"), null]),
    undef: await go([echo(e.same, "init-undefined"), undefined]),
    fn: await go([echo(e.same, "init-function"), fn]),
  };
});
F("init members inherited from a prototype or defined as class getters", async (e) => {
  class Opts { get method() { return "PUT"; } get body() { return "class getter body"; } get headers() { return { "x-class": "1" }; } }
  return {
    inherited: await go([echo(e.same, "init-inherited"), Object.create({ method: "POST", body: "inherited body", headers: { "x-proto": "1" } })]),
    klass: await go([echo(e.same, "init-class"), new Opts()]),
  };
});
F("init getters and the input's toString run exactly once each", async (e) => {
  const reads = {};
  const init = {};
  for (const [k, v] of [["method", "POST"], ["body", "counted"], ["headers", { "x-counted": "1" }], ["referrerPolicy", "origin"], ["cache", "no-store"]]) {
    Object.defineProperty(init, k, { enumerable: true, get() { reads[k] = (reads[k] || 0) + 1; return v; } });
  }
  let strings = 0;
  const input = { toString() { strings++; return echo(e.same, "counted"); } };
  const r = await go([input, init]);
  return { r, reads, strings };
});
F("Request with keepalive, and one whose body is over the 64 KiB keepalive budget", async (e) => {
  const small = new Request(echo(e.same, "req-keepalive"), { method: "POST", body: "keep me", keepalive: true });
  const big = new Request(echo(e.same, "req-keepalive-big"), { method: "POST", body: new Uint8Array(70 * 1024), keepalive: true });
  return { small: await go([small]), smallAfter: reqState(small), big: await go([big]), bigAfter: reqState(big) };
});
F("Request with an already-aborted signal rejects with its reason", async (e) => {
  const c = new AbortController();
  const reason = new RangeError("aborted before fetch");
  c.abort(reason);
  const req = new Request(echo(e.same, "req-aborted"), { signal: c.signal });
  let p;
  try { p = fetch(req); } catch (err) { return { threwSync: describeError(err) }; }
  try { await p; return { resolved: true }; } catch (err) { return { sameReason: err === reason, err: describeError(err), after: reqState(req) }; }
});
F("Request with a POST body plus an init that overrides only the headers", async (e) => {
  const req = new Request(echo(e.same, "req-init-headers"), { method: "POST", body: "request body kept", headers: { "x-req": "1" } });
  const r = await go([req, { headers: { "x-init": "2" } }]);
  return { r, after: reqState(req) };
});
F("Request with redirect manual, cache no-store, credentials omit and a bad integrity", async (e) => {
  const manual = new Request(`${e.same}/redirect?code=302&to=${encodeURIComponent("/echo?case=req-manual")}`, { redirect: "manual", cache: "no-store", credentials: "omit" });
  const integrity = new Request(`${e.same}/json`, { integrity: "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" });
  const errorRedirect = new Request(`${e.same}/redirect?code=302&to=${encodeURIComponent("/echo?case=req-error")}`, { redirect: "error" });
  return { manual: await go([manual]), integrity: await go([integrity]), errorRedirect: await go([errorRedirect]) };
});
F("Request with a ReadableStream body (duplex half)", async (e) => {
  const body = new ReadableStream({ start(c) { c.enqueue(enc.encode("request ")); c.enqueue(enc.encode("stream")); c.close(); } });
  const req = new Request(echo(e.same, "req-stream"), { method: "POST", body, duplex: "half" });
  return { r: await go([req]), after: reqState(req) };
});
F("Request with a POST body to the origin Canopy leaves alone (no CORS, not listed)", async (e) => {
  const req = new Request(echo(e.nocors, "req-body-untraced"), { method: "POST", body: "untraced body", mode: "no-cors" });
  const r = await go([req]);
  return { r, after: reqState(req) };
});
F("Request in no-cors mode to the same origin: non-safelisted headers are dropped, ours too", async (e) => {
  const req = new Request(echo(e.same, "req-no-cors-same"), { mode: "no-cors", headers: { "x-custom": "dropped", accept: "text/plain" } });
  return {
    request: await go([req]), after: reqState(req),
    init: await go([echo(e.same, "init-no-cors-same"), { mode: "no-cors", method: "POST", body: "b", headers: { "x-custom": "dropped" } }]),
  };
});
F("priority on a Request, on a Request with an init, and in an init (checked through DevTools)", async (e) => {
  const low = new Request(echo(e.same, "prio-request-low"), { priority: "low" });
  const lowWithInit = new Request(echo(e.same, "prio-request-low-init"), { priority: "low" });
  const lowCors = new Request(echo(e.cors, "prio-request-low-cors"), { priority: "low" });
  return {
    low: await go([low]),
    lowWithInit: await go([lowWithInit, { headers: { "x-init": "1" } }]),
    lowCors: await go([lowCors]),
    initLow: await go([echo(e.same, "prio-init-low"), { priority: "low" }]),
    asInit: await go([echo(e.same, "prio-request-as-init"), low]),
  };
});
F("Request with a used body, passed with an init that gives a new body", async (e) => {
  const req = new Request(echo(e.same, "req-used-new-body"), { method: "POST", body: "first" });
  await req.text();
  return { r: await go([req, { body: "replacement" }]), after: reqState(req) };
});

// ---------------------------------------------------------------------------------------------
// XMLHttpRequest
// ---------------------------------------------------------------------------------------------

// Events whose count depends on timing: keep the first occurrence only.
const REPEATING = new Set(["progress", "upload:progress", "readystatechange:3"]);

/**
 * One XHR, described. opts: method, url, async (default true; "undefined" passes undefined),
 * responseType, headers [[k, v]], body, timeout, withCredentials, mime, style ("listeners" |
 * "props" | "handleEvent"), upload (listen on xhr.upload), abortAfterMs, abortBeforeSend.
 */
function xhr(opts) {
  return new Promise((resolve) => {
    const x = new XMLHttpRequest();
    const events = [];
    const push = (s) => {
      if (REPEATING.has(s) && events.includes(s)) return;
      events.push(s);
    };
    const label = (ev, prefix = "") => {
      let s = prefix + (ev.type === "readystatechange" ? `readystatechange:${x.readyState}` : ev.type);
      // loaded/total are deterministic once a transfer completed; not for abort/error/timeout,
      // nor for a FormData upload in Firefox (its multipart boundary has a random length).
      if (ev.type === "load" || (ev.type === "loadend" && x.status !== 0)) {
        s += prefix === "upload:" && opts.body instanceof FormData
          ? `(all ${ev.loaded === ev.total && ev.total > 0}/${ev.lengthComputable})`
          : `(${ev.loaded}/${ev.total}/${ev.lengthComputable})`;
      }
      return s;
    };
    const types = ["readystatechange", "loadstart", "progress", "abort", "error", "load", "timeout", "loadend"];
    const style = opts.style || "listeners";
    for (const t of types) {
      if (style === "props") x["on" + t] = (ev) => push(label(ev));
      else if (style === "handleEvent") x.addEventListener(t, { handleEvent: (ev) => push(label(ev)) });
      else x.addEventListener(t, (ev) => push(label(ev)));
    }
    if (opts.upload) {
      for (const t of ["loadstart", "progress", "abort", "error", "load", "timeout", "loadend"]) {
        x.upload.addEventListener(t, (ev) => push(label(ev, "upload:")));
      }
    }
    let finished = false;
    const finish = async (extra = {}) => {
      if (finished) return;
      finished = true;
      clearTimeout(guard);
      resolve({ ...extra, ...(await describeXhr(x)), events });
    };
    const guard = setTimeout(() => finish({ guardTimeout: true }), 8000);
    x.addEventListener("loadend", () => { finish(); });
    try {
      if (opts.async === "undefined") x.open(opts.method || "GET", opts.url, undefined);
      else if (opts.async === undefined) x.open(opts.method || "GET", opts.url);
      else x.open(opts.method || "GET", opts.url, opts.async);
    } catch (e) {
      finish({ openError: describeError(e) });
      return;
    }
    try {
      if (opts.responseType !== undefined) x.responseType = opts.responseType;
      if (opts.timeout !== undefined) x.timeout = opts.timeout;
      if (opts.withCredentials) x.withCredentials = true;
      if (opts.mime) x.overrideMimeType(opts.mime);
      for (const [k, v] of opts.headers || []) x.setRequestHeader(k, v);
    } catch (e) {
      finish({ setupError: describeError(e) });
      return;
    }
    if (opts.abortBeforeSend) { x.abort(); finish({ abortedBeforeSend: true }); return; }
    let sendError = null;
    try {
      x.send(opts.body);
    } catch (e) {
      sendError = describeError(e);
    }
    const stateAfterSend = x.readyState;
    if (sendError) { finish({ sendError, stateAfterSend }); return; }
    if (opts.abortAfterMs !== undefined) setTimeout(() => x.abort(), opts.abortAfterMs);
    if (stateAfterSend === 4) finish({ stateAfterSend });
    else events.push(`(send returned in state ${stateAfterSend})`);
  });
}

async function describeXhr(x) {
  const out = {
    readyState: x.readyState,
    status: x.status,
    statusText: x.statusText,
    responseURL: x.responseURL,
    responseType: x.responseType,
    allHeaders: x.getAllResponseHeaders(),
    contentType: x.getResponseHeader("content-type"),
  };
  try {
    switch (x.responseType) {
      case "":
      case "text": {
        const t = x.responseText;
        out.textLength = t.length;
        out.textSha = await sha(t);
        if (t.length < 8192 && /json/.test(out.contentType || "")) { try { out.json = JSON.parse(t); } catch { out.json = "unparsable"; } }
        out.responseXMLIsNull = x.responseType === "" ? x.responseXML === null : "n/a";
        break;
      }
      case "json": out.json = x.response; break;
      case "arraybuffer": out.bytes = x.response ? { length: x.response.byteLength, sha: await sha(x.response) } : null; break;
      case "blob": out.blob = x.response ? { size: x.response.size, type: x.response.type, sha: await sha(await x.response.arrayBuffer()) } : null; break;
      case "document": {
        const d = x.response;
        out.doc = d ? { title: d.title, x: d.getElementById("x")?.textContent, contentType: d.contentType, isDocument: d instanceof Document } : null;
        break;
      }
      default: out.unknownType = true;
    }
  } catch (e) {
    out.responseError = describeError(e);
  }
  return out;
}

X("async GET with on* property handlers", (e) => xhr({ url: echo(e.same, "xhr-props"), style: "props" }));
X("async GET with addEventListener listeners", (e) => xhr({ url: echo(e.same, "xhr-listeners") }));
X("async GET with handleEvent object listeners", (e) => xhr({ url: echo(e.same, "xhr-handle-event"), style: "handleEvent" }));
X("sync GET", (e) => xhr({ url: echo(e.same, "xhr-sync"), async: false }));
X("open(method, url, undefined) is synchronous", (e) => xhr({ url: echo(e.same, "xhr-async-undefined"), async: "undefined" }));
X("responseType \"\" (text)", (e) => xhr({ url: `${e.same}/stream?chunks=3&ms=10`, responseType: "" }));
X("responseType text", (e) => xhr({ url: `${e.same}/large?bytes=50000`, responseType: "text" }));
X("responseType json", (e) => xhr({ url: `${e.same}/json`, responseType: "json" }));
X("responseType arraybuffer", (e) => xhr({ url: `${e.same}/large?bytes=100000`, responseType: "arraybuffer" }));
X("responseType blob", (e) => xhr({ url: `${e.same}/blob`, responseType: "blob" }));
X("responseType document", (e) => xhr({ url: `${e.same}/doc`, responseType: "document" }));
X("sync with responseType json throws InvalidAccessError", (e) => xhr({ url: `${e.same}/json`, async: false, responseType: "json" }));
X("sync with a timeout throws InvalidAccessError", (e) => xhr({ url: `${e.same}/json`, async: false, timeout: 100 }));
X("abort() during the request", (e) => xhr({ url: `${e.same}/slow?ms=3000&case=xhr-abort`, abortAfterMs: 100 }));
X("abort() before send", (e) => xhr({ url: echo(e.same, "xhr-abort-before"), abortBeforeSend: true }));
X("timeout", (e) => xhr({ url: `${e.same}/slow?ms=3000&case=xhr-timeout`, timeout: 150 }));
X("network error (refused), async", (e) => xhr({ url: `${e.refused}/echo?case=xhr-refused` }));
X("network error (refused), sync", (e) => xhr({ url: `${e.refused}/echo?case=xhr-refused-sync`, async: false }));
X("cross-origin with CORS (allowed origin)", (e) => xhr({ url: echo(e.cors, "xhr-cors") }));
X("cross-origin with CORS, preflighted POST", (e) => xhr({ method: "POST", url: echo(e.cors, "xhr-cors-post"), headers: [["content-type", "application/json"], ["x-custom", "1"]], body: "{\"a\":1}" }));
X("cross-origin with CORS and withCredentials", (e) => xhr({ url: echo(e.cors, "xhr-cors-credentials"), withCredentials: true }));
X("cross-origin without CORS, async", (e) => xhr({ url: echo(e.nocors, "xhr-nocors") }));
X("cross-origin without CORS, sync", (e) => xhr({ url: echo(e.nocors, "xhr-nocors-sync"), async: false }));
X("readyState sequence on a chunked response", (e) => xhr({ url: `${e.same}/stream?chunks=5&ms=30`, style: "props" }));
X("getAllResponseHeaders(), same-origin", (e) => xhr({ url: `${e.same}/headers` }));
X("getAllResponseHeaders(), cross-origin", (e) => xhr({ url: `${e.cors}/headers` }));
X("upload FormData with upload listeners", (e) => {
  const fd = new FormData();
  fd.append("field", "value");
  fd.append("file", new Blob([new Uint8Array(200000).fill(7)], { type: "application/octet-stream" }), "b.bin");
  return xhr({ method: "POST", url: echo(e.same, "xhr-upload"), body: fd, upload: true });
});
X("POST bodies: Blob, URLSearchParams, ArrayBuffer", async (e) => ({
  blob: await xhr({ method: "POST", url: echo(e.same, "xhr-blob"), body: new Blob(["xhr blob"], { type: "application/x-b" }) }),
  params: await xhr({ method: "POST", url: echo(e.same, "xhr-params"), body: new URLSearchParams({ q: "a b" }) }),
  buffer: await xhr({ method: "PUT", url: echo(e.same, "xhr-buffer"), body: new Uint8Array([9, 8, 7]).buffer }),
}));
X("caller-set traceparent header, async", (e) => xhr({ url: echo(e.same, "caller-tp-xhr"), headers: [["traceparent", CALLER_TRACEPARENT], ["tracestate", CALLER_TRACESTATE]] }));
X("caller-set traceparent header, sync", (e) => xhr({ url: echo(e.same, "caller-tp-xhr-sync"), async: false, headers: [["traceparent", CALLER_TRACEPARENT]] }));
X("caller-set traceparent header, allowed CORS origin", (e) => xhr({ url: echo(e.cors, "caller-tp-xhr-cors"), headers: [["traceparent", CALLER_TRACEPARENT]] }));
X("setRequestHeader twice with one name combines values", (e) => xhr({ url: echo(e.same, "xhr-dup-header"), headers: [["x-dup", "a"], ["x-dup", "b"]] }));
X("setRequestHeader with a forbidden name is ignored", (e) => xhr({ url: echo(e.same, "xhr-forbidden-header"), headers: [["x-ok", "1"], ["cookie2", "nope"]] }));
X("setRequestHeader before open throws InvalidStateError", () => {
  const x = new XMLHttpRequest();
  try { x.setRequestHeader("x-a", "1"); return { threw: false }; } catch (err) { return { threw: describeError(err) }; }
});
X("send twice throws InvalidStateError", async (e) => {
  const x = new XMLHttpRequest();
  x.open("GET", echo(e.same, "xhr-send-twice"));
  x.send();
  let second;
  try { x.send(); second = "no throw"; } catch (err) { second = describeError(err); }
  await new Promise((r) => { x.onloadend = r; setTimeout(r, 5000); });
  return { second, status: x.status };
});
X("send before open throws InvalidStateError", () => {
  const x = new XMLHttpRequest();
  try { x.send(); return { threw: false }; } catch (err) { return { threw: describeError(err) }; }
});
X("open with an invalid URL throws SyntaxError", (e) => xhr({ url: "http://[::1" }));
X("open with a forbidden method throws SecurityError", (e) => xhr({ method: "TRACE", url: echo(e.same, "xhr-trace") }));
X("one XHR object reused for two requests", async (e) => {
  const x = new XMLHttpRequest();
  const states = [];
  x.onreadystatechange = () => { if (states[states.length - 1] !== x.readyState) states.push(x.readyState); };
  const once = (url) => new Promise((r) => { x.onloadend = () => r(x.status); x.open("GET", url); x.send(); setTimeout(() => r("guard"), 5000); });
  const a = await once(echo(e.same, "xhr-reuse-1"));
  const b = await once(`${e.same}/status/404`);
  return { a, b, states, text: x.responseText };
});
X("re-open while in flight aborts the first request silently", async (e) => {
  const x = new XMLHttpRequest();
  const events = [];
  for (const t of ["abort", "error", "load", "loadend"]) x.addEventListener(t, () => events.push(t));
  x.open("GET", `${e.same}/slow?ms=2000&case=xhr-reopen`);
  x.send();
  await sleep(50);
  x.open("GET", echo(e.same, "xhr-reopened"));
  const done = new Promise((r) => { x.addEventListener("loadend", r); setTimeout(r, 5000); });
  x.send();
  await done;
  return { events, status: x.status, url: x.responseURL };
});
X("redirect followed: responseURL", (e) => xhr({ url: `${e.same}/redirect?code=302&to=${encodeURIComponent("/echo?case=xhr-redirected")}` }));
X("404 and 500", async (e) => ({ a: await xhr({ url: `${e.same}/status/404` }), b: await xhr({ url: `${e.same}/status/500` }) }));
X("HEAD", (e) => xhr({ method: "HEAD", url: echo(e.same, "xhr-head") }));
X("204 No Content", (e) => xhr({ url: `${e.same}/status/204` }));
X("overrideMimeType", (e) => xhr({ url: `${e.same}/json`, mime: "text/plain; charset=x-user-defined" }));
X("large arraybuffer (3 MB)", (e) => xhr({ url: `${e.same}/large?bytes=3000000`, responseType: "arraybuffer" }));
X("abort() on /endless after the first progress closes the connection", async (e) => {
  const x = new XMLHttpRequest();
  const got = new Promise((r) => { x.onprogress = r; setTimeout(r, 5000); });
  const ended = new Promise((r) => { x.onloadend = r; setTimeout(r, 5000); });
  x.open("GET", `${e.same}/endless?id=xhr-abort`);
  x.send();
  await got;
  x.abort();
  await ended;
  let status = null;
  for (let i = 0; i < 60; i++) {
    status = await (await fetch(`${e.same}/endless-status?id=xhr-abort`)).json();
    if (status.closed) break;
    await sleep(50);
  }
  return { serverSawClose: status.closed, readyState: x.readyState, status: x.status };
});
X("XHR methods' shape: length and name", () => {
  const p = XMLHttpRequest.prototype;
  return ["open", "send", "setRequestHeader", "abort", "getAllResponseHeaders"].map((k) => [k, typeof p[k], p[k].length, p[k].name]);
});

export const cases = [...fetchCases, ...xhrCases];

/** Runs every case (or those named), one after another; each is bounded to 10 s. */
export async function runAll(env, only) {
  const out = [];
  for (const c of cases) {
    if (only && !only.includes(c.name)) continue;
    let result;
    let timer;
    try {
      result = await Promise.race([
        Promise.resolve().then(() => c.run(env)),
        new Promise((r) => { timer = setTimeout(() => r({ caseTimedOut: true }), 10000); }),
      ]);
    } catch (e) {
      result = { caseThrew: describeError(e) };
    }
    clearTimeout(timer);
    out.push({ name: c.name, kind: c.kind, result: JSON.parse(JSON.stringify(result ?? null)) });
  }
  return out;
}
