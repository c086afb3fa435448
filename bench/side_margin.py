"""How strongly a prompt that names one side is read as an action of that side
(known_actions.NAMED_SIDE_MARGIN, the margin CaptionIndex.read_actions gives actions of the named
side before the prompt is pulled toward its action).

    python bench/side_margin.py [--margins 0 0.05 0.1 0.2 0.3] [--seeds 3]

Development prompts: resources/eval/side_development.json, written by hand apart from
bench/text.py's prompts and never used in training ("... with the left hand", "... right foot").
Each is generated as `keymask generate` makes it (generate_requests, clean-up on), pulled toward
the action it reads as at each margin, and read on the delivered joints as bench/text.py reads its side rows:
- named side: the named side's wrist (ankle) travels further than the other (`side_that_moves`;
  generation mirrors motions that fail it unless `--no-mirror`, so this row then checks that step);
- action: the evaluator's class is one the prompt accepts (the sided action or its unsided family);
- sided action on the named side: the evaluator's class is the sided action of the named side.
Prompts that name no side read the same at every margin, so the margin is chosen here alone;
`keymask eval` and `python bench/text.py` then check the chosen default.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from keymask.core.features import joints_to_features
from keymask.core.generation.cleanup import CleanupSettings
from keymask.core.generation.composition import Request, generate_requests
from keymask.core.generation.export import delivered_joints
from keymask.core.generation.pipeline import MotionPipeline, SamplingSettings
from keymask.core.generation.sides import side_that_moves
from keymask.core.metrics.evaluation import Benchmark, EvaluationSettings, embed_motions
from keymask.core.metrics.evaluator import MotionTextEvaluator
from keymask.core.paths import default_dataset_dir
from keymask.core.text.encoders import SentenceEncoder
from keymask.core.text.prompts import clean_prompts
from keymask.resources import RESOURCES_DIR


DEVELOPMENT = RESOURCES_DIR / "eval" / "side_development.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=RESOURCES_DIR / "models" / "default")
    parser.add_argument("--evaluator", type=Path, default=RESOURCES_DIR / "models" / "evaluator")
    parser.add_argument("--margins", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2, 0.3])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--no-mirror", action="store_true",
                        help="keep motions that move the other side than the prompt names (no mirror image)")
    args = parser.parse_args()
    started = time.perf_counter()

    entries = json.loads(DEVELOPMENT.read_text())["prompts"]
    pipeline = MotionPipeline.from_folder(args.model)
    if pipeline.caption_index is None:
        raise SystemExit(f"{args.model} has no caption index: prompts are not read as actions.")
    evaluator = MotionTextEvaluator.from_pretrained(args.evaluator)
    benchmark = Benchmark(evaluator, SentenceEncoder(), default_dataset_dir(), EvaluationSettings(split="test"))
    prompts = clean_prompts([e["prompt"] for e in entries])
    words = pipeline.encode_text(prompts)
    as_written = SamplingSettings(action_pull=0.0,  # pulled here, at each margin
                                  mirror_to_named_side=not args.no_mirror)

    print(f"{len(entries)} development prompts x {args.seeds} seeds")
    print("| side margin | prompts read otherwise | named side moves | action right | sided action on the named side "
          "| seconds |\n|---|---|---|---|---|---|")
    unpushed = pipeline.caption_index.read_actions(prompts, words, 0.0)
    for margin in args.margins:
        margin_started = time.perf_counter()
        read = pipeline.caption_index.read_actions(prompts, words, margin)
        pulled = pipeline.caption_index.pulled_toward_actions(prompts, words, SamplingSettings.action_pull,
                                                              side_margin=margin)
        side, action, sided = [], [], []
        for seed in range(args.seeds):
            result = generate_requests(pipeline, [Request(p) for p in prompts], seed=seed, settings=as_written,
                                       cleanup=CleanupSettings(), embeddings=dict(zip(prompts, pulled)))
            joints = [delivered_joints(m.joints, fps=m.fps) for m in result.motions]
            classes = benchmark.classify(embed_motions(evaluator, [joints_to_features(j) for j in joints]))
            for entry, motion, label in zip(entries, joints, classes):
                side.append(side_that_moves(motion, entry["limb"]) == entry["side"])
                action.append(label in entry["accepts"])
                sided.append(label == entry["accepts"][0])
        changed = sum(a != b for a, b in zip(read, unpushed))
        print(f"| {margin:g} | {changed} | {np.mean(side):.3f} | {np.mean(action):.3f} | {np.mean(sided):.3f} | "
              f"{time.perf_counter() - margin_started:.0f} |", flush=True)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
