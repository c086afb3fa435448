"""Two actions in turn on hand-written development prompts, apart from bench/text.py's.

    python bench/sequence_order.py [--model DIR] [--seeds 4] [--prompts FILE] [--exemplar-share 1] [--list-wrong]

resources/eval/sequence_development.json holds 40 prompts of two actions in turn, each with the labels
accepted for each action; sequence_development_2.json 40 more, written later to check changes chosen
on the first; sequence_development_3.json 40 more, written after both had chosen the eighteenth
session's changes. Each is made as `keymask generate` makes it (core/generation/composition.py)
and scored on the delivered joints as bench/text.py scores its two-action prompts: in order when, at
some cut between 30% and 70% of the motion, the evaluator reads the part before as the first action
and the rest as the second. Also printed: how many prompts are made as two parts, and how often the
part before the planned join and the part after it are read as their actions.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from keymask.core.features import joints_to_features
from keymask.core.generation.cleanup import CleanupSettings
from keymask.core.generation.composition import Request, generate_requests, part_frames, plan_actions
from keymask.core.generation.export import delivered_joints
from keymask.core.generation.pipeline import MotionPipeline, SamplingSettings
from keymask.core.metrics.evaluation import Benchmark, EvaluationSettings, embed_motions
from keymask.core.metrics.evaluator import MotionTextEvaluator
from keymask.core.paths import default_dataset_dir
from keymask.core.text.encoders import SentenceEncoder
from keymask.resources import RESOURCES_DIR
from text import accepted, in_order, parts_at_cuts

PROMPTS = RESOURCES_DIR / "eval" / "sequence_development.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=RESOURCES_DIR / "models" / "default")
    parser.add_argument("--evaluator", type=Path, default=RESOURCES_DIR / "models" / "evaluator")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--prompts", type=Path, default=PROMPTS,
                        help="a JSON file of two-action prompts (default: resources/eval/sequence_development.json)")
    parser.add_argument("--exemplar-share", type=float, default=SamplingSettings.exemplar_share,
                        help="share of each part held to a training clip (default: %(default)s)")
    parser.add_argument("--list-wrong", action="store_true",
                        help="print each motion not in order: its seed, where its parts join (share of the motion) and "
                             "how the evaluator reads the part before and after the join")
    args = parser.parse_args()
    started = time.perf_counter()

    entries = json.loads(args.prompts.read_text())["prompts"]
    pipeline = MotionPipeline.from_folder(args.model)
    evaluator = MotionTextEvaluator.from_pretrained(args.evaluator)
    benchmark = Benchmark(evaluator, SentenceEncoder(), default_dataset_dir(), EvaluationSettings(split="test"))
    plans = [plan_actions(pipeline, e["prompt"]) for e in entries]
    for entry, plan in zip(entries, plans):
        if len(plan) == 1:
            print(f"  made as one action: {entry['prompt']}")

    def classify(motions: list[np.ndarray]) -> list[str]:
        return benchmark.classify(embed_motions(evaluator, [joints_to_features(j) for j in motions]))

    ordered, first_right, second_right = [], [], []
    settings = SamplingSettings(exemplar_share=args.exemplar_share)
    for seed in range(args.seeds):
        result = generate_requests(pipeline, [Request(e["prompt"]) for e in entries], seed=seed, settings=settings,
                                   cleanup=CleanupSettings())
        motions = [delivered_joints(m.joints, fps=m.fps) for m in result.motions]
        joins = []  # frame of the planned join; the middle for prompts made as one action
        for plan, motion in zip(plans, motions):
            first = part_frames(pipeline, plan, None, seed, settings.action_pull)[0] if len(plan) == 2 else len(motion) // 2
            joins.append(int(min(first, len(motion) - 2)))
        cuts = parts_at_cuts(benchmark, evaluator, motions)
        before = classify([m[: j + 1] for m, j in zip(motions, joins)])
        after = classify([m[j:] for m, j in zip(motions, joins)])
        for i, entry in enumerate(entries):
            first, second = accepted(entry["first"]), accepted(entry["second"])
            ordered.append(in_order(cuts, i, first, second))
            first_right.append(before[i] in first)
            second_right.append(after[i] in second)
            if args.list_wrong and not ordered[-1]:
                print(f"  not in order (seed {seed}, {len(plans[i])} part(s), join at {joins[i] / len(motions[i]):.2f}): "
                      f"{before[i]} | {after[i]}: {entry['prompt']}")
        print(f"seed {seed}: {np.mean(ordered[-len(entries):]):.3f} in order ({time.perf_counter() - started:.0f} s)",
              flush=True)

    print(f"| prompts made as two parts | {sum(len(p) == 2 for p in plans)} of {len(plans)} |")
    print(f"| both actions in order | {np.mean(ordered):.3f} ({len(ordered)} motions) |")
    print(f"| part before the join read as the first action | {np.mean(first_right):.3f} |")
    print(f"| part after it read as the second | {np.mean(second_right):.3f} |")


if __name__ == "__main__":
    main()
