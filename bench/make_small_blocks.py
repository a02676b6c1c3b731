#!/usr/bin/env python3
"""Smaller GPT-2 blocks than make_models.py writes, for comparisons with provers that cannot
fit its smallest one (gpt2_block_t32_d64) on this machine.

Builds the same block with make_models.py's own functions (pre-LN, causal attention,
tanh-GELU MLP, seeded random weights) at smaller sequence lengths and widths, and writes
them in make_models.py's layout (models/, ref/, manifest.json), so `ezkl_compare.py
--models-dir OUT` reads them like the shared models.

    ~/.cache/vouch/venv-models/bin/python bench/make_small_blocks.py /tmp/small-blocks
    python3 bench/ezkl_compare.py --models-dir /tmp/small-blocks --model gpt2_block_t16_d32_random
"""
import argparse
import importlib.util
import os
import sys

import numpy as np

# (sequence length, width, heads)
SIZES = [(16, 32, 2), (8, 16, 2)]


def load_make_models(path):
    spec = importlib.util.spec_from_file_location("make_models", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["make_models"] = mod
    spec.loader.exec_module(mod)
    return mod


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="output directory (created)")
    ap.add_argument("--make-models", default=os.path.join(here, "..", "..", "shared", "models", "make_models.py"),
                    help="path of make_models.py (default: ../shared/models/make_models.py)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    mm = load_make_models(os.path.abspath(args.make_models))
    out = mm.Out(args.out)
    for T, D, H in SIZES:
        name = f"gpt2_block_t{T}_d{D}_random"
        rng = np.random.default_rng(args.seed + T + D)
        m, p = mm.build_gpt2_block(rng, T, D, H, False)
        path = mm.save_model(m, out.p("models", name + ".onnx"))
        x = np.random.default_rng(args.seed + 7).standard_normal((1, T, D)).astype(np.float32)
        y = mm.ort_session(path).run(None, {"input": x})[0]
        ref = mm.np_gpt2_block(x.astype(np.float64), {k: v.astype(np.float64) for k, v in p.items()}, H)
        out.ref(name, {"input": x}, {"output": y})
        out.add(name, path, "random", architecture=f"one GPT-2 block: pre-LN, {H}-head causal attention, "
                f"tanh-GELU MLP 4x, seq {T}, dim {D}", max_abs_diff_numpy_vs_ort=float(np.abs(y - ref).max()),
                weights="seeded random, scaled for O(1) activations; outputs are meaningless")
    out.write_manifest()


if __name__ == "__main__":
    main()
