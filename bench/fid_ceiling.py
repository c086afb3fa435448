"""How low FID and how high R-precision can go with the shipped tokenizer, on the joints users get.

    python bench/fid_ceiling.py [--model DIR] [--split test] [--residual]

Every clip of the split is encoded by the model's RVQ-VAE and decoded again, then cleaned up and
fitted to the BVH skeleton as `keymask generate` delivers a motion, and scored as `keymask eval`
scores generated motions (FID against the training split, R-precision top-3 in groups of 32, with
the clip's caption). Rows:
- real: the clips as they are (the floor FID targets are stated against);
- real, delivered: the clips through the clean-up and the BVH fit alone;
- all token layers: the tokenizer's reconstruction, delivered: no token model can beat it;
- base layer only: the finer layers left out;
- base layer as encoded, finer layers predicted (--residual): the residual transformer's share.
"""

import argparse
import time
from pathlib import Path

import numpy as np

from keymask.core.features import joints_to_features, recover_from_ric
from keymask.core.generation.cleanup import CleanupSettings, clean_motion
from keymask.core.generation.export import delivered_joints
from keymask.core.generation.masked_decoding import decode_residual_layers
from keymask.core.generation.pipeline import MotionPipeline, SamplingSettings
from keymask.core.metrics.embedding import frechet_distance, r_precision
from keymask.core.metrics.evaluation import Benchmark, EvaluationSettings, embed_motions
from keymask.core.metrics.evaluator import MotionTextEvaluator
from keymask.core.paths import default_dataset_dir
from keymask.core.text.encoders import SentenceEncoder
from keymask.resources import RESOURCES_DIR


def delivered_features(pipeline: MotionPipeline, ids: np.ndarray) -> np.ndarray:
    """(1, N, Q) ids -> (T, D) features of the delivered joints."""
    joints = clean_motion(recover_from_ric(pipeline.decode_tokens(ids)[0]), CleanupSettings())
    return joints_to_features(delivered_joints(joints, fps=pipeline.spec.fps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=RESOURCES_DIR / "models" / "default")
    parser.add_argument("--evaluator", type=Path, default=RESOURCES_DIR / "models" / "evaluator")
    parser.add_argument("--split", choices=("test", "val"), default="test")
    parser.add_argument("--residual", action="store_true",
                        help="also predict the finer layers from the encoded base layer (slower)")
    args = parser.parse_args()
    started = time.perf_counter()

    evaluator = MotionTextEvaluator.from_pretrained(args.evaluator)
    benchmark = Benchmark(evaluator, SentenceEncoder(), default_dataset_dir(),
                          EvaluationSettings(split=args.split, multimodality_texts=0))
    pipeline = MotionPipeline.from_folder(args.model)
    clips = benchmark.clips
    encoded = [pipeline.encode_features(features) for features in clips.features]  # (1, N, Q) each

    def base_only(ids: np.ndarray) -> np.ndarray:
        kept = ids.copy()
        kept[..., 1:] = -1
        return kept

    rows = {
        "real": clips.features,
        "real, delivered": [joints_to_features(delivered_joints(clean_motion(recover_from_ric(f), CleanupSettings()),
                                                                fps=pipeline.spec.fps)) for f in clips.features],
        "all token layers, delivered": [delivered_features(pipeline, ids) for ids in encoded],
        "base layer only, delivered": [delivered_features(pipeline, base_only(ids)) for ids in encoded],
    }
    if args.residual:
        settings = SamplingSettings()
        text = pipeline.conditioning_text(clips.captions, pipeline.encode_text(clips.captions), settings.action_pull)
        rng = np.random.default_rng(0)
        predicted = []
        for i, ids in enumerate(encoded):
            all_ids = decode_residual_layers(
                pipeline.models.residual_transformer, ids[..., 0], text[i: i + 1], np.array([ids.shape[1]]),
                guidance_scale=settings.residual_guidance_scale, temperature=settings.finer_layers_temperature,
                topk_filter_thres=settings.finer_layers_topk, rng=rng)
            predicted.append(delivered_features(pipeline, all_ids))
        rows["base layer as encoded, finer layers predicted"] = predicted

    floor = None
    print(f"{args.split} split, {len(clips.features)} clips; model {args.model}")
    print("| motions | FID (vs train) | x the real floor | R-precision top-3 |\n|---|---|---|---|")
    for name, features in rows.items():
        motion = embed_motions(evaluator, features)
        fid = frechet_distance(motion, benchmark.train_motion)
        floor = floor or fid
        top3 = r_precision(benchmark.test_text, motion, group_size=32, seed=0)[2]
        print(f"| {name} | {fid:.4f} | {fid / floor:.2f} | {top3:.3f} |", flush=True)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
