"""numpy or ONNX Runtime for inference: the measurements behind KeyMask's choice (issue 13).

    pip install onnxruntime "onnx<1.18"      # onnx 1.18+ needs protobuf >= 6, which breaks mediapipe
    python bench/runtime.py [--model resources/models/default] [--batch 32] [--repeats 7]

Exports the model's three networks from their torch modules to ONNX (masked transformer and
residual transformer with classifier-free guidance, RVQ-VAE decoder), then, in a fresh process
per runtime and thread count: the import and load time, the time of one call at batch 1 and at
--batch (49 tokens, guidance 4; median of --repeats), the peak memory of a process that loads
the models and runs a generation's worth of batch-1 calls, and the largest difference from the
numpy outputs. Prints a table and numpy / ONNX Runtime ratios (above 1: ONNX Runtime faster).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

NETWORKS = ("mask", "residual", "decoder")
CALLS_PER_GENERATION = {"mask": 10, "residual": 5, "decoder": 1}  # default steps, Q - 1 layers, one decode


def export(model_folder: Path, out: Path) -> None:
    import torch

    from keymask.core.backends.torch_backend import torch_modules
    from keymask.core.models.bundle import load_torch_models

    networks = torch_modules(load_torch_models(model_folder))

    class GuidedMask(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, ids, text, padding, scale):
            return self.model.guided_logits(ids, text, padding, scale)

    class GuidedResidual(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, history, layer, text, padding, scale):
            return self.model.guided_logits(history, layer, text, padding, scale)

    class Decoder(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, ids):
            return self.model.decode(ids)

    b, n = 2, 49
    q, c = networks['vq'].config.num_quantizers, networks['residual_transformer'].config.code_dim
    text = torch.randn(b, networks['mask_transformer'].config.text_dim)
    padding, scale = torch.zeros(b, n, dtype=torch.bool), torch.tensor(4.0)
    graphs = {
        "mask": (GuidedMask(networks['mask_transformer']), (torch.zeros(b, n, dtype=torch.long), text, padding, scale),
                 ["ids", "text", "padding", "scale"]),
        "residual": (GuidedResidual(networks['residual_transformer']),
                     (torch.randn(b, n, c), torch.ones(b, dtype=torch.long), text, padding, scale),
                     ["history", "layer", "text", "padding", "scale"]),
        "decoder": (Decoder(networks['vq']), (torch.zeros(b, n, q, dtype=torch.long),), ["ids"]),
    }
    for name, (module, inputs, names) in graphs.items():
        dynamic = {k: {0: "batch", 1: "tokens"} for k in names if k not in ("scale", "text", "layer")}
        dynamic.update({k: {0: "batch"} for k in names if k in ("text", "layer")})
        dynamic["out"] = {0: "batch", 1: "length"}
        with torch.no_grad():
            torch.onnx.export(module.eval(), inputs, str(out / f"{name}.onnx"), input_names=names, output_names=["out"],
                              dynamic_axes=dynamic, dynamo=False, opset_version=17)


def inputs(batch: int, config: dict, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    rng, n = np.random.default_rng(seed), 49
    text = rng.standard_normal((batch, config["text_dim"])).astype(np.float32)
    padding, scale = np.zeros((batch, n), bool), np.array(4.0, np.float32)
    return {"mask": {"ids": rng.integers(0, config["tokens"], (batch, n)), "text": text, "padding": padding,
                     "scale": scale},
            "residual": {"history": rng.standard_normal((batch, n, config["code_dim"])).astype(np.float32),
                         "layer": np.full(batch, 2, np.int64), "text": text, "padding": padding, "scale": scale},
            "decoder": {"ids": rng.integers(0, config["tokens"], (batch, n, config["quantizers"]))}}


def worker(runtime: str, threads: int, model_folder: Path, graphs: Path, batch: int, repeats: int) -> dict:
    """Runs in a fresh process (threads fixed by the environment before numpy is imported)."""
    started = time.perf_counter()
    if runtime == "onnxruntime":
        import onnxruntime

        imported = time.perf_counter()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        sessions = {name: onnxruntime.InferenceSession(str(graphs / f"{name}.onnx"), options,
                                                       providers=["CPUExecutionProvider"]) for name in NETWORKS}
        calls = {name: (lambda feed, s=session: s.run(None, feed)[0]) for name, session in sessions.items()}
    else:
        from keymask.core.backends.loading import load_models

        imported = time.perf_counter()
        models = load_models(model_folder, backend="numpy")
        calls = {"mask": lambda f: models.mask_transformer.guided_logits(f["ids"], f["text"], f["padding"], 4.0),
                 "residual": lambda f: models.residual_transformer.guided_logits(f["history"], 2, f["text"],
                                                                                 f["padding"], 4.0),
                 "decoder": lambda f: models.vq.decode(f["ids"])}
    loaded = time.perf_counter()
    config = json.loads((graphs / "config.json").read_text())
    one = inputs(1, config)
    for name, count in CALLS_PER_GENERATION.items():  # a generation's worth of calls: the peak memory below
        for _ in range(count):
            calls[name](one[name])
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    result = {"import_s": imported - started, "load_s": loaded - imported,
              "peak_mib": int(status["VmHWM"].split()[0]) / 1024, "ms": {}, "outputs": {}}
    for size in (1, batch):
        feeds = inputs(size, config)
        for name in NETWORKS:
            times = []
            for _ in range(repeats + 1):
                t = time.perf_counter()
                out = calls[name](feeds[name])
                times.append(time.perf_counter() - t)
            result["ms"][f"{name} {size}"] = 1000 * float(np.median(times[1:]))
            result["outputs"][f"{name} {size}"] = np.asarray(out, np.float32)[:1, :4].tolist()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path(__file__).resolve().parents[1] / "resources" / "models" / "default")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--worker", nargs=3, metavar=("RUNTIME", "THREADS", "GRAPHS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        runtime, threads, graphs = args.worker
        print(json.dumps(worker(runtime, int(threads), args.model, Path(graphs), args.batch, args.repeats)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        graphs = Path(tmp)
        export(args.model, graphs)
        from keymask.core.backends.loading import load_models

        models = load_models(args.model, backend="numpy")
        (graphs / "config.json").write_text(json.dumps({
            "text_dim": models.mask_transformer.config.text_dim, "tokens": models.mask_transformer.config.num_tokens,
            "code_dim": models.residual_transformer.config.code_dim, "quantizers": models.vq.config.num_quantizers}))
        sizes = {name: (graphs / f"{name}.onnx").stat().st_size / 2**20 for name in NETWORKS}
        print(f"ONNX graphs exported from the torch modules of {args.model}: "
              + ", ".join(f"{k} {v:.1f} MiB" for k, v in sizes.items()))
        results = {}
        for threads in (1, 2):
            for runtime in ("numpy", "onnxruntime"):
                env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
                           MKL_NUM_THREADS=str(threads))
                command = [sys.executable, __file__, "--model", str(args.model), "--batch", str(args.batch),
                           "--repeats", str(args.repeats), "--worker", runtime, str(threads), str(graphs)]
                done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
                results[runtime, threads] = json.loads(done.stdout.strip().splitlines()[-1])
    load = os.getloadavg()[0]
    print(f"load average {load:.2f} on {os.cpu_count()} cores\n")
    print(f"{'':34}{'numpy':>12}{'onnxruntime':>14}{'numpy/ort':>12}")
    for threads in (1, 2):
        numpy_run, ort_run = results["numpy", threads], results["onnxruntime", threads]
        print(f"-- {threads} thread{'s' if threads > 1 else ''}")
        rows = [("import (s)", "import_s"), ("load the models (s)", "load_s"),
                ("peak memory, models + one generation (MiB)", "peak_mib")]
        for label, key in rows:
            print(f"{label:<34}{numpy_run[key]:>12.2f}{ort_run[key]:>14.2f}{numpy_run[key] / ort_run[key]:>12.2f}")
        for key in numpy_run["ms"]:
            a, b = numpy_run["ms"][key], ort_run["ms"][key]
            diff = np.abs(np.array(numpy_run["outputs"][key]) - np.array(ort_run["outputs"][key])).max()
            print(f"{key + ' (ms per call)':<34}{a:>12.1f}{b:>14.1f}{a / b:>12.2f}   max diff {diff:.1e}")
        one_generation = {run: sum(results[run, threads]["ms"][f"{k} 1"] * n for k, n in CALLS_PER_GENERATION.items())
                          for run in ("numpy", "onnxruntime")}
        print(f"{'one generation, models (ms)':<34}{one_generation['numpy']:>12.0f}{one_generation['onnxruntime']:>14.0f}"
              f"{one_generation['numpy'] / one_generation['onnxruntime']:>12.2f}")


if __name__ == "__main__":
    main()
