#!/usr/bin/env python3
"""Peer runtimes for `magpie bench --runtime litert|onnxruntime`.

Magpie prepares the input bytes (decoded, resized, normalised image or random values) and hands them to this
runner as raw files, so every runtime sees identical inputs. The runner applies the same method as Magpie:

    load + prepare (timed as init) -> 1 first inference -> N warm-up inferences -> sleep PAUSE s
    -> timed loop: RUNS inferences (or until MIN_SECONDS / DURATION has passed)

One inference is what an application does per frame:
    litert:       set_tensor(input) + invoke() + get_tensor(output)
    onnxruntime:  session.run([output], {input: x})

It prints one JSON object on stdout ("runner": "magpie-peer/1") with every sample in nanoseconds, the loop's
CLOCK_MONOTONIC start and end (time.monotonic_ns(), the clock Magpie uses, so Magpie can attribute energy),
CPU time and peak RSS of this process, and writes output 0's raw bytes to --output-file.

Runtimes:
    litert            ai-edge-litert, default resolver (XNNPACK delegate)
    litert-builtin    BUILTIN_WITHOUT_DEFAULT_DELEGATES (optimized builtin kernels, no XNNPACK)
    litert-ref        BUILTIN_REF (reference kernels)
    onnxruntime       CPUExecutionProvider, intra_op_num_threads = --threads, inter_op 1, ORT_ENABLE_ALL

Exit status: 0 ok; 2 bad arguments; 3 a Python package is missing (stderr says how to install it); 4 the runtime
failed on the model (stderr has its message).
"""
import argparse
import json
import os
import resource
import sys
import time

INSTALL = {
    "numpy": "numpy",
    "ai_edge_litert": "ai-edge-litert",
    "onnxruntime": "onnxruntime",
}


