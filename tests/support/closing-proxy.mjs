// An HTTP forward proxy for headless Chromium in the wasm-bindgen-test run: every request goes to
// its loopback target on a connection of its own, with `Connection: close`.
//
//   node tests/support/closing-proxy.mjs [port]   (prints "listening <port>" when ready)
//
// Why: wasm-bindgen-test-runner serves the test page with tiny_http 0.12, whose connection pool
// can leave a just-accepted connection queued while its four threads each wait on an idle
// keep-alive connection (TaskPool::spawn counts a thread that was already woken as still idle).
// Chromium opens five connections at once for the page's scripts, keeps them alive, and the
// queued one's request is never read: the page never loads and chromedriver gives up after 300 s.
// With one request per upstream connection no pool thread waits on an idle connection, so a
// queued connection is picked up as soon as the request before it is answered.
//
// Only http:// requests to 127.0.0.1 or localhost are forwarded; anything else (Chromium's own
// background requests, CONNECT) is refused at once. An upstream that does not answer within
// UPSTREAM_TIMEOUT_MS gets 504.
import { createServer, request } from "node:http";
import { fileURLToPath } from "node:url";

const UPSTREAM_TIMEOUT_MS = 30_000;
// Hop-by-hop headers (RFC 9110 7.6.1) and the proxy's own: never forwarded.
const HOP = new Set(["connection", "proxy-connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "proxy-authorization", "proxy-authenticate"]);

function endToEnd(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP.has(k.toLowerCase())) out[k] = v;
  return out;
}

export function startClosingProxy(port = 0) {
  const server = createServer((req, res) => {
    let target;
    try { target = new URL(req.url); } catch { target = null; }
    if (!target || target.protocol !== "http:" || !["127.0.0.1", "localhost"].includes(target.hostname)) {
      res.writeHead(502, { "content-type": "text/plain", connection: "close" });
      res.end("closing-proxy: only http://127.0.0.1 and http://localhost are forwarded\n");
      return;
    }
    const upstream = request({
      host: target.hostname,
      port: target.port || 80,
      method: req.method,
      path: target.pathname + target.search,
      headers: { ...endToEnd(req.headers), connection: "close" },
      agent: false, // a connection of its own, closed after this one request
      timeout: UPSTREAM_TIMEOUT_MS,
    });
    upstream.on("response", (up) => {
      res.writeHead(up.statusCode, up.statusMessage, endToEnd(up.headers));
      up.pipe(res);
    });
    upstream.on("timeout", () => upstream.destroy(new Error(`no answer in ${UPSTREAM_TIMEOUT_MS} ms`)));
    upstream.on("error", (e) => {
      if (!res.headersSent) {
        res.writeHead(e.message.startsWith("no answer") ? 504 : 502, { "content-type": "text/plain" });
        res.end(`closing-proxy: ${req.method} ${req.url}: ${e.message}\n`);
      } else {
        res.destroy(e);
      }
    });
    req.pipe(upstream);
  });
  // HTTPS through the proxy (CONNECT) is never needed here: refused.
  server.on("connect", (_req, socket) => socket.end("HTTP/1.1 405 Method Not Allowed\r\nconnection: close\r\n\r\n"));
  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () => resolve({ server, port: server.address().port }));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { port } = await startClosingProxy(Number(process.argv[2] || 0));
  console.log(`listening ${port}`);
}
