-- wrk script for bench/service.py: POST one prepared multipart body over and over.
-- Arguments after "--": body file, Content-Type header, responses per thread at most.
-- Prints one line "RESULT {json}" with the status counts, errors and latency.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local file = assert(io.open(args[1], "rb"))
   wrk.body = file:read("*a")
   file:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = args[2]
   limit = tonumber(args[3])
   statuses = {}
   answered = 0
end

function response(status, headers, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
   answered = answered + 1
   -- The count bound: the time bound is wrk's own --duration.
   if answered >= limit then
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local parts = {}
   for _, thread in ipairs(threads) do
      for key, count in pairs(thread:get("statuses")) do
         parts[key] = (parts[key] or 0) + count
      end
   end
   local counts = {}
   for key, count in pairs(parts) do
      table.insert(counts, string.format('"%s": %d', key, count))
   end
   local errors = summary.errors
   io.write(string.format(
      'RESULT {"requests": %d, "duration_us": %d, "statuses": {%s}, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
      '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d}}\n',
      summary.requests, summary.duration, table.concat(counts, ", "),
      errors.connect, errors.read, errors.write, errors.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
