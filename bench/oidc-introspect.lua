-- wrk script: POST $PATH_ (an RFC 7662 introspection endpoint) with `token=$TOKEN`, the client
-- authenticated by HTTP Basic ($AUTH: base64 of client_id:secret), and the percentiles in one
-- parsable line. bench/oidc.sh checks with curl, before and after, that the token is active.
wrk.method = "POST"
wrk.path = os.getenv("PATH_") or "/oauth/introspect"
wrk.body = "token=" .. os.getenv("TOKEN")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("AUTH")

function done(summary, latency, requests)
  io.write(string.format("LUA-SUMMARY requests=%d non2xx=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
