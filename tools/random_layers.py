#!/usr/bin/env python3
"""Random decoder-style ConvTranspose2d layers (bench/layers.csv format) for deriving auto's rules.

Shapes a framework meets: upsampling by 2 (kernel 2, 3 or 4), stride-1 "deconvolutions",
larger strides with matching kernels, some grouped and depthwise layers, batch 1..16, channel
counts from 1 to 512, and spatial sizes chosen so a layer costs 1e6..4e8 multiply-adds.
    tools/random_layers.py [COUNT] [SEED] > bench/data/random_layers.csv
"""
import random
import sys

count = int(sys.argv[1]) if len(sys.argv) > 1 else 40
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 7)
print("name,N,Cin,Cout,H,W,kh,kw,sh,sw,ph,pw,oph,opw,dh,dw,groups")
made = 0
while made < count:
    s = rng.choice([1, 2, 2, 2, 2, 3, 4])
    k = {1: rng.choice([3, 5]), 2: rng.choice([2, 3, 4]), 3: rng.choice([3, 5]), 4: rng.choice([4, 8])}[s]
    p = rng.choice([0, (k - s + 1) // 2]) if k > s else 0
    op = 1 if (s == 2 and k == 3 and p == 1) else 0
    groups = 1
    cin = rng.choice([1, 3, 8, 16, 32, 64, 96, 128, 256, 512])
    cout = rng.choice([1, 3, 8, 16, 21, 32, 64, 128, 256])
    if rng.random() < 0.12:
        cin = cout = rng.choice([16, 32, 64, 128])
        groups = cin if rng.random() < 0.5 else rng.choice([2, 4])
    n = rng.choice([1, 1, 2, 4, 8, 16])
    macs_per_pixel = n * cin * (cout // groups) * k * k
    pixels = rng.uniform(1e6, 4e8) / macs_per_pixel
    h = max(2, min(256, int(round(pixels ** 0.5))))
    w = max(2, min(256, int(round(h * rng.choice([1, 1, 1, 1.5])))))
    if (h - 1) * s + k - 2 * p + op < 1:
        continue
    made += 1
    print(f"rand{made:02d},{n},{cin},{cout},{h},{w},{k},{k},{s},{s},{p},{p},{op},{op},1,1,{groups}")
