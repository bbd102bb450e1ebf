#!/usr/bin/env python3
"""Revocation propagation between two instances on one PostgreSQL.

For each JWT (one per line of the file, `access refresh`, minted beforehand): check instance B
accepts it, log it out on instance A (seed 000), then poll B's /api/v1/account/me as fast as one
connection allows until B answers 401. Reports the time from A's answer to B's first refusal.
Standard library only; talks only to the two loopback addresses given.
"""
import http.client
import statistics
import sys
import time


def main() -> None:
    a_port, b_port, tokens_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    a = http.client.HTTPConnection("127.0.0.1", a_port, timeout=5)
    b = http.client.HTTPConnection("127.0.0.1", b_port, timeout=5)

    def me(conn, token):
        conn.request("GET", "/api/v1/account/me", headers={"Authorization": f"Bearer {token}"})
        r = conn.getresponse()
        r.read()
        return r.status

    samples, polls = [], []
    for line in open(tokens_path):
        access = line.split()[0]
        assert me(b, access) == 200, "B accepts the fresh token"
        a.request("GET", f"/api/v1/account/logout?token={access}")
        r = a.getresponse()
        r.read()
        assert r.status == 200, r.status
        done = time.perf_counter()
        n = 0
        while True:
            n += 1
            if me(b, access) == 401:
                break
            if time.perf_counter() - done > 5:
                raise SystemExit("B still accepts a token revoked 5 s ago")
        samples.append((time.perf_counter() - done) * 1000)
        polls.append(n)
    samples.sort()
    p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]
    print(
        f"PROPAGATION n={len(samples)} p50_ms={p(0.5):.2f} p99_ms={p(0.99):.2f} "
        f"max_ms={samples[-1]:.2f} mean_polls={statistics.mean(polls):.2f}"
    )


if __name__ == "__main__":
    main()
