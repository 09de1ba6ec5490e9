#!/usr/bin/python3
"""Markdown summary of `tconv bench --json` output: per layer and thread count, `auto`, the
fastest tconv strategy and the fastest peer (median ms), and auto's speed-up over that peer;
then the geometric mean of that speed-up per thread count.

usage: /usr/bin/python3 bench/summarize.py results.json
"""
import json
import math
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    rows = [r for r in doc["results"] if r.get("correct") and r.get("ms_median")]
    layers = list(dict.fromkeys(r["layer"] for r in doc["results"]))
    threads = sorted({r["threads"] for r in doc["results"]})
    print("| layer | threads | auto: ms (GFLOP/s), strategy | fastest tconv strategy, ms | fastest peer, ms | auto vs fastest peer |")
    print("|---|---|---|---|---|---|")
    logs = {t: [] for t in threads}
    for layer in layers:
        for t in threads:
            here = [r for r in rows if r["layer"] == layer and r["threads"] == t]
            auto = next((r for r in here if r["impl"] == "auto"), None)
            strategies = [r for r in here if r["kind"] == "strategy" and r["impl"] != "auto"]
            peers = [r for r in here if r["kind"] == "peer"]
            if not auto or not peers:
                continue
            best_s = min(strategies, key=lambda r: r["ms_median"]) if strategies else None
            best_p = min(peers, key=lambda r: r["ms_median"])
            speedup = best_p["ms_median"] / auto["ms_median"]
            logs[t].append(math.log(speedup))
            chosen = auto["detail"].split(":")[0]
            print("| %s | %d | %.4g (%.1f), %s | %s %.4g | %s %.4g | %.2fx |" % (
                layer, t, auto["ms_median"], auto["gflops"], chosen,
                best_s["impl"] if best_s else "-", best_s["ms_median"] if best_s else float("nan"),
                best_p["impl"], best_p["ms_median"], speedup))
    for t in threads:
        if logs[t]:
            print("\ngeometric mean of auto vs the fastest peer, %d thread%s: %.2fx over %d layers" % (
                t, "s" if t > 1 else "", math.exp(sum(logs[t]) / len(logs[t])), len(logs[t])))


if __name__ == "__main__":
    main()
