#!/usr/bin/env python3
"""Random grouped ConvTranspose2d layers of few channels per group, for scoring auto's NHWC rule
that runs them through NCHW copies (session 31).

random_layers_diverse.py draws a group count for one layer in five; these draw every layer
grouped, with 1-16 input and output channels per group (not both 1: depthwise layers run direct
in place), 2-64 groups, and the spatial parameters of the diverse set, each layer 1e5..3e8
multiply-adds.
    tools/random_layers_grouped.py [COUNT] [SEED] > FILE
"""
import random
import sys

from random_layers_diverse import draw_spatial

count = int(sys.argv[1]) if len(sys.argv) > 1 else 16
random.seed(int(sys.argv[2]) if len(sys.argv) > 2 else 3131)
print("name,N,Cin,Cout,H,W,kh,kw,sh,sw,ph,pw,oph,opw,dh,dw,groups")
made = 0
while made < count:
    n = random.choice([1, 1, 2, 4, 8])
    groups = random.choice([2, 4, 8, 16, 24, 32, 64])
    cig = random.choice([1, 1, 2, 3, 4, 8, 16])
    cog = random.choice([1, 2, 4, 8, 16])
    if cig == 1 and cog == 1:
        continue
    h, w, kh, kw, s, ph, pw, d, op, oh, ow = draw_spatial(4, 96)
    if oh < 1 or ow < 1:
        continue
    macs = n * groups * cig * cog * h * w * kh * kw
    if not 1e5 <= macs <= 3e8:
        continue
    made += 1
    print(f"g{made:02d},{n},{groups * cig},{groups * cog},{h},{w},{kh},{kw},{s},{s},{ph},{pw},{op},{op},{d},{d},{groups}")
