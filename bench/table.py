#!/usr/bin/env python3
"""Side-by-side table of supportd-load JSON lines (bench/run.sh writes results.jsonl).
Each line's label is NAME/SERVER; columns are servers, with supportd/original ratios. Repeated
runs of a cell are reduced to the median one."""
import json, sys
from collections import OrderedDict

runs = OrderedDict()
servers = []
for line in open(sys.argv[1] if len(sys.argv) > 1 else "results.jsonl"):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    name, _, server = (r.get("label") or "?/?").partition("/")
    runs.setdefault(name, {}).setdefault(server, []).append(r)
    if server not in servers:
        servers.append(server)

def median_run(rs):
    """With repeated runs (bench/run.sh --repeat N), the run with the median rate per server
    CPU second (or rate), so every figure in a column comes from one real run."""
    key = lambda r: r.get("per_cpu_s") or r.get("rate") or 0
    return sorted(rs, key=key)[(len(rs) - 1) // 2]

rows = OrderedDict((name, {s: median_run(rs) for s, rs in by.items()}) for name, by in runs.items())
repeats = max((len(rs) for by in runs.values() for rs in by.values()), default=1)
if repeats > 1:
    print(f"{repeats} runs per cell; each column shows the run with the median rate per server CPU s")
    for name, by in runs.items():
        spans = []
        for s, rs in by.items():
            vals = sorted(int(r.get("per_cpu_s") or r.get("rate") or 0) for r in rs)
            spans.append(f"{s} {vals[0]}-{vals[-1]}")
        print(f"  {name}: per server CPU s range: " + ", ".join(spans))
    print()

def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        v = round(v, 1) if abs(v) < 100 else int(round(v))
    return f"{v}{unit}"

def lat(r, q):
    return (r.get("latency_us") or {}).get(q)

metrics = [
    ("rate", lambda r: r.get("rate")),
    ("per server CPU s", lambda r: r.get("per_cpu_s")),
    ("server CPU util", lambda r: r.get("server_cpu_util")),
    ("p50 us", lambda r: lat(r, "p50")),
    ("p99 us", lambda r: lat(r, "p99")),
    ("max us", lambda r: lat(r, "max")),
    ("RSS/conn bytes", lambda r: r.get("rss_per_conn")),
    ("gAA per client", lambda r: r.get("gaa_per_client")),
    ("queued per user", lambda r: (r.get("queued_per_user") or {}).get("mean")),
    ("errors+timeouts", lambda r: (r.get("errors") or 0) + (r.get("timeouts") or 0) + (r.get("disconnects") or 0) + (r.get("failed") or 0)),
]
ratio_pairs = [(s, "original") for s in servers if s.startswith("supportd")] + [("echo", "supportd")]
w = 14
head = f"{'scenario':<13}{'metric':<18}" + "".join(f"{s:>{w}}" for s in servers) + "".join(
    f"{a + '/' + b:>{w + 8}}" for a, b in ratio_pairs if a in servers and b in servers)
print(head)
print("-" * len(head))
for name, by in rows.items():
    unit = next(iter(by.values())).get("rate_unit", "")
    first = True
    for mname, get in metrics:
        vals = {s: (get(by[s]) if s in by else None) for s in servers}
        if all(v in (None, 0) for v in vals.values()) and mname not in ("rate", "errors+timeouts"):
            continue
        label = f"{name:<13}" if first else " " * 13
        first = False
        line = f"{label}{(mname if mname != 'rate' else unit)[:17]:<18}" + "".join(f"{fmt(vals[s]):>{w}}" for s in servers)
        for a, b in ratio_pairs:
            if a in servers and b in servers:
                va, vb = vals.get(a), vals.get(b)
                if isinstance(va, (int, float)) and isinstance(vb, (int, float)) and vb and mname in ("rate", "per server CPU s", "p50 us", "p99 us", "RSS/conn bytes"):
                    line += f"{va / vb:>{w + 7}.2f}x"
                else:
                    line += " " * (w + 8)
        print(line.rstrip())
    print()
