// A real OTLP/HTTP sink for the tests: records what it receives and serves static files.
//
//   node tests/support/sink.mjs [port]        (prints "listening <port>" when ready)
//
// POST /v1/traces, /v1/logs  record the body (JSON; gzip and text/plain beacons decoded), answers 200 {}
//                      or the next scripted response (see /script)
// POST /script         queues scripted responses: [{ status, retryAfter, drop, body, delayMs }]
// GET  /received       the recorded requests: [{ path, headers, body }]
// POST /reset          forgets them
// GET  /<file>         serves files below the repository root (pkg/, tests/e2e/pages/)
// Every response allows CORS from any origin, so test pages on other ports can post here.
import { createServer } from "node:http";
import { gunzipSync } from "node:zlib";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const root = normalize(join(fileURLToPath(import.meta.url), "../../.."));
const types = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json", ".css": "text/css" };

export function startSink(port = 0) {
  const received = []; // accepted (2xx) requests
  const attempts = []; // every request, whatever the answer
  const script = []; // scripted answers, first in first out
  const server = createServer(async (req, res) => {
    const cors = {
      "access-control-allow-origin": req.headers.origin || "*",
      "access-control-allow-headers": req.headers["access-control-request-headers"] || "*",
      "access-control-allow-methods": "GET, POST, OPTIONS",
    };
    if (req.method === "OPTIONS") { res.writeHead(204, cors); res.end(); return; }
    const url = new URL(req.url, "http://127.0.0.1");
    if (req.method === "POST" && (url.pathname === "/v1/traces" || url.pathname === "/v1/logs")) {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      let raw = Buffer.concat(chunks);
      const encoding = req.headers["content-encoding"] || null;
      if (encoding === "gzip") raw = gunzipSync(raw);
      const text = raw.toString("utf8");
      let body = null;
      try { body = JSON.parse(text); } catch { body = { invalid: text }; }
      const sentAt = req.headers["x-canopy-sent-at"] ?? url.searchParams.get("sent_at");
      const entry = { path: url.pathname, headers: req.headers, body, encoding, bytes: Buffer.concat(chunks).length,
        sentAt: sentAt === null || sentAt === undefined ? null : Number(sentAt), receivedAt: Date.now(),
        contentType: req.headers["content-type"], query: url.search };
      attempts.push(entry);
      const scripted = script.shift() || { status: 200 };
      if (scripted.delayMs) await new Promise((r) => setTimeout(r, Math.min(scripted.delayMs, 10000)));
      if (scripted.drop) { req.socket.destroy(); return; }
      const status = scripted.status || 200;
      if (status >= 200 && status < 300) received.push(entry);
      const headers = { ...cors, "content-type": "application/json", "access-control-expose-headers": "retry-after" };
      if (scripted.retryAfter !== undefined) headers["retry-after"] = String(scripted.retryAfter);
      res.writeHead(status, headers);
      res.end(scripted.body ?? (status < 300 ? "{}" : `{"error":"scripted ${status}"}`));
      return;
    }
    if (req.method === "POST" && url.pathname === "/script") {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      script.push(...JSON.parse(Buffer.concat(chunks).toString("utf8")));
      res.writeHead(204, cors);
      res.end();
      return;
    }
    if (url.pathname === "/received") {
      res.writeHead(200, { ...cors, "content-type": "application/json" });
      res.end(JSON.stringify(received));
      return;
    }
    if (req.method === "POST" && url.pathname === "/reset") {
      received.length = 0;
      attempts.length = 0;
      script.length = 0;
      res.writeHead(204, cors);
      res.end();
      return;
    }
    // ?delay=ms holds a file back (at most 5 s): a slow image for the Web Vitals tests.
    if (url.searchParams.has("delay")) await new Promise((r) => setTimeout(r, Math.min(Number(url.searchParams.get("delay")) || 0, 5000)));
    const file = normalize(join(root, decodeURIComponent(url.pathname)));
    if (!file.startsWith(root + "/")) { res.writeHead(403, cors); res.end(); return; }
    try {
      const data = await readFile(file);
      const headers = { ...cors, "content-type": types[extname(file)] || "application/octet-stream" };
      // ?csp=… serves a page under that Content-Security-Policy (the CSP tests).
      if (url.searchParams.has("csp")) headers["content-security-policy"] = url.searchParams.get("csp");
      // ?servertiming=… adds that Server-Timing header (the page-load tests).
      if (url.searchParams.has("servertiming")) headers["server-timing"] = url.searchParams.get("servertiming");
      res.writeHead(200, headers);
      res.end(data);
    } catch {
      res.writeHead(404, cors);
      res.end("not found");
    }
  });
  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () => resolve({ server, port: server.address().port, received, attempts, script,
      reset() { received.length = 0; attempts.length = 0; script.length = 0; } }));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { port } = await startSink(Number(process.argv[2] || 0));
  console.log(`listening ${port}`);
}
