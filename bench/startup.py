#!/usr/bin/env python3
"""Start-up time and memory of one Signoff server (issue 28, "growth"): starts BIN (with this
process's environment; its output appended to LOG), polls http://127.0.0.1:PORT/readyz every 2 ms
until it answers 200, and prints one JSON line: the server's pid (it keeps running: the caller
stops it), `ready_ms` (process start → the first 200 from /readyz) and its resident memory then
(`rss_kb`: VmRSS, `hwm_kb`: VmHWM, the peak so far, from /proc/PID/status).

    python3 bench/startup.py BIN PORT LOG
    python3 bench/startup.py --rss PID     # VmRSS and VmHWM of a running server, JSON

Standard library only; talks only to 127.0.0.1.
"""
import http.client
import json
import subprocess
import sys
import time


def memory(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out["rss_kb" if key == "VmRSS" else "hwm_kb"] = int(value.split()[0])
    return out


def main():
    if sys.argv[1] == "--rss":
        print(json.dumps(memory(int(sys.argv[2]))))
        return
    binary, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(log, "ab") as out:
        t0 = time.monotonic()
        server = subprocess.Popen([binary], stdout=out, stderr=subprocess.STDOUT)
    deadline = t0 + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode} (see {log})")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", "/readyz")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                ready = time.monotonic()
                break
        except OSError:
            pass
        time.sleep(0.002)
    else:
        server.kill()
        raise SystemExit("/readyz did not answer 200 within 300 s")
    print(json.dumps({"pid": server.pid, "ready_ms": round((ready - t0) * 1000, 1), **memory(server.pid)}))


if __name__ == "__main__":
    main()
