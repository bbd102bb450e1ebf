#!/usr/bin/env python3
"""The Markdown report of bench/oidc.sh, from what it left in its work directory:
logout-{signoff,peer,signoff-load}.json (bench/oidc-flows.mjs) and wrk-KEY-ROUND.out (wrk with a
LUA-SUMMARY line). Standard library only.

    oidc_report.py WORK ROUNDS PEER_VERSION LOAD_NOTE N LOAD_RATE SECONDS CONNECTIONS THREADS
"""
import json
import os
import re
import sys

work, rounds, peer_version, load_note, n, load_rate, secs, conns, threads = sys.argv[1:10]
rounds = int(rounds)
PEER = f"oidc-provider {peer_version}"


def load(name):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        text = f.read().strip()
    return json.loads(text.splitlines()[-1]) if text else None


def ms(v):
    return "–" if v is None else f"{v:.1f}"


def wrk(key, r):
    with open(os.path.join(work, f"wrk-{key}-{r}.out")) as f:
        text = f.read()
    rps = float(re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M).group(1))
    m = re.search(r"LUA-SUMMARY requests=(\d+) non2xx=(\d+) p50_us=(\d+) p99_us=(\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    return {
        "rps": rps, "requests": int(m.group(1)), "non2xx": int(m.group(2)),
        "p50": int(m.group(3)) / 1000, "p99": int(m.group(4)) / 1000,
        "socket_errors": errors.group(1) if errors else "",
    }