def need(module):
    """Imports a module or exits 3 with the exact install command."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as e:
        pkg = INSTALL.get(module.split(".")[0], module)
        sys.stderr.write(
            f"magpie-peer: the Python package '{pkg}' is not installed for {sys.executable} ({e}); "
            f"install it with: {sys.executable} -m pip install {pkg} numpy\n")
        sys.exit(3)


def fail(message, status=4):
    sys.stderr.write(f"magpie-peer: {message}\n")
    sys.exit(status)


DTYPES = {"float32": "float32", "uint8": "uint8", "int8": "int8", "int16": "int16", "int32": "int32",
          "int64": "int64", "bool": "bool", "float16": "float16"}


class LiteRT:
    def __init__(self, model, threads, resolver):
        self.np = need("numpy")
        interp_mod = need("ai_edge_litert.interpreter")
        import ai_edge_litert
        self.version = getattr(ai_edge_litert, "__version__", "unknown")
        kinds = {
            "xnnpack": None,
            "builtin": interp_mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            "ref": interp_mod.OpResolverType.BUILTIN_REF,
        }
        self.configuration = resolver
        kwargs = {"model_path": model, "num_threads": threads}
        if kinds[resolver] is not None:
            kwargs["experimental_op_resolver_type"] = kinds[resolver]
        try:
            self.it = interp_mod.Interpreter(**kwargs)
            self.it.allocate_tensors()
        except Exception as e:  # LiteRT raises ValueError/RuntimeError with its own message
            fail(f"LiteRT cannot load {model}: {e}")
        self.inputs = self.it.get_input_details()
        self.output = self.it.get_output_details()[0]

    def set_inputs(self, raw):
        self.x = []
        for d, data in zip(self.inputs, raw):
            arr = self.np.frombuffer(data, dtype=d["dtype"]).reshape(d["shape"])
            self.x.append(arr)

    def run(self):
        for d, arr in zip(self.inputs, self.x):
            self.it.set_tensor(d["index"], arr)
        self.it.invoke()
        return self.it.get_tensor(self.output["index"])


class ORT:
    def __init__(self, model, threads):
        self.np = need("numpy")
        ort = need("onnxruntime")
        self.version = ort.__version__
        self.configuration = "cpu"
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(model, sess_options=so, providers=["CPUExecutionProvider"])
        except Exception as e:
            fail(f"ONNX Runtime cannot load {model}: {e}")
        self.inputs = self.session.get_inputs()
        self.output_name = self.session.get_outputs()[0].name
        types = {"tensor(float)": "float32", "tensor(uint8)": "uint8", "tensor(int8)": "int8",
                 "tensor(int32)": "int32", "tensor(int64)": "int64", "tensor(float16)": "float16"}
        self.types = [types.get(i.type) for i in self.inputs]
        for i, t in zip(self.inputs, self.types):
            if t is None:
                fail(f"ONNX input '{i.name}' has type {i.type}, which this runner does not feed")

    def set_inputs(self, raw):
        self.feed = {}
        for i, t, data in zip(self.inputs, self.types, raw):
            arr = self.np.frombuffer(data, dtype=t)
            shape = [d if isinstance(d, int) else 1 for d in i.shape]
            n = 1
            for d in shape:
                n *= d
            if n != arr.size:
                fail(f"ONNX input '{i.name}' has shape {i.shape} ({n} elements of {t}); Magpie prepared {arr.size}")
            self.feed[i.name] = arr.reshape(shape)

    def run(self):
        return self.session.run([self.output_name], self.feed)[0]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runtime", required=True, choices=["litert", "litert-builtin", "litert-ref", "onnxruntime"])
    p.add_argument("--model", required=True, help=".tflite for LiteRT, .onnx for ONNX Runtime")
    p.add_argument("--inputs", nargs="+", required=True, help="raw bytes of each input, as Magpie prepared them")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--pause", type=float, default=1.0)
    p.add_argument("--runs", type=int, default=250)
    p.add_argument("--min-seconds", type=float)
    p.add_argument("--duration", type=float)
    p.add_argument("--output-file", required=True, help="where to write output 0's raw bytes")
    p.add_argument("--progress", action="store_true",
                   help="print 'magpie-peer-progress RUNS SECONDS' lines on stderr about every 0.2 s of the timed loop")
    a = p.parse_args()

    t0 = time.monotonic_ns()
    if a.runtime.startswith("litert"):
        resolver = {"litert": "xnnpack", "litert-builtin": "builtin", "litert-ref": "ref"}[a.runtime]
        r = LiteRT(a.model, a.threads, resolver)
    else:
        r = ORT(a.model, a.threads)
    raw = []
    for path in a.inputs:
        with open(path, "rb") as f:
            raw.append(f.read())
    if len(raw) != len(r.inputs):
        fail(f"the model has {len(r.inputs)} inputs, {len(raw)} input files were given", 2)
    try:
        r.set_inputs(raw)
    except ValueError as e:
        fail(f"input bytes do not fit the model: {e}", 2)
    t1 = time.monotonic_ns()
    out = r.run()
    t2 = time.monotonic_ns()
    warmup = []
    for _ in range(a.warmup):
        s = time.monotonic_ns()
        r.run()
        warmup.append(time.monotonic_ns() - s)
    if a.pause > 0:
        time.sleep(a.pause)

    bound = a.duration if a.duration is not None else a.min_seconds
    minimum_runs = 1 if a.duration is not None else a.runs
    samples = []
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    loop_start = time.monotonic_ns()
    now = loop_start
    next_progress = loop_start + 200_000_000
    while True:
        s = now
        out = r.run()
        now = time.monotonic_ns()
        samples.append(now - s)
        if a.progress and now >= next_progress:
            sys.stderr.write(f"magpie-peer-progress {len(samples)} {(now - loop_start) / 1e9:.3f}\n")
            sys.stderr.flush()
            next_progress = now + 200_000_000
            now = time.monotonic_ns()
        if len(samples) >= minimum_runs and (bound is None or (now - loop_start) / 1e9 >= bound):
            break
    loop_end = time.monotonic_ns()
    usage2 = resource.getrusage(resource.RUSAGE_SELF)

    out = r.np.ascontiguousarray(out)
    with open(a.output_file, "wb") as f:
        f.write(out.tobytes())
    json.dump({
        "runner": "magpie-peer/1",
        "runtime": a.runtime,
        "version": r.version,
        "configuration": r.configuration,
        "python": sys.version.split()[0],
        "numpy": r.np.__version__,
        "init_ns": t1 - t0,
        "first_ns": t2 - t1,
        "warmup_ns": warmup,
        "samples_ns": samples,
        "loop_start_ns": loop_start,
        "loop_end_ns": loop_end,
        "user_s": usage2.ru_utime - usage1.ru_utime,
        "sys_s": usage2.ru_stime - usage1.ru_stime,
        "peak_rss_bytes": usage2.ru_maxrss * (1 if sys.platform == "darwin" else 1024),
        "output_dtype": str(out.dtype),
        "output_shape": list(out.shape),
    }, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
