"""How much of a motion the residual transformer gets right, given the true base layer.

    python bench/residual.py [--model DIR] [--split val] [--per-action 4] [--residual-guidance 1 5]

Real clips of a split (at most --per-action of each action, seeded choice), encoded by the model's
RVQ-VAE, then decoded four ways:
- every layer as encoded: what the tokenizer keeps (the ceiling);
- the base layer alone;
- the base layer as encoded and the finer layers predicted by the residual transformer, from one of
  the clip's captions, at each residual guidance scale (sampled as generation samples them);
- every layer predicted from that caption at the clip's length, as generation makes it (the masked
  transformer too, with the shipped sampling settings).
Each is classified by the shipped evaluator (nearest action centroid of the training split) and
compared with the real joints (MPJPE, root-aligned, in mm). When the predicted layers score below
the base layer alone, the residual transformer is what loses the action, not the masked transformer
or the tokenizer. `--split train` asks how well the model has learned its own captions, the
rare actions included (most have no clip in the other splits): an action lost there is lost for
every wording of it.
"""

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from keymask.core.generation.masked_decoding import decode_residual_layers
from keymask.core.generation.pipeline import MotionPipeline, SamplingSettings
from keymask.core.metrics.evaluation import Benchmark, EvaluationSettings, embed_motions, load_eval_clips
from keymask.core.metrics.evaluator import MotionTextEvaluator
from keymask.core.paths import default_dataset_dir
from keymask.core.text.encoders import SentenceEncoder
from keymask.core.training.train_rvq_vae import joint_position_errors
from keymask.resources import RESOURCES_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=RESOURCES_DIR / "models" / "default")
    parser.add_argument("--evaluator", type=Path, default=RESOURCES_DIR / "models" / "evaluator")
    parser.add_argument("--split", default="val", help="split the clips come from (default: val)")
    parser.add_argument("--per-action", type=int, default=4, help="clips per action at most (default: 4)")
    parser.add_argument("--residual-guidance", type=float, nargs="+", default=[1.0, 5.0],
                        help="residual guidance scales to try (default: 1 5)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()

    evaluator = MotionTextEvaluator.from_pretrained(args.evaluator)
    benchmark = Benchmark(evaluator, SentenceEncoder(), default_dataset_dir(), EvaluationSettings(split="test"))
    pipeline = MotionPipeline.from_folder(args.model)
    clips = load_eval_clips(default_dataset_dir(), args.split, seed=args.seed)
    by_action = defaultdict(list)
    for index, action in enumerate(clips.contents):
        by_action[action].append(index)
    rng = np.random.default_rng(args.seed)
    chosen = [i for action in sorted(by_action) for i in rng.permutation(by_action[action])[: args.per_action]]
    features = [clips.features[i] for i in chosen]
    actions = [clips.contents[i] for i in chosen]
    captions = [clips.captions[i] for i in chosen]
    text = pipeline.conditioning_text(captions, pipeline.encode_text(captions), SamplingSettings().action_pull)
    encoded = [pipeline.encode_features(f) for f in features]  # each (1, N, Q)

    def base_only(ids: np.ndarray) -> np.ndarray:
        ids = ids.copy()
        ids[..., 1:] = -1
        return ids

    def predicted(guidance: float):
        sampling = np.random.default_rng(args.seed)

        def layers(ids: np.ndarray, row: int) -> np.ndarray:
            return decode_residual_layers(pipeline.models.residual_transformer, ids[..., 0], text[row: row + 1],
                                          np.array([ids.shape[1]]), guidance_scale=guidance,
                                          temperature=SamplingSettings.temperature,
                                          topk_filter_thres=SamplingSettings.topk_filter_thres, rng=sampling)
        return layers

    ways = {"every layer as encoded": lambda ids, row: ids, "base layer alone": lambda ids, row: base_only(ids)}
    for guidance in args.residual_guidance:
        ways[f"base as encoded, all finer layers predicted (guidance {guidance:g})"] = predicted(guidance)

    generated = pipeline(captions, frames=[len(f) for f in features], seed=args.seed, text_embedding=text,
                         settings=SamplingSettings(action_pull=0.0))  # pulled above, as generation pulls
    ways["every layer predicted from the caption (as generated)"] = lambda ids, row: generated.motions[row].tokens[None]

    print(f"{args.model}: {len(chosen)} {args.split} clips of {len(by_action)} actions")
    print("| decoded from | action right | MPJPE (mm) | actions right less than half the time |\n|---|---|---|---|")

    def lost(classes: list[str]) -> str:
        rights = defaultdict(list)
        for c, a in zip(classes, actions):
            rights[a].append(c == a)
        return ", ".join(sorted(a for a, r in rights.items() if np.mean(r) < 0.5)) or "-"

    for name, ids_of in ways.items():
        decoded = [pipeline.decode_tokens(ids_of(ids, row))[0] for row, ids in enumerate(encoded)]
        classes = benchmark.classify(embed_motions(evaluator, decoded))
        right = np.mean([c == a for c, a in zip(classes, actions)])
        error = 1000 * np.mean([joint_position_errors(d, f[: len(d)]).mean() for d, f in zip(decoded, features)])
        print(f"| {name} | {right:.3f} | {error:.1f} | {lost(classes)} |", flush=True)
    real = benchmark.classify(embed_motions(evaluator, features))
    print(f"| the real clips themselves | {np.mean([c == a for c, a in zip(real, actions)]):.3f} | 0 | {lost(real)} |")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
