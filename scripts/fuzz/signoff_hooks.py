"""Schemathesis hooks for scripts/fuzz-api: every request that carries credentials gets a fresh
token, so a logout the fuzzer sent earlier does not leave the rest of the run at 401."""

import json
import os
import urllib.request

import schemathesis

BASE = os.environ["SIGNOFF_FUZZ_BASE"]
ACCOUNT = {"email": "fuzz@example.com", "password": "correct horse battery"}


def _login() -> str:
    req = urllib.request.Request(
        BASE + "/api/v1/account/login",
        data=json.dumps(ACCOUNT).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(req) as res:
        return json.load(res)["data"]["token"]


@schemathesis.auth(refresh_interval=None)
class FreshToken:
    def get(self, case, context):
        return _login()

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
