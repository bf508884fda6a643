-- wrk's requests for bench/run's scenario 2: each one a sign-up for a new address.
-- `done` prints the figures bench/wrk_load.py reads, as one JSON line.
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local sent = 0

function request()
  sent = sent + 1
  local body = string.format(
    '{"email":"wrk-%d-%d@example.com","password":"correct horse"}', tid, sent)
  return wrk.format("POST", "/v1/registrations", {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"not_2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout))
end
