-- The lab's wrk script (loadtests/load/wrk.py): count the answers by the "pid" field of
-- their JSON body (which worker process answered), and print wrk's summary as one JSON line.
--   wrk -t1 -c16 -d3s -s loadtests/load/wrk_split.lua 'http://127.0.0.1:8000/io?delay=0.1'

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  pids = {}
end

function response(status, headers, body)
  local pid = body and body:match('"pid"%s*:%s*(%d+)')
  if pid then
    pids[pid] = (pids[pid] or 0) + 1
  end
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for pid, n in pairs(thread:get("pids")) do
      counts[pid] = (counts[pid] or 0) + n
    end
  end
  local by = {}
  for pid, n in pairs(counts) do
    table.insert(by, string.format('"%s": %d', pid, n))
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_s": %.6f, "errors": {"connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d}, "latency_ms": {"p50": %.3f, ' ..
    '"p99": %.3f, "max": %.3f}, "by": {%s}}\n',
    summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, table.concat(by, ", ")))
end
