#!/usr/bin/python3
"""Writes tests/data/pytorch_golden.txt: small ConvTranspose2d cases computed by PyTorch.

Run with Debian's interpreter, which has python3-torch:  /usr/bin/python3 tools/make_golden.py
The file is committed, so the tests (and CI) need no torch.
"""
import os
import random

import torch

# name, N, Cin, Cout, H, W, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, groups, bias
CASES = [
    ("k3s1", 1, 1, 1, 2, 2, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0),
    ("k3s2", 1, 1, 1, 2, 2, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0),
    ("seed_3x3_to_5x5", 1, 1, 1, 3, 3, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 1, 1),
    ("dcgan_like", 2, 4, 3, 4, 4, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, 1, 1),
    ("linknet_op1", 1, 3, 5, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1),
    ("tf_same_s2", 1, 3, 2, 7, 7, 5, 5, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1),
    ("unet_k2s2", 1, 6, 4, 5, 6, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1),
    ("k_lt_s", 1, 2, 3, 4, 3, 2, 2, 3, 3, 0, 0, 0, 0, 1, 1, 1, 1),
    ("k1s3", 1, 2, 2, 3, 3, 1, 1, 3, 3, 0, 0, 2, 1, 1, 1, 1, 1),
    ("dilation2", 1, 3, 3, 5, 5, 3, 3, 1, 1, 1, 1, 0, 0, 2, 2, 1, 1),
    ("dilation2_s2", 1, 4, 4, 6, 6, 3, 3, 2, 2, 2, 2, 1, 1, 2, 2, 1, 1),
    ("dilation3_s2", 2, 2, 3, 4, 5, 3, 2, 2, 3, 1, 0, 1, 2, 3, 2, 1, 1),
    ("groups2", 2, 4, 6, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 2, 1),
    ("depthwise", 1, 4, 4, 6, 6, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, 4, 1),
    ("depthwise_mult2", 1, 3, 6, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 3, 1),
    ("asym_kernel", 1, 3, 2, 4, 6, 3, 5, 1, 2, 0, 2, 0, 1, 1, 1, 1, 1),
    ("asym_stride", 1, 2, 3, 5, 4, 4, 3, 3, 1, 1, 0, 2, 0, 1, 1, 1, 1),
    ("asym_pad", 1, 2, 2, 5, 5, 3, 3, 2, 2, 0, 2, 1, 0, 1, 1, 1, 1),
    ("one_by_one_input", 2, 5, 7, 1, 1, 4, 4, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1),
    ("big_pad", 1, 2, 2, 6, 6, 5, 5, 2, 2, 4, 3, 1, 0, 1, 1, 1, 1),
    ("stride4_k8", 1, 3, 2, 3, 3, 8, 8, 4, 4, 2, 2, 0, 0, 1, 1, 1, 1),
    ("fcn_like", 1, 3, 3, 3, 3, 16, 16, 8, 8, 4, 4, 0, 0, 1, 1, 1, 0),
    ("no_bias_batch3", 3, 3, 4, 3, 4, 3, 3, 2, 2, 1, 1, 1, 0, 1, 1, 1, 0),
    ("wide_channels", 1, 20, 33, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1),
    ("many_out_channels", 1, 5, 40, 4, 4, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1),
    ("stride1_k5", 1, 3, 17, 6, 6, 5, 5, 1, 1, 2, 2, 0, 0, 1, 1, 1, 1),
    ("groups3_dil", 1, 6, 9, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1, 2, 2, 3, 1),
    ("op_lt_dilation", 1, 2, 2, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2, 2, 1, 1),
    ("tall", 1, 2, 3, 9, 2, 3, 2, 2, 1, 1, 0, 1, 0, 1, 1, 1, 1),
    ("k2s3_groups2", 2, 4, 2, 3, 3, 2, 2, 3, 3, 0, 0, 1, 1, 1, 1, 2, 1),
    ("s2_k4_p3", 1, 3, 5, 5, 5, 4, 4, 2, 2, 3, 3, 0, 0, 1, 1, 1, 1),
    ("s5_k3_d2", 1, 2, 3, 3, 3, 3, 3, 5, 5, 1, 1, 3, 4, 2, 2, 1, 1),
    ("s3_k7", 1, 4, 3, 4, 4, 7, 7, 3, 3, 2, 3, 2, 1, 1, 1, 1, 1),
    ("seed_worked", 1, 1, 1, 2, 2, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0),
]


def fmt(t):
    return " ".join(repr(float(v)) for v in t.reshape(-1).tolist())


def main():
    torch.manual_seed(20261122)
    random.seed(7)
    out_path = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "pytorch_golden.txt")
    lines = ["# ConvTranspose2d results from PyTorch %s (tools/make_golden.py). Per case:" % torch.__version__,
             "# case NAME N Cin Cout H W kh kw sh sw ph pw oph opw dh dw groups bias",
             "# then lines: input (NCHW), weight ([Cin][Cout/g][kh][kw]), bias (Cout or empty), output (NCHW)"]
    for case in CASES:
        name, n, cin, cout, h, w, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, groups, bias = case
        m = torch.nn.ConvTranspose2d(cin, cout, (kh, kw), stride=(sh, sw), padding=(ph, pw),
                                     output_padding=(oph, opw), groups=groups, bias=bool(bias),
                                     dilation=(dh, dw))
        with torch.no_grad():
            m.weight.copy_(torch.randn_like(m.weight))
            if bias:
                m.bias.copy_(torch.randn_like(m.bias))
            x = torch.randn(n, cin, h, w)
            y = m(x)
        lines.append("case " + " ".join(str(v) for v in case))
        lines.append(fmt(x))
        lines.append(fmt(m.weight))
        lines.append(fmt(m.bias) if bias else "")
        lines.append(fmt(y))
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", len(CASES), "cases to", os.path.normpath(out_path))


if __name__ == "__main__":
    main()
