-- wrk script: password logins, `POST /api/v1/account/login` (JSON), each a fresh sign-in and an
-- argon2id check, the percentiles in one parsable line. The accounts are $PREFIX1@example.com …
-- $PREFIX$ACCOUNTS@example.com ($PREFIX defaults to `login-`), all with password $PASSWORD, taken
-- in turn (each thread from its own place): Signoff throttles parallel checks of one account from
-- one address, as a guesser's would be, so one account under 16 connections would measure the
-- throttle, not the logins.
local accounts = tonumber(os.getenv("ACCOUNTS") or "32")
local password = os.getenv("PASSWORD")
local prefix = os.getenv("PREFIX") or "login-"
local threads = {}
local next_account = 1

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  next_account = (id * math.floor(accounts / 2)) % accounts + 1
end

function request()
  local body = string.format('{"email":"%s%d@example.com","password":"%s"}', prefix, next_account, password)
  next_account = next_account % accounts + 1
  return wrk.format("POST", "/api/v1/account/login", { ["Content-Type"] = "application/json" }, body)
end

function done(summary, latency, requests)
  io.write(string.format("LUA-SUMMARY requests=%d non2xx=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
