-- POST one JSON body, read from the file named after `--`, on every request; at the end print
-- one line "WRK_JSON {...}" with the counts and latency percentiles (microseconds).
--
--   wrk -t2 -c64 -d10s -s bench/_serving_post.lua http://127.0.0.1:PORT/path -- body.json

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function init(args)
  local file = assert(io.open(args[1], "rb"), "cannot open the request body " .. tostring(args[1]))
  wrk.body = file:read("*a")
  file:close()
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
