"""Plots every panel of a Grafana dashboard JSON from Prometheus's query API (query_range), one
subplot a panel, into one PNG: what the dashboard shows, drawn from a real run.

usage: dashboard_plot.py PROMETHEUS_URL DASHBOARD.json START END OUT.png"""
import json
import sys
import urllib.parse
import urllib.request

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

prom, dash_path, start, end, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
dash = json.load(open(dash_path))
panels = dash["panels"]
cols = 2
rows = (len(panels) + cols - 1) // cols
fig, axes = plt.subplots(rows, cols, figsize=(14, 3.2 * rows), squeeze=False)


def legend(fmt, metric):
    text = fmt
    for key, value in metric.items():
        text = text.replace("{{" + key + "}}", value)
    return text


for ax, panel in zip((a for row in axes for a in row), panels):
    shown = 0
    for target in panel["targets"]:
        query = urllib.parse.urlencode({"query": target["expr"], "start": start, "end": end, "step": 2})
        with urllib.request.urlopen(f"{prom}/api/v1/query_range?{query}") as res:
            data = json.load(res)["data"]["result"]
        for series in data:
            xs = [float(t) - start for t, _ in series["values"]]
            ys = [float(v) for _, v in series["values"]]
            ys = [y if y == y else 0.0 for y in ys]  # NaN (no samples in the window) as 0
            ax.plot(xs, ys, label=legend(target.get("legendFormat", ""), series["metric"]))
            shown += 1
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
    ax.set_title(panel["title"], fontsize=10)
    ax.set_xlabel("seconds into the run", fontsize=8)
    ax.set_ylabel(unit, fontsize=8)
    ax.tick_params(labelsize=7)
    if shown:
        ax.legend(fontsize=6, loc="upper left", ncol=2)
    else:
        ax.text(0.5, 0.5, "no samples in this run", ha="center", va="center", transform=ax.transAxes)
for extra in list(a for row in axes for a in row)[len(panels):]:
    extra.axis("off")
fig.suptitle(f"{dash['title']}: every panel of {dash_path}, from a real Prometheus", fontsize=12)
fig.tight_layout()
fig.savefig(out, dpi=80)
print(f"wrote {out}", file=sys.stderr)
