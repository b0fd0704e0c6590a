#!/usr/bin/env python3
"""Writes realistic SDK export bodies for the load test: OTLP/HTTP JSON as canopy-web sends it
(a page load with resource timings, clicks and fetches), plain and gzip.

usage: make_bodies.py OUT_DIR SPANS_PER_BODY [COUNT]"""
import gzip, json, os, random, sys, time

out, per, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 32
os.makedirs(out, exist_ok=True)
rnd = random.Random(42)


def hexid(n):
    return "".join(rnd.choice("0123456789abcdef") for _ in range(n * 2))


def s(k, v):
    return {"key": k, "value": {"stringValue": v}}


def i(k, v):
    return {"key": k, "value": {"intValue": str(v)}}


for b in range(count):
    trace, root = hexid(16), hexid(8)
    t0 = int(time.time() * 1e9) - 10_000_000_000
    spans = [{"traceId": trace, "spanId": root, "flags": 257, "name": "documentLoad", "kind": 1,
              "startTimeUnixNano": str(t0), "endTimeUnixNano": str(t0 + 1_800_000_000),
              "attributes": [s("url.full", "https://shop.example.com/cart?ref=home"), i("document.transfer_size", 48213),
                             s("navigation.type", "navigate")],
              "events": [{"timeUnixNano": str(t0 + 400_000_000), "name": "domInteractive"},
                         {"timeUnixNano": str(t0 + 900_000_000), "name": "domContentLoadedEventEnd"}]}]
    for n in range(1, per):
        start = t0 + n * 20_000_000
        kind, name, attrs = 3, "fetch GET /api/items/%d" % n, [
            s("http.request.method", "GET"), s("url.full", "https://shop.example.com/api/items/%d?expand=price,stock" % n),
            s("server.address", "shop.example.com"), i("server.port", 443), i("http.response.status_code", 200),
            i("http.response.body.size", rnd.randint(200, 90_000)), s("component", "fetch")]
        if n % 3 == 1:
            kind, name, attrs = 1, "resourceFetch", [
                s("url.full", "https://cdn.example.com/assets/app-%s.js" % hexid(4)), s("resource.initiator_type", "script"),
                i("http.response.transfer_size", rnd.randint(1_000, 300_000)), s("network.protocol.name", "h2")]
        span = {"traceId": trace, "spanId": hexid(8), "parentSpanId": root, "flags": 257, "name": name, "kind": kind,
                "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + rnd.randint(5, 400) * 1_000_000),
                "attributes": attrs}
        if n % 10 == 0:
            span["status"] = {"code": 2, "message": "HTTP 503"}
            span["events"] = [{"timeUnixNano": str(start + 1_000_000), "name": "exception",
                               "attributes": [s("exception.type", "TypeError"), s("exception.message", "Failed to fetch")]}]
        spans.append(span)
    body = {"resourceSpans": [{"resource": {"attributes": [
        s("service.name", "shop-frontend"), s("service.version", "2.14.1"), s("deployment.environment", "production"),
        s("telemetry.sdk.name", "canopy-web"), s("telemetry.sdk.language", "rust"), s("telemetry.sdk.version", "0.1.0"),
        s("browser.language", "en-GB"), s("session.id", hexid(8)),
        s("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36")]},
        "scopeSpans": [{"scope": {"name": "canopy-web", "version": "0.1.0"}, "spans": spans}]}]}
    text = json.dumps(body, separators=(",", ":")).encode()
    open(os.path.join(out, "body-%d.json" % b), "wb").write(text)
    open(os.path.join(out, "body-%d.json.gz" % b), "wb").write(gzip.compress(text, 6))
print("%d bodies of %d spans, %d bytes JSON, %d bytes gzip" % (
    count, per, len(text), os.path.getsize(os.path.join(out, "body-%d.json.gz" % (count - 1)))))
