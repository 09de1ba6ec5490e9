#!/usr/bin/env python3
"""Replaces the result tables in README.md with bench/summarize.py's output for the given runs.

Usage: bench/update_readme.py bench/results/latest.json bench/results/latest_nhwc.json \
         bench/results/avx2.json bench/results/avx2_nhwc.json \
         bench/results/avx2_zen2.json bench/results/avx2_zen2_nhwc.json
The n-th JSON file replaces the n-th table block of README.md: from its header row
(`| layer | threads | auto ...`) through the line `geometric mean ... 2 threads ...`.
"""
import os
import subprocess
import sys

HEADER = "| layer | threads | auto"


def summary(json_path):
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "summarize.py")
    out = subprocess.run([sys.executable, script, json_path], check=True, capture_output=True, text=True).stdout
    return out.rstrip("\n").split("\n")


def main():
    readme = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "README.md")
    lines = open(readme).read().split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith(HEADER)]
    if len(starts) < len(sys.argv) - 1:
        sys.exit(f"README.md has {len(starts)} result tables, {len(sys.argv) - 1} runs given")
    # Replace from the last block backwards so earlier indices stay valid.
    for block, path in reversed(list(enumerate(sys.argv[1:]))):
        start = starts[block]
        end = start
        while not (lines[end].startswith("geometric mean") and "2 threads" in lines[end]):
            end += 1
        lines[start:end + 1] = summary(path)
    open(readme, "w").write("\n".join(lines))


if __name__ == "__main__":
    main()
