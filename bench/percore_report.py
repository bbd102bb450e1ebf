#!/usr/bin/env python3
"""The Markdown tables of bench/percore.sh, from what it left in its work directory: per engine and
scenario, NAME.json (bench/counters.py), NAME.pg.json (PostgreSQL's counters once the servers had
stopped), NAME.out.I (wrk with a LUA-SUMMARY line, one per instance, run at once) or NAME.out
(bench/oidc-load.mjs's JSON line). Standard library only.

    percore_report.py WORK "ENGINES" SECONDS LOGOUT_SECONDS CONNECTIONS LOGIN_CONNECTIONS RATE RATE_SECONDS PG_INSTANCES
"""
import json
import os
import re
import sys

work, engines, secs, logout_secs, conns, login_conns, rate, rate_secs, pg_instances = sys.argv[1:10]
engines = engines.split()
ENGINE = {"sqlite": "SQLite (FULL), one server", "postgres": f"PostgreSQL 15, {pg_instances} instances"}
# Keycloak's sizing guide (per vCPU of Keycloak; its database sized apart).
KEYCLOAK = {"logout": "none published", "login": "15", "refresh": "120", "refresh-shared": "120"}
WORK = {
    "logout": "logout, seed 002 (`DELETE /api/v1/logout`)",
    "login": "password login (`POST /api/v1/account/login`, argon2id)",
    "refresh": "refresh grant (`POST /oauth/token`, rotation), one sign-in per chain",
    "refresh-shared": "the same, 16 grants per sign-in refreshing at once",
}


def load(name):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        text = f.read().strip()
    return json.loads(text.splitlines()[-1]) if text else None


def wrk(name):
    """The wrk runs NAME.out.1, NAME.out.2, … (one per instance, at once) as one: requests and rates
    summed, the worst of their percentiles (as bench/run.sh reports generators run together)."""
    runs = []
    for i in range(1, 17):
        path = os.path.join(work, f"{name}.{i}")
        if not os.path.exists(path):
            break
        text = open(path).read()
        m = re.search(r"LUA-SUMMARY requests=(\d+) non2xx=(\d+) p50_us=(\d+) p99_us=(\d+)", text)
        rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
        if not m or not rps:
            return None
        requests, non2xx = int(m.group(1)), int(m.group(2))
        runs.append({
            "rps": float(rps.group(1)), "requests": requests, "non2xx": non2xx,
            "ok_rps": float(rps.group(1)) * (requests - non2xx) / requests if requests else 0,
            "p50": int(m.group(3)) / 1000, "p99": int(m.group(4)) / 1000,
        })
    if not runs:
        return None
    return {
        "rps": sum(r["rps"] for r in runs), "requests": sum(r["requests"] for r in runs),
        "non2xx": sum(r["non2xx"] for r in runs), "ok_rps": sum(r["ok_rps"] for r in runs),
        "p50": max(r["p50"] for r in runs), "p99": max(r["p99"] for r in runs),
    }


def n(v, digits=0):
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def server_cpu(c):
    return sum(p["cpu_s"] for p in c["procs"].values())


# ---- Per CPU ----
print(f"#### Per CPU (wrk -t2; logouts {logout_secs} s and refreshes {secs} s over {conns} connections, logins {secs} s over {login_conns})")
print()
print("*Cores busy* are averages over the run: *machine* from /proc/stat (all processes: the load "
      "generator, PostgreSQL, anything else running), *servers* from the Signoff processes' own CPU time, "
      "*PG* PostgreSQL's processes for this database, *wrk* the load generator's, *interrupts* the kernel's "
      "hard and soft interrupts (loopback TCP is processed there; no process is charged for it), *others* "
      "the rest (other processes on the machine). *Per core* divides the answered-2xx rate by them.")
