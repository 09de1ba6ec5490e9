#!/usr/bin/env python3
"""Random ConvTranspose2d layers off the decoder patterns of random_layers.py, for scoring auto.

random_layers.py draws the shapes frameworks usually meet (kernel a multiple of the stride or
k = 3, s = 2, symmetric padding). These draw every parameter on its own: odd kernels against any
stride, asymmetric kernels and crops, dilation 2, output padding, grouped and depthwise layers,
odd channel counts and image sizes, each layer 2e5..3e8 multiply-adds. Session 13 found most of
auto's NCHW misses on such layers (bench/data/avx2/tune_diverse.json).
    tools/random_layers_diverse.py [COUNT] [SEED] > bench/data/random_layers_diverse.csv
(the file in the repository: COUNT 24, SEED 2026113)
"""
import random
import sys


def draw_spatial(min_side=3, max_side=64):
    """Image size, kernel, stride, crops, dilation and output padding of one layer, the output
    size they give: (h, w, kh, kw, s, ph, pw, d, op, oh, ow); oh or ow may be < 1."""
    h, w = random.randint(min_side, max_side), random.randint(min_side, max_side)
    kh = random.choice([1, 2, 3, 3, 4, 4, 5, 7])
    kw = kh if random.random() < 0.85 else random.choice([1, 3, 5])
    s = random.choice([1, 2, 2, 2, 3, 4])
    ph, pw = random.randint(0, kh - 1), random.randint(0, kw - 1)
    d = 2 if random.random() < 0.15 else 1
    op = random.randint(0, max(0, min(s, d) - 1)) if random.random() < 0.3 else 0
    oh = (h - 1) * s - 2 * ph + d * (kh - 1) + op + 1
    ow = (w - 1) * s - 2 * pw + d * (kw - 1) + op + 1
    return h, w, kh, kw, s, ph, pw, d, op, oh, ow


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 24
    random.seed(int(sys.argv[2]) if len(sys.argv) > 2 else 2026113)
    print("name,N,Cin,Cout,H,W,kh,kw,sh,sw,ph,pw,oph,opw,dh,dw,groups")
    made = 0
    while made < count:
        n = random.choice([1, 1, 2, 4, 8])
        groups = 1
        cin = random.choice([3, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256])
        cout = random.choice([1, 3, 8, 16, 32, 48, 64, 96, 128, 256])
        if random.random() < 0.2:
            groups = random.choice([2, 4, 8, cin])
            if cin % groups or cout % groups:
                if random.random() < 0.5:
                    cout = groups = cin  # depthwise
                else:
                    continue
        h, w, kh, kw, s, ph, pw, d, op, oh, ow = draw_spatial()
        if oh < 1 or ow < 1:
            continue
        macs = n * h * w * kh * kw * cin * cout / groups
        if macs > 3e8 or macs < 2e5:
            continue
        made += 1
        print(f"r{made:02d},{n},{cin},{cout},{h},{w},{kh},{kw},{s},{s},{ph},{pw},{op},{op},{d},{d},{groups}")


if __name__ == "__main__":
    main()
