-- wrk script for the Django peer: every request blacklists the next refresh token from $TOKENS
-- (one per line, from mint.sh) with POST /api/logout/ {"refresh": "..."} (simplejwt's
-- TokenBlacklistView). Tokens are split between wrk's threads (set THREADS to wrk's -t) so none
-- is used twice.
local file = os.getenv("TOKENS")
-- wrk gives each thread its own Lua state, and calls init() of a thread before the next thread's
-- setup(), so a thread cannot count the others: $THREADS must equal wrk's -t (default 1).
local nthreads = tonumber(os.getenv("THREADS") or "1")
local counter = 1
local threads = {}

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do lines[#lines + 1] = line end
  return lines
end

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  if id >= nthreads then error("wrk runs more threads than THREADS=" .. nthreads) end
  local all = read_lines(file)
  tokens = {}
  for i = id + 1, #all, nthreads do tokens[#tokens + 1] = all[i] end
  counter = 1
end

function request()
  local token = tokens[counter]
  counter = counter + 1
  -- Out of fresh tokens: this request will be a 401 and show up as non-2xx.
  if token == nil then token = "exhausted" end
  return wrk.format("POST", "/api/logout/", { ["Content-Type"] = "application/json" },
    '{"refresh":"' .. token .. '"}')
end

function done(summary, latency, requests)
  io.write(string.format("LUA-SUMMARY requests=%d non2xx=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
