#!/usr/bin/env python3
"""The abuse run (issue 10): while attackers hit a relay on 127.0.0.1, a normal client posts an
SDK batch every 200 ms; prints what the normal client got and the relay's peak memory.

Each party connects from its own loopback address (127.0.0.2-127.0.0.9; Linux routes all of
127/8 to lo), so the relay sees distinct clients without any forwarding header:

  slow bodies   127.0.0.2  64 connections at once, each declaring 1000 bytes and sending 1
  deep chains   127.0.0.3  a trace 1000 spans deep per request, all one chain across requests
  big attrs     127.0.0.4  one span of 236 (or 100) attributes of 32 KiB (7.5 MiB; 30 KB gzipped), a new
                           trace each time (60 bodies in turn)
  flood         127.0.0.5  4 loops posting a 5-span batch as fast as they can
  normal        127.0.0.9  a 50-span SDK batch every 200 ms

usage: abuse.py RELAY_URL RELAY_PID SECONDS   (everything bounded by SECONDS)"""
import asyncio, gzip, json, os, random, sys, time

url, pid, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
host, port = url.split("//")[1].split(":")
port = int(port.split("/")[0])
rnd = random.Random(7)
hexid = lambda n: "".join(rnd.choice("0123456789abcdef") for _ in range(2 * n))
now_ns = lambda: time.time_ns()


def otlp(spans, service="frontend"):
    res = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    return json.dumps({"resourceSpans": [{"resource": res, "scopeSpans": [{"scope": {"name": "abuse"}, "spans": spans}]}]})


def span(trace, sid, parent=None, name="span", attrs=()):
    t = now_ns()
    s = {"traceId": trace, "spanId": sid, "name": name, "kind": 1, "startTimeUnixNano": str(t),
         "endTimeUnixNano": str(t + 1_000_000), "attributes": list(attrs)}
    if parent:
        s["parentSpanId"] = parent
    return s


def batch(n):
    trace, root = hexid(16), hexid(8)
    attrs = [{"key": "http.request.method", "value": {"stringValue": "GET"}},
             {"key": "url.full", "value": {"stringValue": "https://shop.example.com/api/items"}}]
    return otlp([span(trace, root, name="documentLoad")] + [span(trace, hexid(8), root, "fetch", attrs) for _ in range(n - 1)])


async def post(src, body, gz=False, timeout=10.0):
    """One POST on a new connection from `src`; returns (status, seconds) or (None, seconds)."""
    t = time.monotonic()
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port, local_addr=(src, 0)), timeout)
        data = body.encode() if isinstance(body, str) else body
        head = (f"POST /v1/traces HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
                f"{'content-encoding: gzip' + chr(13) + chr(10) if gz else ''}content-length: {len(data)}\r\nconnection: close\r\n\r\n")
        w.write(head.encode() + data)
        await w.drain()
        line = await asyncio.wait_for(r.readline(), timeout)
        await asyncio.wait_for(r.read(), timeout)
        w.close()
        return int(line.split()[1]), time.monotonic() - t
    except (OSError, asyncio.TimeoutError, IndexError, ValueError):
        return None, time.monotonic() - t


def tally(counts, status):
    counts[status] = counts.get(status, 0) + 1


async def slow(end, counts):
    async def one():
        while time.monotonic() < end:
            try:
                r, w = await asyncio.open_connection(host, port, local_addr=("127.0.0.2", 0))
                w.write(b"POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{")
                await w.drain()
                line = await asyncio.wait_for(r.readline(), max(0.1, end - time.monotonic() + 10))
                tally(counts, int(line.split()[1]) if line else None)
                w.close()
            except (OSError, asyncio.TimeoutError, IndexError, ValueError):
                tally(counts, None)
            await asyncio.sleep(0.05)
    await asyncio.gather(*(one() for _ in range(64)))


async def deep(end, counts):
    trace, parent, n = hexid(16), None, 0
    while time.monotonic() < end:
        spans = []
        for _ in range(1000):
            sid = f"{n + 1:016x}"
            spans.append(span(trace, sid, parent, "chain"))
            parent, n = sid, n + 1
        status, _ = await post("127.0.0.3", gzip.compress(otlp(spans).encode(), 1), gz=True)
        tally(counts, status)


async def big(end, counts, bodies):
    i = 0
    while time.monotonic() < end:
        status, _ = await post("127.0.0.4", bodies[i % len(bodies)], gz=True)
        tally(counts, status)
        i += 1


async def flood(end, counts):
    body = batch(5)
    async def one():
        while time.monotonic() < end:
            status, _ = await post("127.0.0.5", body)
            tally(counts, status)
    await asyncio.gather(*(one() for _ in range(4)))


async def normal(end, got):
    while time.monotonic() < end:
        status, took = await post("127.0.0.9", batch(50))
        got.append((status, took))
        await asyncio.sleep(0.2)


def rss_mb():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def sample(end, peak):
    while time.monotonic() < end + 1:
        peak.append(rss_mb())
        await asyncio.sleep(0.1)


async def main():
    value = "x" * (32 << 10)
    # Alternately 236 attributes (7.5 MiB: over the store's 4 MiB per trace) and 100 (3.2 MiB:
    # kept, so the store fills up and evicts).
    attrs = lambda n: [{"key": f"a{k}", "value": {"stringValue": value}} for k in range(n)]
    big_bodies = [gzip.compress(otlp([span(hexid(16), hexid(8), None, "big", attrs(236 if i % 2 else 100))]).encode(), 1)
                  for i in range(60)]
    base = rss_mb()
    end = time.monotonic() + secs
    counts = {k: {} for k in ("slow", "deep", "big", "flood")}
    got, peak = [], []
    await asyncio.gather(slow(end, counts["slow"]), deep(end, counts["deep"]), big(end, counts["big"], big_bodies),
                         flood(end, counts["flood"]), normal(end, got), sample(end, peak))
    ok = [t for s, t in got if s == 200]
    lat = sorted(t * 1000 for t in ok) or [0]
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
    print(json.dumps({
        "seconds": secs, "rss_start_mb": round(base, 1), "rss_peak_mb": round(max(peak), 1),
        "normal": {"sent": len(got), "ok": len(ok), "statuses": sorted({str(s) for s, _ in got}),
                   "p50_ms": round(pct(0.5), 1), "p99_ms": round(pct(0.99), 1), "max_ms": round(lat[-1], 1)},
        "attackers": {k: {str(s): n for s, n in sorted(v.items(), key=str)} for k, v in counts.items()},
    }))

asyncio.run(main())
