#!/usr/bin/env python3
"""What a benchmark run cost the machine, from the kernel's and PostgreSQL's own counters (issue 28).

Runs one command (a wrk run, an open-loop load) between two snapshots and prints one JSON object of
the differences:

- `wall_s`: the command's wall time (CLOCK_MONOTONIC).
- `cpu`: all cores from /proc/stat (busy and total jiffies, `cores`: how many cores were busy on
  average, `irq_cores` of them in interrupts; iowait counts as idle, as in bench/run.sh), the CPU seconds of each watched process
  (/proc/PID/stat utime + stime, every thread), of the command itself with its children
  (getrusage: the load generator) and, with --pg-db, of PostgreSQL's processes for that database
  (`pg_cpu_s`: its backends, found by their command line, and the WAL writer, checkpointer and
  background writer).
- `io`: per watched process, /proc/PID/io `syscw` (write system calls) and `write_bytes` (bytes sent
  to the block layer); per watched device, /proc/diskstats writes completed, sectors written and
  flushes completed (fsync reaching the disk).
- `pg` (with --pg-url): pg_stat_wal (records, bytes, writes, syncs) and pg_stat_bgwriter (buffers
  written), which are cluster-wide, and pg_stat_database's commits and tuples of --pg-db. Backends
  send their statistics only now and then: take the "after" side once the server has closed its
  connections (`counters.py pg` after stopping it) for exact numbers.

    python3 bench/counters.py run --pid 1234 --pid 1250 --disk /path/on/the/device \
        [--pg-url postgres://… --pg-db NAME] --out wrk.txt -- wrk -t2 -c64 -d5s …
    python3 bench/counters.py pg --pg-url postgres://… --pg-db NAME     # one snapshot, JSON

Standard library only (psql for PostgreSQL). Reads counters; changes nothing.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine_cpu():
    """Busy and total jiffies of all cores, and those spent in interrupts (hard and soft: loopback
    TCP is processed there, and no process is charged for it)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # user … steal (guest time is already inside user)
    return total - idle, total, fields[5] + fields[6]


def process_cpu(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name may hold spaces: fields start after the last ')'.
    rest = stat[stat.rindex(")") + 2 :].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def process_io(pid):
    try:
        with open(f"/proc/{pid}/io") as f:
            pairs = dict(line.split(": ") for line in f.read().splitlines())
    except OSError:
        return None
    return {"syscw": int(pairs["syscw"]), "write_bytes": int(pairs["write_bytes"])}


def pg_processes(db):
    """CPU seconds of PostgreSQL's processes working for database `db`, by pid: its backends (their
    command line names the database) and the WAL writer, checkpointer and background writer."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("postgres: ") and (
            f" {db} " in cmd or any(k in cmd for k in ("walwriter", "checkpointer", "background writer"))
        ):
            cpu = process_cpu(pid)
            if cpu is not None:
                out[pid] = cpu
    return out


def device_of(path):
    st = os.stat(path)
    return os.major(st.st_dev), os.minor(st.st_dev)


def diskstats(devices):
    out = {}
    with open("/proc/diskstats") as f:
        for line in f:
            p = line.split()
            key = (int(p[0]), int(p[1]))
            if key in devices:
                v = [int(x) for x in p[3:]]
                out[p[2]] = {
                    "writes": v[4],
                    "sectors_written": v[6],
                    "flushes": v[15] if len(v) > 15 else None,
                }
    return out


def psql(url, sql):
    res = subprocess.run(["psql", url, "-XAtqc", sql], capture_output=True, text=True, check=True)
    return res.stdout.strip()


def pg_snapshot(url, db):
    wal = psql(url, "SELECT wal_records, wal_fpi, wal_bytes, wal_write, wal_sync FROM pg_stat_wal")
    bgw = psql(url, "SELECT buffers_checkpoint + buffers_clean + buffers_backend FROM pg_stat_bgwriter")
    dbs = psql(
        url,
        "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database "
        f"WHERE datname = '{db}'",
    )
    w = [int(x) for x in wal.split("|")]
    d = [int(x) for x in dbs.split("|")] if dbs else [0, 0, 0, 0]
    return {
        "wal_records": w[0], "wal_fpi": w[1], "wal_bytes": w[2], "wal_write": w[3], "wal_sync": w[4],
        "buffers_written": int(bgw),
        "xact_commit": d[0], "tup_inserted": d[1], "tup_updated": d[2], "tup_deleted": d[3],
    }


def snapshot(args, devices):
    return {
        "t": time.monotonic(),
        "cpu": machine_cpu(),
        "procs": {str(p): (process_cpu(p), process_io(p)) for p in args.pid},
        "disk": diskstats(devices),
        "pg": pg_snapshot(args.pg_url, args.pg_db) if args.pg_url else None,
        "pg_cpu": pg_processes(args.pg_db) if args.pg_db else {},
    }


def diff(a, b):
    busy, total = b["cpu"][0] - a["cpu"][0], b["cpu"][1] - a["cpu"][1]
    irq = b["cpu"][2] - a["cpu"][2]
    ncpu = os.cpu_count()
    procs = {}
    for pid, (cpu0, io0) in a["procs"].items():
        cpu1, io1 = b["procs"].get(pid, (None, None))
        if cpu0 is None or cpu1 is None:
            continue
        procs[pid] = {"cpu_s": round(cpu1 - cpu0, 3)}
        if io0 and io1:
            procs[pid].update({k: io1[k] - io0[k] for k in io0})
    return {
        "wall_s": round(b["t"] - a["t"], 3),
        "cpu": {
            "busy_jiffies": busy, "total_jiffies": total, "ncpu": ncpu,
            "cores": round(ncpu * busy / total, 3) if total else 0,
            "irq_cores": round(ncpu * irq / total, 3) if total else 0,
        },
        "procs": procs,
        "disk": {
            name: {k: (v - a["disk"][name][k]) if v is not None else None for k, v in s.items()}
            for name, s in b["disk"].items() if name in a["disk"]
        },
        # Processes started during the run count from zero; those gone by its end are missed.
        "pg_cpu_s": round(sum(v - a["pg_cpu"].get(p, 0) for p, v in b["pg_cpu"].items()), 3),
        "pg_before": a["pg"],
        "pg_after": b["pg"],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["run", "pg", "pids"])
    ap.add_argument("--pid", type=int, action="append", default=[])
    ap.add_argument("--disk", action="append", default=[], help="a path on the device to watch")
    ap.add_argument("--pg-url")
    ap.add_argument("--pg-db")
    ap.add_argument("--out", help="where the command's standard output goes")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = ap.parse_args(argv[:cut])
    cmd = argv[cut + 1 :]
    if args.mode == "pg":
        print(json.dumps(pg_snapshot(args.pg_url, args.pg_db)))
        return
    if args.mode == "pids":
        # PostgreSQL's processes doing this database's work: its backends and the WAL writer,
        # checkpointer and background writer.
        print(" ".join(psql(args.pg_url,
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{args.pg_db}' "
            "OR backend_type IN ('walwriter', 'checkpointer', 'background writer')").split()))
        return
    devices = {device_of(p) for p in args.disk}
    before = snapshot(args, devices)
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(args.out or os.devnull, "w") as out:
        rc = subprocess.call(cmd, stdout=out)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    after = snapshot(args, devices)
    result = diff(before, after)
    result["cpu"]["command_cpu_s"] = round((c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime), 3)
    result["rc"] = rc
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
