"""Text -> BVH timing at the official MoMask size and at KeyMask's default size (random weights),
on the torch and the numpy backend, and the start-up of the whole `keymask generate` command.

    python bench/generate.py [--size official|keymask|both] [--backend torch|numpy|both]
                             [--batch 32] [--repeats 5] [--threads N] [--startup-runs 5]
                             [--official DIR]

Prints wall time per stage for one 196-frame motion (median of repeats after a warm-up), the
same for a batch of prompts, motions per minute with BVH writing, the FLOPs of one generation
and the share of a large (2048 x 2048) fp32 matmul's rate, measured in the same process by the
backend's library, that the models reach. Then the
wall time of `keymask generate "a person waves with the right hand" --seed 0` with the shipped
model as a fresh process (start-up included), on each backend, and their ratio.

With --official DIR (a copy of EricGuo5513/momask-codes), the official code runs side by side
with ours on identical official-size weights (bench/official_momask.py), text to joints, one
motion and a batch, alternating runs, and prints the ratios.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from keymask.core.backends.torch_backend import numpy_models_from_torch, torch_models
from keymask.core.bvh.from_joints import joints_to_bvh
from keymask.core.bvh.writer import write_bvh
from keymask.core.models.bundle import load_torch_models
from keymask.core.generation.pipeline import MotionPipeline
from keymask.core.models.length_estimator import LengthEstimator
from keymask.core.models.mask_transformer import MaskTransformer
from keymask.core.models.presets import keymask_default, official_size
from keymask.core.models.residual_transformer import ResidualTransformer
from keymask.core.models.rvq_vae import RVQVAE

PROMPTS = ["a person jumps over a puddle", "someone walks forward slowly", "a man waves with his left hand",
           "a person kicks with the right leg", "an old woman bows", "a person runs in a circle",
           "someone dances happily", "a person sits down on a chair"]


def build_pipeline(size: str, backend: str) -> MotionPipeline:
    torch.manual_seed(0)
    if size == "official":
        from clip.model import CLIP

        from keymask.core.text.encoders import ClipTextEncoder

        sizes = official_size()
        clip_model = CLIP(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768,
                          vision_patch_size=32, context_length=77, vocab_size=49408, transformer_width=512,
                          transformer_heads=8, transformer_layers=12)  # ViT-B/32, random weights
        text_encoder = ClipTextEncoder.from_model(clip_model)
        name = "clip"
    else:
        from keymask.core.text.numpy_sentence_encoders import NumpySentenceEncoder

        sizes = keymask_default()
        text_encoder = NumpySentenceEncoder()
        name = NumpySentenceEncoder.name
    d = sizes.vq.input_dim
    models = torch_models(vq=RVQVAE(sizes.vq).eval(), mask_transformer=MaskTransformer(sizes.mask_transformer).eval(),
                               residual_transformer=ResidualTransformer(sizes.residual_transformer).eval(),
                               mean=np.zeros(d, np.float32), std=np.ones(d, np.float32), text_encoder=name,
                               length_estimator=LengthEstimator(sizes.length_estimator).eval())
    models = models if backend == "torch" else numpy_models_from_torch(models)
    return MotionPipeline(models, text_encoder)


def timed_generation(pipeline: MotionPipeline, prompts: list[str], frames: int) -> tuple[dict[str, float], list]:
    marks = {"start": time.perf_counter()}

    def progress(stage: str, done: int, total: int) -> None:
        marks[stage] = time.perf_counter()

    result = pipeline(prompts, frames=frames, seed=0, progress=progress)
    end = time.perf_counter()
    stages = {"text": marks["text"] - marks["start"], "base tokens": marks["tokens"] - marks["text"],
              "residual": marks["residual"] - marks["tokens"], "decode + joints": end - marks["residual"]}
    return stages, result.motions


def bvh_time(motions, folder: Path) -> float:
    started = time.perf_counter()
    for i, motion in enumerate(motions):
        write_bvh(folder / f"m{i}.bvh", joints_to_bvh(motion.joints))
    return time.perf_counter() - started


def matmul_gflops(backend: str = "torch", size: int = 2048, repeats: int = 5) -> float:
    """fp32 rate of a large (size x size) @ (size x size) product in this process, by the library the
    backend runs on: the machine's practical peak that the models' rate is compared with."""
    if backend == "numpy":
        rng = np.random.default_rng(0)
        a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    else:
        a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size ** 3 * repeats / (time.perf_counter() - started) / 1e9


def model_flops(pipeline: MotionPipeline, frames: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        pipeline([PROMPTS[0]], frames=frames, seed=0)
    return counter.get_total_flops()


def median_stages(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def bench(size: str, backend: str, batch: int, repeats: int, frames: int = 196) -> None:
    pipeline = build_pipeline(size, backend)
    peak = matmul_gflops(backend)
    flops = model_flops(build_pipeline(size, "torch"), frames)
    print(f"\n== {size} size on {backend}, {torch.get_num_threads()} torch threads, "
          f"fp32 matmul {peak:.0f} GFLOPS ==")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        timed_generation(pipeline, PROMPTS[:1], frames)  # warm-up
        runs, bvh = [], []
        for _ in range(repeats):
            stages, motions = timed_generation(pipeline, PROMPTS[:1], frames)
            runs.append(stages)
            bvh.append(bvh_time(motions, folder))
        stages = median_stages(runs)
        models = sum(stages.values())
        single = models + statistics.median(bvh)
        print(f"one {frames}-frame motion: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in stages.items())
              + f", BVH {statistics.median(bvh) * 1000:.0f} ms")
        print(f"  models {models:.3f} s, with BVH {single:.3f} s; {flops / 1e9:.1f} GFLOP, "
              f"{flops / models / 1e9:.0f} GFLOPS = {flops / models / 1e9 / peak:.0%} of measured fp32 matmul")

        prompts = [PROMPTS[i % len(PROMPTS)] + f" ({i})" for i in range(batch)]
        timed_generation(pipeline, prompts, frames)  # warm-up
        batch_runs, batch_bvh = [], []
        for _ in range(max(1, repeats // 2)):
            stages, motions = timed_generation(pipeline, prompts, frames)
            batch_runs.append(stages)
            batch_bvh.append(bvh_time(motions, folder))
        stages = median_stages(batch_runs)
        models, writing = sum(stages.values()), statistics.median(batch_bvh)
        print(f"batch of {batch}: " + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items())
              + f", BVH {writing:.2f} s; {batch * flops / models / 1e9:.0f} GFLOPS = "
              f"{batch * flops / models / 1e9 / peak:.0%} of measured fp32 matmul")
        print(f"  {60 * batch / models:.0f} motions/min in the models, {60 * batch / (models + writing):.0f} "
              f"motions/min with BVH")


def startup(backend: str, runs: int) -> float:
    """Median wall time of `keymask generate` with the shipped model, as a fresh process."""
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "keymask.cli.main", "generate", "a person waves with the right hand",
                   "--seed", "0", "--backend", backend, "-o", str(Path(tmp) / "w.bvh")]
        subprocess.run(command, check=True, capture_output=True)  # warm the file cache
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def side_by_side(official_dir: Path, batch: int, repeats: int, frames: int = 196) -> None:
    """Text -> joints with the official code and with ours, identical official-size weights."""
    from official_momask import GEN_SETTINGS, OFFICIAL_DEFAULT_TIMESTEPS, OfficialMoMask
    from clip.model import CLIP

    from keymask.core.generation.pipeline import SamplingSettings
    from keymask.core.text.encoders import ClipTextEncoder

    np.float = float  # the official common/quaternion.py still uses this alias, gone since numpy 1.24
    torch.manual_seed(0)
    clip_model = CLIP(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768, vision_patch_size=32,
                      context_length=77, vocab_size=49408, transformer_width=512, transformer_heads=8,
                      transformer_layers=12).eval()  # ViT-B/32, random weights, shared by both sides
    official = OfficialMoMask(official_dir, clip_model)
    settings = SamplingSettings(steps=GEN_SETTINGS["timesteps"], guidance_scale=GEN_SETTINGS["cond_scale"],
                                residual_guidance_scale=GEN_SETTINGS["residual_cond_scale"],
                                temperature=GEN_SETTINGS["temperature"],
                                topk_filter_thres=GEN_SETTINGS["topk_filter_thres"])
    with tempfile.TemporaryDirectory() as tmp:
        models = load_torch_models(official.save_checkpoints(Path(tmp)))
    text_encoder = ClipTextEncoder.from_model(clip_model)
    ours = {"ours, torch": MotionPipeline(models, text_encoder),
            "ours, numpy": MotionPipeline(numpy_models_from_torch(models), text_encoder)}
    runners = {"official": lambda prompts: official.generate(prompts, frames),
               f"official, its default {OFFICIAL_DEFAULT_TIMESTEPS} steps":
                   lambda prompts: official.generate(prompts, frames, OFFICIAL_DEFAULT_TIMESTEPS)}
    for name, pipeline in ours.items():
        runners[name] = lambda prompts, pipeline=pipeline: pipeline(prompts, frames=frames, seed=0, settings=settings)
    runners["ours, numpy, KeyMask's default settings"] = lambda prompts: ours["ours, numpy"](prompts, frames=frames,
                                                                                            seed=0)
    print(f"\n== official MoMask code ({official_dir}) and ours, identical official-size weights, text -> joints, "
          f"{frames} frames, {torch.get_num_threads()} torch threads, load average {os.getloadavg()[0]:.1f}; "
          f"{GEN_SETTINGS['timesteps']} steps, guidance {GEN_SETTINGS['cond_scale']:g} and residual guidance "
          f"{GEN_SETTINGS['residual_cond_scale']:g} unless said ==")
    for size in (1, batch):
        prompts = [PROMPTS[i % len(PROMPTS)] + f" ({i})" for i in range(size)]
        times = {name: [] for name in runners}
        for run in runners.values():
            run(prompts)  # warm-up
        for _ in range(repeats if size == 1 else max(1, repeats // 2)):
            for name, run in runners.items():  # alternating, so that load changes hit every side alike
                started = time.perf_counter()
                run(prompts)
                times[name].append(time.perf_counter() - started)
        same, default = (statistics.median(times[name]) for name in list(runners)[:2])
        print(f"batch of {size}:")
        for name, t in times.items():
            seconds = statistics.median(t)
            print(f"  {name:<48} {seconds:6.2f} s  {60 * size / seconds:5.0f}/min  {same / seconds:5.2f}x official "
                  f"(same settings)  {default / seconds:5.2f}x official (its defaults)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=("official", "keymask", "both"), default="both")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backend", choices=("torch", "numpy", "both"), default="both")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--startup-runs", type=int, default=5, help="fresh `keymask generate` processes per backend; "
                                                                     "0 skips the start-up timing")
    parser.add_argument("--official", type=Path, default=None, metavar="DIR",
                        help="a copy of momask-codes: run it side by side with ours (and nothing else)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.official:
        side_by_side(args.official.expanduser().resolve(), args.batch, args.repeats)
        return
    backends = ["torch", "numpy"] if args.backend == "both" else [args.backend]
    for size in (["official", "keymask"] if args.size == "both" else [args.size]):
        for backend in backends:
            bench(size, backend, args.batch, args.repeats)
    if args.startup_runs:
        seconds = {backend: startup(backend, args.startup_runs) for backend in ("numpy", "torch")}
        print(f"\n== keymask generate, shipped model, fresh process (median of {args.startup_runs}) ==")
        print(f"numpy backend {seconds['numpy']:.2f} s, torch backend {seconds['torch']:.2f} s, "
              f"ratio torch / numpy {seconds['torch'] / seconds['numpy']:.1f}x")


if __name__ == "__main__":
    main()
