-- wrk script: every request uses the next token from $TOKENS (one per line, minted beforehand), so
-- each logout ends a fresh sign-in. $DIALECT picks the request shape: 000, 001, 002 or 004; or
-- `me` (`GET /api/v1/account/me`, each token read once: no cached read of it to use).
-- Tokens are split between wrk's threads so none is used twice: $THREADS must equal wrk's -t
-- (wrk runs a thread's init() before the next thread's setup(), so no thread can count the others).
local dialect = os.getenv("DIALECT") or "002"
local file = os.getenv("TOKENS")
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
  local line = tokens[counter]
  counter = counter + 1
  if line == nil then
    -- Out of fresh tokens: this request will be a 401 and show up as non-2xx.
    line = "exhausted exhausted"
  end
  local access, refresh = line:match("^(%S+)%s*(%S*)$")
  local auth = { ["Authorization"] = "Bearer " .. access }
  if dialect == "me" then
    return wrk.format("GET", "/api/v1/account/me", auth)
  elseif dialect == "000" then
    return wrk.format("GET", "/api/v1/account/logout?token=" .. access, {})
  elseif dialect == "001" then
    return wrk.format("POST", "/auth/logout", auth)
  elseif dialect == "002" then
    return wrk.format("DELETE", "/api/v1/logout", auth)
  else
    auth["Content-Type"] = "application/json"
    return wrk.format("POST", "/api/auth/logout", auth, '{"refresh_token":"' .. refresh .. '"}')
  end
end

function done(summary, latency, requests)
  io.write(string.format("LUA-SUMMARY requests=%d non2xx=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