print()
print("| engine | work | 2xx/s | p50 ms | p99 ms | non-2xx | cores busy: machine | servers | PG | wrk | interrupts | others | **per machine core** | per server core | per server + PG core | Keycloak per vCPU |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for e in engines:
    for kind in ("logout", "login", "refresh", "refresh-shared"):
        c, w = load(f"{e}-{kind}.json"), wrk(f"{e}-{kind}.out")
        if not c or not w:
            print(f"| {ENGINE[e]} | {WORK[kind]} | not measured | | | | | | | | | | | | | {KEYCLOAK[kind]} |")
            continue
        wall = c["wall_s"]
        machine = c["cpu"]["cores"]
        srv = server_cpu(c) / wall
        pg = c.get("pg_cpu_s", 0) / wall if e == "postgres" else None
        gen = c["cpu"]["command_cpu_s"] / wall
        irq = c["cpu"].get("irq_cores", 0)
        others = machine - srv - (pg or 0) - gen - irq
        ok = w["ok_rps"]
        # A logout run that ran out of fresh tokens answered 401s: its rate is no saturation figure.
        void = " (**void**: non-2xx)" if w["non2xx"] else ""
        print(f"| {ENGINE[e]} | {WORK[kind]} | {n(ok)}{void} | {w['p50']:.2f} | {w['p99']:.2f} | {w['non2xx']} | "
              f"{machine:.2f} | {srv:.2f} | {n(pg, 2)} | {gen:.2f} | {irq:.2f} | {max(others, 0):.2f} | **{n(ok / machine if machine else None)}** | "
              f"{n(ok / srv if srv else None)} | {n(ok / (srv + (pg or 0)) if srv else None) if e == 'postgres' else '–'} | {KEYCLOAK[kind]} |")
print()

# ---- Writes per 100 logouts ----
print(f"#### Database writes per 100 logouts (seed 002; Keycloak: 1,400 write IOPS per 100 requests/s, i.e. 1,400 per 100 requests)")
print()
print("*Device*: /proc/diskstats of the disk holding the database (PostgreSQL: its data directory, WAL "
      "included), writes completed and flushes (cache flushes: what an fsync costs the disk), over the run; "
      "every process's writes to that disk count. *Idle*: the same disk over an idle run of the same engine "
      "(the servers up, nothing sent), scaled to the run's length: the background the run's figure includes. "
      "*Server syscalls*: the Signoff processes' write system calls (/proc/PID/io). PostgreSQL: "
      "pg_stat_database commits of the run's database; pg_stat_wal (cluster-wide) WAL syncs, writes, records, bytes.")
print()
print("| engine | run | logouts (2xx) | logouts/s | device writes | idle background | **device writes / 100 logouts** | flushes / 100 | server write syscalls / 100 | commits / 100 | WAL syncs / 100 | WAL writes / 100 | WAL bytes / logout |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for e in engines:
    idle = load(f"{e}-idle.json")
    for kind, label in (("logout", f"saturation (wrk, {conns} connections, {logout_secs} s)"), ("rate", f"fixed rate ({rate}/s asked for {rate_secs} s)")):
        c = load(f"{e}-{kind}.json")
        if not c:
            print(f"| {ENGINE[e]} | {label} | not measured | | | | | | | | | | |")
            continue
        o = {}
        if kind == "logout":
            w = wrk(f"{e}-logout.out")
            done = (w["requests"] - w["non2xx"]) if w else 0
        else:
            o = load(f"{e}-rate.out") or {}
            done = o.get("ok", 0)
            # The load's own rate: its wall time includes Node's start and the last answers.
            label += f", {o.get('non2xx', 0) + o.get('errors', 0)} failed, {o.get('unanswered')} unanswered"
        wall = c["wall_s"]
        disk = next(iter(c["disk"].values()), {})
        writes, flushes = disk.get("writes"), disk.get("flushes")
        bg = None
        if idle:
            idisk = next(iter(idle["disk"].values()), {})
            bg = idisk.get("writes", 0) * wall / idle["wall_s"]
        syscw = sum(p.get("syscw", 0) for p in c["procs"].values())
        per = lambda v: None if v is None or not done else 100 * v / done
        pgcols = ["–"] * 4
        after = load(f"{e}-{kind}.pg.json")
        if e == "postgres" and c.get("pg_before") and after:
            d = {k: after[k] - c["pg_before"][k] for k in after}
            pgcols = [n(per(d["xact_commit"]), 1), n(per(d["wal_sync"]), 1), n(per(d["wal_write"]), 1),
                      n(d["wal_bytes"] / done if done else None)]
        rate_shown = o.get("rate") if kind == "rate" else (w["ok_rps"] if w else None)
        print(f"| {ENGINE[e]} | {label} | {n(done)} | {n(rate_shown)} | {n(writes)} | {n(bg)} | **{n(per(writes), 1)}** | "
              f"{n(per(flushes), 1)} | {n(per(syscw), 1)} | " + " | ".join(pgcols) + " |")
print()
for e in engines:
    idle = load(f"{e}-idle.json")
    if idle:
        d = next(iter(idle["disk"].values()), {})
        print(f"- {ENGINE[e]}, idle run ({idle['wall_s']:.1f} s): {d.get('writes')} device writes, {d.get('flushes')} flushes; "
              f"machine cores busy {idle['cpu']['cores']:.2f} (nothing of ours running but the idle servers).")
