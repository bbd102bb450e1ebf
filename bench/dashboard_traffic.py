"""Mixed traffic for bench/dashboard.sh: for the given seconds, 8 threads each sign up an account,
then in a loop log in and out in every dialect (seed 000, 001, 002, 004 with a refresh, RFC 7009),
and now and then try wrong passwords until the account is throttled (429)."""
import json
import sys
import threading
import time
import urllib.error
import urllib.request

BASE, SECONDS = sys.argv[1], float(sys.argv[2])
PASSWORD = "correct horse battery"


def call(method, path, body=None, token=None, form=False):
    data = None
    headers = {}
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["content-type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            raw = res.read()
            return res.status, (json.loads(raw) if raw[:1] in (b"{", b"[") else None)
    except urllib.error.HTTPError as err:
        return err.code, None


def worker(n, deadline, counts):
    email = f"dash{n}-{int(time.time())}@example.com"
    call("POST", "/api/v1/account/register", {"email": email, "password": PASSWORD})
    creds = {"email": email, "password": PASSWORD}
    i = 0
    while time.time() < deadline:
        i += 1
        _, b = call("POST", "/api/v1/account/login", creds)
        token = b["data"]["token"]
        dialect = i % 4
        if dialect == 0:
            call("GET", f"/api/v1/account/logout?token={token}")
        elif dialect == 1:
            call("POST", "/auth/logout", {}, token=token)
        elif dialect == 2:
            call("DELETE", "/api/v1/logout", token=token)
        else:
            call("POST", "/oauth/revoke", {"token": token}, form=True)
        _, pair = call("POST", "/api/auth/login", creds)
        _, pair = call("POST", "/api/auth/refresh", {"refresh_token": pair["data"]["refresh_token"]})
        pair = pair["data"]
        call("POST", "/api/auth/logout", {"refresh_token": pair["refresh_token"]}, token=pair["access_token"])
        if i % 25 == 0:
            # A burst of wrong passwords for a throwaway account, until it is throttled.
            wrong = {"email": f"nobody{n}-{i}@example.com", "password": "not the password"}
            for _ in range(12):
                status, _ = call("POST", "/api/v1/account/login", wrong)
                if status == 429:
                    break
        counts[n] = i


import urllib.parse  # noqa: E402

deadline = time.time() + SECONDS
counts = [0] * 8
threads = [threading.Thread(target=worker, args=(n, deadline, counts)) for n in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"traffic: {sum(counts)} rounds of logins and logouts in {SECONDS:.0f} s", file=sys.stderr)
