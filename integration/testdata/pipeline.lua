-- wrk script for hop's integration tests: sends DEPTH GET requests in one write
-- (HTTP/1.1 pipelining; DEPTH is the first script argument, default 16), checks every
-- response's status, Content-Length and body, and prints one machine-readable summary
-- line that the Go test parses:
--
--   HOP-WRK requests=N checked=N bad=N connect=N read=N write=N status=N timeout=N
--
-- usage: wrk -t1 -c20 -d3s -s pipeline.lua URL -- 16

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- Per thread (each wrk thread has its own Lua state).
local batch
checked = 0
bad = 0
firstbad = ""

function init(args)
  local depth = tonumber(args[1]) or 16
  local path = wrk.path
  if path == nil or path == "" then
    path = "/"
  end
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format("GET", path)
  end
  batch = table.concat(r)
end

function request()
  return batch
end

function response(status, headers, body)
  checked = checked + 1
  if status ~= 200 or headers["Content-Length"] ~= "13" or body ~= "Hello, World!" then
    if bad == 0 then
      firstbad = string.format("status=%d content-length=%s body=%q",
        status, tostring(headers["Content-Length"]), tostring(body))
    end
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local c, b, first = 0, 0, ""
  for _, t in ipairs(threads) do
    c = c + t:get("checked")
    local tb = t:get("bad")
    if tb > 0 and first == "" then
      first = t:get("firstbad")
    end
    b = b + tb
  end
  local e = summary.errors
  io.write(string.format(
    "HOP-WRK requests=%d checked=%d bad=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, c, b, e.connect, e.read, e.write, e.status, e.timeout))
  if first ~= "" then
    io.write("HOP-WRK-FIRST-BAD " .. first .. "\n")
  end
end
