// A local OTLP/HTTP sink for the relay rows of `make bench` (bench/relay.mjs starts it as its own
// process, on 127.0.0.1 only): answers every POST /v1/traces with 200 and an empty protobuf
// ExportTraceServiceResponse, and counts the spans it got (protobuf or JSON, gzip or not), and
// the SERVER spans among them, so the bench knows how many spans each server really delivered.
//
//   node bench/otlp_sink.mjs        prints "sink listening on http://127.0.0.1:<port>"
//   GET /counts                     {"requests":…,"bytes":…,"spans":…,"serverSpans":…,"errors":…}
import { createServer } from "node:http";
import { gunzipSync } from "node:zlib";

const counts = { requests: 0, bytes: 0, spans: 0, serverSpans: 0, errors: 0 };

/** Calls fn(field, wireType, value) for each field of a protobuf message (value: a subarray for
 *  length-delimited fields, a Number for varints, null otherwise). */
function fields(buf, fn) {
  let i = 0;
  const varint = () => {
    let v = 0, mul = 1, b;
    do { b = buf[i++]; v += (b & 0x7f) * mul; mul *= 128; } while (b & 0x80);
    return v;
  };
  while (i < buf.length) {
    const tag = varint(), f = Math.floor(tag / 8), wt = tag & 7;
    if (wt === 0) fn(f, wt, varint());
    else if (wt === 1) { i += 8; fn(f, wt, null); }
    else if (wt === 5) { i += 4; fn(f, wt, null); }
    else if (wt === 2) { const n = varint(); fn(f, wt, buf.subarray(i, i + n)); i += n; }
    else throw new Error(`wire type ${wt}`);
  }
}

function countProtobuf(buf) {
  fields(buf, (f, wt, rs) => { // ExportTraceServiceRequest.resource_spans = 1
    if (f !== 1 || wt !== 2) return;
    fields(rs, (f2, wt2, ss) => { // ResourceSpans.scope_spans = 2
      if (f2 !== 2 || wt2 !== 2) return;
      fields(ss, (f3, wt3, span) => { // ScopeSpans.spans = 2
        if (f3 !== 2 || wt3 !== 2) return;
        counts.spans++;
        fields(span, (f4, wt4, v) => { if (f4 === 6 && wt4 === 0 && v === 2) counts.serverSpans++; }); // Span.kind = 6; SERVER = 2
      });
    });
  });
}

function countJson(buf) {
  const doc = JSON.parse(buf.toString("utf8"));
  for (const rs of doc.resourceSpans || []) for (const ss of rs.scopeSpans || []) for (const s of ss.spans || []) {
    counts.spans++;
    if (s.kind === 2 || s.kind === "SPAN_KIND_SERVER") counts.serverSpans++;
  }
}

const server = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/counts") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(counts));
    return;
  }
  if (req.method !== "POST" || !req.url.startsWith("/v1/traces")) {
    res.writeHead(404);
    res.end();
    return;
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    let body = Buffer.concat(chunks);
    counts.requests++;
    counts.bytes += body.length;
    try {
      if (/gzip/.test(req.headers["content-encoding"] || "")) body = gunzipSync(body);
      if (/json/.test(req.headers["content-type"] || "")) countJson(body);
      else countProtobuf(body);
    } catch (_) {
      counts.errors++;
    }
    res.writeHead(200, { "content-type": /json/.test(req.headers["content-type"] || "") ? "application/json" : "application/x-protobuf" });
    res.end(/json/.test(req.headers["content-type"] || "") ? "{}" : "");
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => console.log(`sink listening on http://127.0.0.1:${server.address().port}`));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
