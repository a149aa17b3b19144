#!/usr/bin/env python3
"""Runs a .tflite model with LiteRT's reference kernels (the engine's spec) and writes the raw output bytes.

Usage: litert_reference.py MODEL --inputs IN0.bin [IN1.bin ...] --outputs OUT0.bin [OUT1.bin ...] [--resolver ref|xnnpack]
Exit status 3 with a one-line message on stderr when LiteRT refuses the model; 2 when ai-edge-litert is missing.
Needs: pip install ai-edge-litert numpy
"""
import argparse, sys

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--inputs", nargs="*", default=[])
    ap.add_argument("--outputs", nargs="*", default=[])
    ap.add_argument("--resolver", choices=["ref", "xnnpack"], default="ref")
    a = ap.parse_args()
    try:
        import numpy as np
        from ai_edge_litert import interpreter as litert
    except ImportError as e:
        print(f"ai-edge-litert is not installed ({e}): pip install ai-edge-litert numpy", file=sys.stderr)
        return 2
    resolver = litert.OpResolverType.BUILTIN_REF if a.resolver == "ref" else litert.OpResolverType.AUTO
    try:
        it = litert.Interpreter(model_path=a.model, num_threads=1, experimental_op_resolver_type=resolver)
        it.allocate_tensors()
        for d, path in zip(it.get_input_details(), a.inputs):
            x = np.fromfile(path, dtype=d["dtype"]).reshape(d["shape"])
            it.set_tensor(d["index"], x)
        it.invoke()
    except Exception as e:  # LiteRT's own refusal: report it, the caller decides
        print(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__, file=sys.stderr)
        return 3
    for d, path in zip(it.get_output_details(), a.outputs):
        it.get_tensor(d["index"]).tofile(path)
    return 0

if __name__ == "__main__":
    sys.exit(main())
