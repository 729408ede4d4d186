-- POST one JSON body (file named after `--`) with a fresh sticky key per request
-- (x-user-id: u<n>), and print one "WRK_JSON {...}" line with counts and latency percentiles.
--
--   wrk -t2 -c64 -d10s -s bench/_rollout_post.lua http://127.0.0.1:PORT/path -- body.json

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local counter = 0

function init(args)
  local file = assert(io.open(args[1], "rb"), "cannot open the request body " .. tostring(args[1]))
  wrk.body = file:read("*a")
  file:close()
end

function request()
  counter = counter + 1
  wrk.headers["x-user-id"] = "u" .. tostring(counter % 100000)
  return wrk.format(nil, nil, nil, nil)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
      .. '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean
  ))
end
