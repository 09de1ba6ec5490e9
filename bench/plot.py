#!/usr/bin/python3
"""Turns `tconv bench --json` output into a PNG: useful GFLOP/s per layer, tconv strategies and
peers side by side, the FMA peak as a line (one panel per thread count).

usage: /usr/bin/python3 bench/plot.py results.json chart.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    rows = [r for r in doc["results"] if r.get("correct") and r.get("gflops")]
    layers = list(dict.fromkeys(r["layer"] for r in doc["results"]))
    impls = list(dict.fromkeys(r["impl"] for r in doc["results"]))
    threads = sorted({r["threads"] for r in doc["results"]})
    fig, axes = plt.subplots(len(threads), 1, figsize=(max(12, len(layers) * 0.9), 4.5 * len(threads)), squeeze=False)
    width = 0.8 / max(1, len(impls))
    colors = plt.get_cmap("tab10")
    for ax, t in zip(axes[:, 0], threads):
        for i, impl in enumerate(impls):
            xs, ys = [], []
            for li, layer in enumerate(layers):
                for r in rows:
                    if r["layer"] == layer and r["impl"] == impl and r["threads"] == t:
                        xs.append(li + (i - len(impls) / 2 + 0.5) * width)
                        ys.append(r["gflops"])
            kind = next((r["kind"] for r in doc["results"] if r["impl"] == impl), "strategy")
            ax.bar(xs, ys, width, label=impl, color=colors(i % 10), hatch="//" if kind == "peer" else None,
                   edgecolor="black", linewidth=0.3)
        peak = doc["machine"]["peak_gflops"].get(str(t))
        if peak:
            ax.axhline(peak, color="red", linestyle="--", linewidth=1)
            ax.text(len(layers) - 0.5, peak, "FMA peak %.0f GFLOP/s" % peak, color="red", ha="right", va="bottom")
        ax.set_xticks(range(len(layers)))
        ax.set_xticklabels(layers, rotation=35, ha="right")
        ax.set_ylabel("useful GFLOP/s")
        ax.set_yscale("log")
        ax.set_title("%s, %d thread%s, layout %s (peers hatched)" % (doc["machine"]["cpu"], t, "s" if t > 1 else "",
                                                                     doc.get("layout", "?")))
        ax.legend(ncol=4, fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)
    print("wrote", sys.argv[2])


if __name__ == "__main__":
    main()
