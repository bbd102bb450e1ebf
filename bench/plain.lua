-- wrk script: plain GET (with Accept-Encoding: $ACCEPT_ENCODING when set), with the percentiles in
-- one parsable line.
local encoding = os.getenv("ACCEPT_ENCODING")
if encoding and encoding ~= "" then
  wrk.headers["Accept-Encoding"] = encoding
end

function done(summary, latency, requests)
  io.write(string.format("LUA-SUMMARY requests=%d non2xx=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
