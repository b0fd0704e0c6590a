// A local HTTP server for the instrumentation tests: deterministic routes, a record of every
// request it saw, optional CORS, and static files from the repository root.
//
//   const s = await startServer({ cors: true });   // 127.0.0.1, a free port
//   s.origin, s.port, s.server, s.seen, s.received, s.endless, s.reset(), await s.close()
//
// `seen` gets one entry per request: { method, path, traceparent, tracestate, traceparentValues,
// origin, referer, acrMethod, acrHeaders } (path includes the query; traceparentValues is every
// traceparent header line, so a doubled header shows up as two values; referer is undefined when
// no Referer header arrived).
//
// Nothing a page can read depends on the time or on randomness: no Date header, fixed bodies,
// fixed ETag; two runs of the same page get byte-identical responses.
//
// Routes (GET unless said; every route accepts any method):
//   /echo                 JSON: method, path, query, contentType, bodyLength, bodySha256, and the
//                         request headers EXCEPT traceparent/tracestate (multipart boundaries are
//                         replaced by "BOUNDARY", and content-length is that body's length, so
//                         FormData bodies compare equal across runs)
//   /status/<code>        that status (200..599); 204/304 without a body
//   /etag                 200 with ETag "canopy-v1"; 304 when If-None-Match matches
//   /redirect?to=&code=   a redirect (301/302/303/307/308, default 302) to `to`
//   /slow?ms=             answers after ms (≤ 5000)
//   /large?bytes=         that many deterministic bytes (≤ 20 MB)
//   /stream?chunks=&ms=   chunked: `chunks` (≤ 100) lines, ms (≤ 1000) apart, ≤ 10 s in all
//   /endless?id=          a chunk every 20 ms until the client goes away (≤ 60 s); the close is
//                         recorded in `endless[id]`
//   /endless-status?id=   JSON { started, closed } for that id
//   /module.wasm          a tiny valid module (exports answer() = 42), application/wasm
//   /headers              custom response headers; x-exposed is exposed to CORS callers
//   /json, /blob, /doc    fixed JSON, bytes, and an HTML document
//   POST /v1/traces       records the OTLP JSON body in `received`, answers 200 {}
//   anything else         a file below the repository root, or 404
//
// cors: true  → answers CORS for any origin (credentials too), including preflights with any
//               method and request headers (max-age 0, so every preflight is visible in `seen`).
// cors: false → no CORS header at all, on any response (cross-origin reads fail).
import { createServer } from "node:http";
import { gunzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const root = normalize(join(fileURLToPath(import.meta.url), "../../.."));
const types = {
  ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
  ".json": "application/json", ".css": "text/css", ".ts": "text/plain",
};
const MAX_BODY = 25 * 1024 * 1024;
const MAX_LARGE = 20 * 1024 * 1024;

// (module (func (export "answer") (result i32) i32.const 42))
export const WASM_MODULE = Buffer.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type section: () -> i32
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x07, 0x0a, 0x01, 0x06, 0x61, 0x6e, 0x73, 0x77, 0x65, 0x72, 0x00, 0x00, // export "answer" = func 0
  0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x2a, 0x0b, // code: i32.const 42, end
]);

const largeCache = new Map();
/** `n` deterministic bytes (not a short period, so truncation or reordering changes the hash). */
export function largeBytes(n) {
  if (largeCache.has(n)) return largeCache.get(n);
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >>> 8) * 7 + (i >>> 16)) & 0xff;
  if (largeCache.size > 4) largeCache.clear();
  largeCache.set(n, b);
  return b;
}

const BLOB = largeBytes(1024);
const DOC = "<!doctype html><html><head><title>canopy doc</title></head><body><p id=\"x\">hello document</p></body></html>";
const JSON_BODY = JSON.stringify({ hello: "world", n: [1, 2, 3], nested: { ok: true } });

const clampInt = (v, lo, hi, dflt) => {
  const n = Number.parseInt(v ?? "", 10);
  return Number.isFinite(n) ? Math.min(hi, Math.max(lo, n)) : dflt;
};

