#!/usr/bin/env python3
"""How good is auto's heuristic? Scores candidate rule sets against measured strategy timings.

Input: the JSON files `tconv tune --json` writes (every strategy timed on every layer, layout and
thread count). bench/data/ holds the ones the current rules were read from:
    tconv tune --layers bench/layers.csv --wisdom /tmp/w --json bench/data/tune_layers.json
    tconv tune --layers bench/data/random_layers.csv --wisdom /tmp/w --json bench/data/tune_random.json
    tconv tune --layers bench/data/random_layers_holdout.csv --wisdom /tmp/w --json bench/data/tune_holdout.json
(random_layers.csv: tools/random_layers.py 40 7; random_layers_holdout.csv: tools/random_layers.py 24 11.)
Run: tools/derive_auto_rules.py bench/data/tune_layers.json bench/data/tune_random.json
     tools/derive_auto_rules.py bench/data/tune_holdout.json
For each candidate it prints how often its pick is within 5% of the measured winner, the
geometric-mean and worst slowdown against the winner, and the worst cases. RULES_IN_USE must
mirror src/strategies/auto_select.cpp.
"""
import json
import math
import sys


def features(params):
    kv = dict(tok.split("=", 1) for tok in params.split())
    f = {k: (int(v) if v.lstrip("-").isdigit() else v) for k, v in kv.items()}
    f["cig"] = f["Cin"] // f["g"]
    f["cog"] = f["Cout"] // f["g"]
    f["phases"] = f["sh"] * f["sw"]
    f["taps_per_phase"] = max(1, (f["kh"] // f["sh"]) * (f["kw"] // f["sw"]))
    f["out_pixels"] = f["N"] * f["oh"] * f["ow"]
    f["phase_pixels"] = f["out_pixels"] // f["phases"]  # GEMM N (NCHW) or M (NHWC) per phase
    f["overlap"] = f["kh"] > f["sh"] or f["kw"] > f["sw"]
    return f


def rules_previous(f):
    """The rules before bench/data existed (session 1)."""
    if f["phases"] > 65536:
        return "im2col_gemm"
    if f["cig"] == 1 and f["cog"] == 1:
        return "direct_scatter"
    if f["cog"] <= 4:
        return "gemm_col2im"
    return "subpixel"


def rules_measured(f):
    """src/strategies/auto_select.cpp: thresholds chosen by a grid search over these data."""
    if f["phases"] > 65536:
        return "im2col_gemm"
    if f["cig"] == 1 and f["cog"] == 1 and (f["g"] > 1 or f["layout"] == "nchw"):
        return "direct_scatter"
    paired_stores = f["sw"] == 2 and f["kw"] % 2 == 0
    if f["layout"] == "nchw" and f["cig"] * f["taps_per_phase"] <= 32 and not paired_stores:
        return "direct_scatter"
    if f["cog"] <= 4 and f["cig"] >= 8:
        return "gemm_col2im"
    w_members = f["sw"] if f["kw"] % f["sw"] == 0 else 1
    few_channels = 16 if f["phases"] == 1 else 32
    if f["cog"] * w_members <= few_channels and f["cig"] >= 32 and f["N"] * f["H"] * f["W"] >= 64:
        return "gemm_col2im"
    return "subpixel"


RULES_IN_USE = rules_measured
CANDIDATES = {"previous": rules_previous, "in use": rules_measured}


def score(records, rule):
    within, logs, worst = 0, [], []
    for r in records:
        pick = rule(r["f"])
        times = r["ms"]
        if pick not in times:
            continue
        best = min(t[0] for t in times.values())
        ratio = times[pick][0] / best
        within += ratio <= 1.05
        logs.append(math.log(ratio))
        worst.append((ratio, r["layer"], r["layout"], r["threads"], pick, r["winner"]))
    worst.sort(reverse=True)
    return within, len(logs), math.exp(sum(logs) / max(1, len(logs))), worst


def main(paths):
    records = []
    for p in paths:
        for r in json.load(open(p))["results"]:
            r["f"] = features(r["params"])
            r["ms"] = {s: t for s, t in r["ms"].items()}
            records.append(r)
    for name, rule in CANDIDATES.items():
        within, n, geo, worst = score(records, rule)
        print(f"{name:12s} within 5% of the winner: {within}/{n}   geomean slowdown {geo:.3f}x   worst {worst[0][0]:.2f}x")
        for ratio, layer, layout, thr, pick, win in worst[:12]:
            if ratio > 1.05:
                print(f"    {ratio:5.2f}x {layer:14s} {layout} t={thr}: picks {pick}, winner {win}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["bench/data/tune_layers.json", "bench/data/tune_random.json"])