def median(key):
    runs = sorted((wrk(key, r) for r in range(1, rounds + 1)), key=lambda x: x["rps"])
    mid = runs[(len(runs) - 1) // 2]
    return {**mid, "lo": runs[0]["rps"], "hi": runs[-1]["rps"]}


def verdict(ok):
    return "**met**" if ok else "**missed**"


# ---- 1. Logout ----
s, p, sl = load("logout-signoff.json"), load("logout-peer.json"), load("logout-signoff-load.json")
print(f"### Logout reaches every application (RP-initiated logout, 10 clients in one sign-in, N = {n} sign-ins)")
print()
print("Times in ms. *after answer*: the logout's final answer (Signoff: the `/end-session` 303; the peer: the 303 of "
      "its confirmation form's POST) → the 10th logout token received. *from request*: the logout's first "
      "request sent → the 10th token (for the peer that includes GET /session/end and the form's POST). "
      "*answer*: the logout's own round trip(s).")
print()
print("| provider | after answer p50 | after answer p99 | from request p50 | from request p99 | answer p50 | answer p99 | measured | missing (> 5 s) | bad answers | duplicate tokens |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")


def logout_row(name, r):
    if r is None:
        return
    print(f"| {name} | {ms(r['after_ms']['p50'])} | {ms(r['after_ms']['p99'])} | {ms(r['total_ms']['p50'])} | "
          f"{ms(r['total_ms']['p99'])} | {ms(r['answer_ms']['p50'])} | {ms(r['answer_ms']['p99'])} | "
          f"{r['measured']} | {r['missing']} | {r['failed']} | {r['duplicates']} |")


logout_row("Signoff", s)
if sl:
    ld = sl.get("load") or {}
    logout_row(f"Signoff, background seed-002 logouts at {ld.get('rate', '?')}/s (target {load_rate}/s)", sl)
logout_row(PEER, p)
print()
if sl:
    ld = sl.get("load") or {}
    print(f"Background load: {ld.get('ok')} logouts answered 2xx in {ld.get('seconds')} s ({ld.get('rate')}/s of "
          f"{load_rate}/s asked), {ld.get('non2xx')} non-2xx, {ld.get('errors')} connection errors, answers p50 "
          f"{ms(ld.get('p50_ms'))} ms / p99 {ms(ld.get('p99_ms'))} ms; stopped by: {ld.get('stopped_by')}"
          f"{' (it ran out of tokens before the logouts were done: raise BENCH_OIDC_LOAD_TOKENS)' if ld.get('stopped_by') == 'tokens' else ''}"
          f"{'; it fell behind its schedule (256 in flight)' if ld.get('fell_behind') else ''}. "
          f"The measured logouts took {sl.get('logout_s')} s after 1 s of load alone.")
else:
    print(f"Background load: {load_note}.")
print()

# ---- 2, 3. Throughput ----
keys = [
    ("healthz", "Signoff GET /healthz"),
    ("s-introspect", "Signoff POST /oauth/introspect"),
    ("p-introspect", f"{PEER} POST /token/introspection"),
    ("s-refresh", "Signoff refresh grant (POST /oauth/token)"),
    ("p-refresh", f"{PEER} refresh grant (POST /token)"),
]
M = {k: median(k) for k, _ in keys}
print(f"### Throughput (wrk -t{threads} -c{conns}, {secs} s runs, {rounds} interleaved rounds: median round, spread = lowest–highest round)")
print()
print("| scenario | requests/s | spread | p50 ms | p99 ms | requests | non-2xx | socket errors |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
for k, name in keys:
    m = M[k]
    print(f"| {name} | {m['rps']:.0f} | {m['lo']:.0f}–{m['hi']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} | "
          f"{m['requests']} | {m['non2xx']} | {m['socket_errors'] or '–'} |")
inactive = [open(os.path.join(work, f)).read().strip() for f in sorted(os.listdir(work)) if f.startswith("inactive-")]
for line in inactive:
    print(f"\nWARNING: {line} (the introspection numbers then measure `{{\"active\":false}}` answers)")
print()

# ---- Targets ----
def ratio(a, b):
    return M[a]["rps"] / M[b]["rps"] if M[b]["rps"] else float("nan")


print("### Targets")
print()
print("| target | measured | |")
print("| --- | --- | --- |")
if s:
    sp99 = s["after_ms"]["p99"]
    ok = sp99 is not None and s["missing"] == 0 and sp99 <= 50
    print(f"| logout → all 10 applications, p99 ≤ 50 ms (after the answer) | {ms(sp99)} ms, {s['missing']} missing | {verdict(ok)} |")
    if p:
        pp99 = p["after_ms"]["p99"]
        ok = sp99 is not None and pp99 is not None and sp99 < pp99
        print(f"| … and below the peer's (after the answer) | Signoff {ms(sp99)} ms, peer {ms(pp99)} ms "
              f"(the peer sends its tokens before it answers, so its figure is ≤ 0) | {verdict(ok)} |")
        st, pt = s["total_ms"]["p99"], p["total_ms"]["p99"]
        ok = st is not None and pt is not None and st < pt
        print(f"| … and below the peer's, from the logout's first request | Signoff {ms(st)} ms, peer {ms(pt)} ms | {verdict(ok)} |")
if sl:
    lp99 = sl["after_ms"]["p99"]
    ld = sl.get("load") or {}
    ok = lp99 is not None and sl["missing"] == 0 and lp99 <= 50
    print(f"| the same p99 ≤ 50 ms under ~{load_rate} logouts/s | {ms(lp99)} ms at {ld.get('rate')}/s achieved, {sl['missing']} missing | {verdict(ok)} |")
else:
    print(f"| the same p99 ≤ 50 ms under ~{load_rate} logouts/s | {load_note} | – |")
r = ratio("s-introspect", "healthz")
print(f"| introspection / /healthz ≥ 0.8 (Signoff) | {r:.2f} ({M['s-introspect']['rps']:.0f} / {M['healthz']['rps']:.0f} req/s) | {verdict(r >= 0.8 and not inactive)} |")
r = ratio("s-introspect", "p-introspect")
print(f"| introspection, Signoff / peer | {r:.2f}× ({M['s-introspect']['rps']:.0f} / {M['p-introspect']['rps']:.0f} req/s) | (no target) |")
r = ratio("s-refresh", "p-refresh")
print(f"| refresh grant, Signoff / peer | {r:.2f}× ({M['s-refresh']['rps']:.0f} / {M['p-refresh']['rps']:.0f} req/s); "
      f"p99 {M['s-refresh']['p99']:.1f} vs {M['p-refresh']['p99']:.1f} ms | (no target) |")
print()
print(f"Signoff on SQLite (synchronous {os.environ.get('SIGNOFF_SQLITE_SYNCHRONOUS', 'full')}); {PEER} keeps everything in "
      "memory (a Map adapter, nothing on disk), one Node process.")
