-- pipeline.lua: make wrk send DEPTH requests per write (HTTP/1.1 pipelining) and count
-- every response. Usage: wrk -s pipeline.lua URL -- [DEPTH]   (DEPTH defaults to 16)
-- The requests carry the -H headers given to wrk. wrk waits for all DEPTH responses on
-- a connection before it writes the next batch.
init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format()
  end
  req = table.concat(r)
end

request = function()
  return req
end
