-- wrk script: POSTs pre-generated SDK export bodies (see make_bodies.py) in rotation, with the
-- SDK's headers. BODIES (directory), COUNT and GZIP (1 or 0) come from the environment.
local dir = os.getenv("BODIES")
local count = tonumber(os.getenv("COUNT") or "32")
local gz = os.getenv("GZIP") == "1"
local bodies = {}
local n = 0

function init(args)
  for i = 0, count - 1 do
    local f = assert(io.open(dir .. "/body-" .. i .. (gz and ".json.gz" or ".json"), "rb"))
    bodies[i + 1] = f:read("*a")
    f:close()
  end
end

function request()
  n = n % count + 1
  local headers = { ["content-type"] = "application/json", ["x-canopy-sent-at"] = tostring(os.time() * 1000) }
  if gz then headers["content-encoding"] = "gzip" end
  return wrk.format("POST", nil, headers, bodies[n])
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors_status=%d errors_other=%d seconds=%.3f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
