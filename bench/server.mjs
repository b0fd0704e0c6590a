// The benchmark's one server, on 127.0.0.1 only: serves the bench pages and bundles, and is the
// OTLP sink both SDKs export to (same origin as the page, so no CORS preflight for either).
//
//   GET  /plain/<file>               a page or bundle, no special headers
//   GET  /coi/<file>                 the same file with COOP: same-origin + COEP: require-corp, so
//                                    the page is cross-origin isolated (finer, cheaper performance.now)
//   POST /sink/<sdk>/v1/traces       answers 200 {} at once; keeps the raw body bytes (not parsed
//                                    while a measurement runs, so the sink costs the machine little)
//   GET  /cache/<file>               a file with `cache-control: max-age=3600` (pages: no-store), for
//                                    the warm start-up loads
//   GET  /api/ping?k=<key>           answers 200 {"ok":true} at once (the fetch/XHR overhead target);
//                                    counts the requests per key and those with a `traceparent`
//
// startServer(dir) -> { port, origin, take(sdk), pings(key), close() }; take() returns and forgets
// the requests received for <sdk>: [{ bytes: Buffer (as sent), encoding, contentType }]; pings()
// returns and forgets { requests, traceparent } for /api/ping?k=<key>.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

export function startServer(dir) {
  const root = normalize(dir);
  const received = new Map(); // sdk -> requests
  const pings = new Map(); // key -> { requests, traceparent }
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    if (url.pathname === "/api/ping") {
      const k = url.searchParams.get("k") || "";
      const c = pings.get(k) || { requests: 0, traceparent: 0 };
      c.requests++;
      if (req.headers.traceparent) c.traceparent++;
      pings.set(k, c);
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end('{"ok":true}');
      return;
    }
    const sink = /^\/sink\/([a-z0-9-]+)\/v1\/traces$/.exec(url.pathname);
    if (sink) {
      if (req.method === "OPTIONS") {
        res.writeHead(204, { "access-control-allow-origin": "*", "access-control-allow-headers": "*" });
        res.end();
        return;
      }
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const list = received.get(sink[1]) || [];
      list.push({ bytes: Buffer.concat(chunks), encoding: req.headers["content-encoding"] || null, contentType: req.headers["content-type"] || null });
      received.set(sink[1], list);
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
      return;
    }
    const m = /^\/(plain|coi|cache)\/([A-Za-z0-9._-]+)$/.exec(url.pathname);
    if (req.method !== "GET" || !m) {
      res.writeHead(404);
      res.end();
      return;
    }
    const file = normalize(join(root, m[2]));
    if (!file.startsWith(root + "/")) {
      res.writeHead(403);
      res.end();
      return;
    }
    let body;
    try {
      body = await readFile(file);
    } catch {
      res.writeHead(404);
      res.end();
      return;
    }
    const cacheable = m[1] === "cache" && extname(file) !== ".html";
    const headers = { "content-type": TYPES[extname(file)] || "application/octet-stream", "cache-control": cacheable ? "max-age=3600" : "no-store" };
    if (m[1] === "coi") {
      headers["cross-origin-opener-policy"] = "same-origin";
      headers["cross-origin-embedder-policy"] = "require-corp";
    }
    res.writeHead(200, headers);
    res.end(body);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      resolve({
        port,
        origin: `http://127.0.0.1:${port}`,
        take(sdk) {
          const list = received.get(sdk) || [];
          received.delete(sdk);
          return list;
        },
        pings(key) {
          const c = pings.get(key) || { requests: 0, traceparent: 0 };
          pings.delete(key);
          return c;
        },
        close() {
          server.closeAllConnections?.();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}
