-- wrk script: the refresh grant (POST $PATH_, grant_type=refresh_token), each request with a
-- refresh token used once. Every grant rotates the refresh token, so each connection chains: the
-- tokens in $TOKENS (one a line, minted beforehand by code flows) start the chains, and every 200
-- answer's new refresh_token goes back into its thread's pool for the next request. A thread needs
-- at least as many tokens as it has connections (plus one: wrk calls request() once before the run
-- to check the script). A failed grant ends its chain; when a thread's pool is empty it sends
-- `exhausted`, which shows up as non-2xx. The client authenticates with HTTP Basic ($AUTH).
-- $THREADS must equal wrk's -t (see bench/tokens.lua).
local file = os.getenv("TOKENS")
local nthreads = tonumber(os.getenv("THREADS") or "1")
local path = os.getenv("PATH_") or "/oauth/token"
local auth = "Basic " .. os.getenv("AUTH")
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  if id >= nthreads then error("wrk runs more threads than THREADS=" .. nthreads) end
  pool = {}
  local i = 0
  for line in io.lines(file) do
    if line ~= "" then
      if i % nthreads == id then pool[#pool + 1] = line end
      i = i + 1
    end
  end
end

function request()
  local token = table.remove(pool) or "exhausted"
  return wrk.format("POST", path, {
    ["Authorization"] = auth,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  if status == 200 then
    local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if token then pool[#pool + 1] = token end
  end
end

function done(summary, latency, requests)
  io.write(string.format("LUA-SUMMARY requests=%d non2xx=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
