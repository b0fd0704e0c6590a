-- wrk script: POSTs pre-generated SDK export bodies (see make_bodies.py) in rotation, with the
-- SDK's headers. BODIES (directory), COUNT and GZIP (1 or 0) come from the environment. No two
-- requests are the same bytes, as in real traffic (the relay drops a byte-for-byte copy of a
-- delivered request): a gzip body carries the request's number in its header's MTIME (which
-- decompression ignores), a plain one as 16 whitespace characters after the JSON.
local dir = os.getenv("BODIES")
local count = tonumber(os.getenv("COUNT") or "32")
local gz = os.getenv("GZIP") == "1"
local bodies = {}
local n = 0
local sent = 0
local threads = 0

-- Each thread numbers its requests from its own range.
function setup(thread)
  thread:set("first", threads * 16777216)
  threads = threads + 1
end

local function numbered(body, k)
  if gz then
    local b = {}
    for _ = 1, 4 do
      b[#b + 1] = string.char(k % 256)
      k = math.floor(k / 256)
    end
    return body:sub(1, 4) .. table.concat(b) .. body:sub(9)
  end
  local ws = { " ", "\t", "\n", "\r" }
  local t = {}
  for _ = 1, 16 do
    t[#t + 1] = ws[k % 4 + 1]
    k = math.floor(k / 4)
  end
  return body .. table.concat(t)
end

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
  sent = sent + 1
  return wrk.format("POST", nil, headers, numbered(bodies[n], (first or 0) + sent))
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors_status=%d errors_other=%d seconds=%.3f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
