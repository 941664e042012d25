-- wrk script: every request slot sends 16 pipelined GETs (HTTP/1.1).
-- Usage: wrk -s bench/pipeline.lua URL   (PIPELINE=N to change the depth)
local depth = tonumber(os.getenv("PIPELINE") or "16")
init = function(args)
  local requests = {}
  for i = 1, depth do
    requests[i] = wrk.format(nil, wrk.path)
  end
  batch = table.concat(requests)
end
request = function()
  return batch
end