export function startServer({ cors = false } = {}) {
  const seen = [];
  const received = [];
  const endless = {};
  const timers = new Set();
  const later = (fn, ms) => {
    const t = setTimeout(() => { timers.delete(t); fn(); }, ms);
    timers.add(t);
    return t;
  };
  const every = (fn, ms) => {
    const t = setInterval(fn, ms);
    timers.add(t);
    return t;
  };
  const stop = (t) => { clearTimeout(t); clearInterval(t); timers.delete(t); };

  const server = createServer(async (req, res) => {
    res.sendDate = false;
    const url = new URL(req.url, "http://127.0.0.1");
    const h = req.headers;
    const tpValues = req.headersDistinct?.traceparent || (h.traceparent !== undefined ? [h.traceparent] : []);
    seen.push({
      method: req.method,
      path: url.pathname + url.search,
      traceparent: h.traceparent,
      tracestate: h.tracestate,
      xAmznTraceId: h["x-amzn-trace-id"],
      baggage: h.baggage,
      traceparentValues: tpValues,
      origin: h.origin,
      referer: h.referer,
      acrMethod: h["access-control-request-method"],
      acrHeaders: h["access-control-request-headers"],
    });

    const corsHeaders = {};
    if (cors) {
      if (h.origin) {
        corsHeaders["access-control-allow-origin"] = h.origin;
        corsHeaders["access-control-allow-credentials"] = "true";
      } else {
        corsHeaders["access-control-allow-origin"] = "*";
      }
      corsHeaders.vary = "Origin";
    }
    const send = (status, headers = {}, body) => {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(status, { ...corsHeaders, "cache-control": "no-store", ...headers });
      res.end(body);
    };

    // CORS preflight.
    if (req.method === "OPTIONS" && h["access-control-request-method"]) {
      if (!cors) { res.writeHead(204); res.end(); return; }
      res.writeHead(204, {
        ...corsHeaders,
        "access-control-allow-methods": h["access-control-request-method"],
        "access-control-allow-headers": h["access-control-request-headers"] || "*",
        "access-control-max-age": "0",
      });
      res.end();
      return;
    }

    const readBody = async () => {
      const chunks = [];
      let size = 0;
      for await (const c of req) {
        size += c.length;
        if (size > MAX_BODY) throw new Error("body too large");
        chunks.push(c);
      }
      return Buffer.concat(chunks);
    };

    const p = url.pathname;
    const q = url.searchParams;
    try {
      if (p === "/v1/traces" && req.method === "POST") {
        let raw = await readBody();
        if (h["content-encoding"] === "gzip") raw = gunzipSync(raw);
        const text = raw.toString("utf8");
        let body;
        try { body = JSON.parse(text); } catch { body = { invalid: text }; }
        received.push({ path: p, headers: h, body });
        return send(200, { "content-type": "application/json" }, "{}");
      }
      if (p === "/echo") {
        let body = await readBody();
        let contentType = h["content-type"];
        const m = /boundary=(.+)$/i.exec(contentType || "");
        if (m) {
          const boundary = m[1].replace(/^"|"$/g, "");
          contentType = contentType.replace(boundary, "BOUNDARY");
          body = Buffer.from(body.toString("latin1").split(boundary).join("BOUNDARY"), "latin1");
        }
        const headers = {};
        for (const k of Object.keys(h).sort()) {
          if (k === "traceparent" || k === "tracestate") continue;
          headers[k] = k === "content-type" ? contentType : h[k];
        }
        // The boundary's length is random in Firefox: report the length of the normalised body.
        if (m && headers["content-length"] !== undefined) headers["content-length"] = String(body.length);
        const out = {
          method: req.method,
          path: p,
          query: [...q.entries()].sort(),
          contentType: contentType ?? null,
          bodyLength: body.length,
          bodySha256: createHash("sha256").update(body).digest("hex"),
          bodyText: body.length <= 512 ? body.toString("utf8") : null,
          headers,
        };
        return send(200, { "content-type": "application/json" }, JSON.stringify(out));
      }
      const st = /^\/status\/(\d{3})$/.exec(p);
      if (st) {
        await readBody();
        const code = clampInt(st[1], 200, 599, 200);
        if (code === 204 || code === 304) return send(code, {});
        return send(code, { "content-type": "text/plain" }, `status ${code}`);
      }
      if (p === "/etag") {
        const etag = "\"canopy-v1\"";
        if (h["if-none-match"] === etag) return send(304, { etag, "cache-control": "no-cache" });
        return send(200, { etag, "cache-control": "no-cache", "content-type": "text/plain" }, "etag body v1");
      }
      if (p === "/redirect") {
        await readBody();
        const code = [301, 302, 303, 307, 308].includes(Number(q.get("code"))) ? Number(q.get("code")) : 302;
        return send(code, { location: q.get("to") || "/echo" }, "");
      }
      if (p === "/slow") {
        await readBody();
        const ms = clampInt(q.get("ms"), 0, 5000, 100);
        const t = later(() => send(200, { "content-type": "text/plain" }, `slow ${ms}`), ms);
        res.on("close", () => stop(t));
        return;
      }
      if (p === "/large") {
        const n = clampInt(q.get("bytes"), 0, MAX_LARGE, 1024);
        return send(200, { "content-type": "application/octet-stream", "content-length": String(n) }, largeBytes(n));
      }
      if (p === "/stream") {
        const chunks = clampInt(q.get("chunks"), 1, 100, 5);
        const ms = Math.min(clampInt(q.get("ms"), 0, 1000, 20), Math.floor(10000 / chunks));
        res.writeHead(200, { ...corsHeaders, "cache-control": "no-store", "content-type": "text/plain" });
        let i = 0;
        const t = every(() => {
          if (res.destroyed) { stop(t); return; }
          res.write(`chunk ${i}\n`);
          if (++i >= chunks) { stop(t); res.end(); }
        }, ms);
        res.on("close", () => stop(t));
        return;
      }
      if (p === "/endless") {
        const id = q.get("id") || "default";
        const rec = { started: Date.now(), closed: null };
        endless[id] = rec;
        res.writeHead(200, { ...corsHeaders, "cache-control": "no-store", "content-type": "text/plain" });
        res.write("endless 0\n");
        let i = 1;
        const t = every(() => {
          if (res.destroyed || Date.now() - rec.started > 60000) { stop(t); res.end(); return; }
          res.write(`endless ${i++}\n`);
        }, 20);
        res.on("close", () => { stop(t); rec.closed = Date.now(); });
        return;
      }
      if (p === "/endless-status") {
        const rec = endless[q.get("id") || "default"];
        return send(200, { "content-type": "application/json" }, JSON.stringify({ started: !!rec, closed: !!rec?.closed }));
      }
      if (p === "/module.wasm") return send(200, { "content-type": "application/wasm" }, WASM_MODULE);
      if (p === "/headers") {
        const hs = { "content-type": "text/plain", "x-custom": "one", "x-exposed": "two", "x-multi": ["a", "b"] };
        if (cors) hs["access-control-expose-headers"] = "x-exposed";
        return send(200, hs, "headers");
      }
      if (p === "/json") return send(200, { "content-type": "application/json" }, JSON_BODY);
      if (p === "/blob") return send(200, { "content-type": "application/x-canopy-blob" }, BLOB);
      if (p === "/doc") return send(200, { "content-type": "text/html" }, DOC);

      if (req.method !== "GET" && req.method !== "HEAD") { await readBody(); return send(405, {}, ""); }
      const file = normalize(join(root, decodeURIComponent(p)));
      if (!file.startsWith(root + "/")) return send(403, {}, "");
      let data;
      try { data = await readFile(file); } catch { return send(404, { "content-type": "text/plain" }, "not found"); }
      return send(200, { "content-type": types[extname(file)] || "application/octet-stream" }, data);
    } catch {
      if (!res.headersSent) send(500, { "content-type": "text/plain" }, "server error");
      else res.destroy();
    }
  });
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10000;
  server.requestTimeout = 30000;

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = server.address().port;
      resolve({
        port,
        origin: `http://127.0.0.1:${port}`,
        server,
        seen,
        received,
        endless,
        /** Forgets everything recorded (seen, received, endless). */
        reset() {
          seen.length = 0;
          received.length = 0;
          for (const k of Object.keys(endless)) delete endless[k];
        },
        /** Stops every timer, drops every connection, and closes the listener. */
        close() {
          for (const t of timers) { clearTimeout(t); clearInterval(t); }
          timers.clear();
          return new Promise((r) => {
            server.close(() => r());
            server.closeAllConnections?.();
          });
        },
      });
    });
  });
}

/** A port on 127.0.0.1 that nothing listens on (bound, then closed): connections are refused. */
export async function closedPort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  return port;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = await startServer({ cors: process.argv.includes("--cors") });
  console.log(`listening ${s.port}`);
}
