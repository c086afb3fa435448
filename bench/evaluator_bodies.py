"""Does the evaluator read movement, or the body it is played on?

    python bench/evaluator_bodies.py [--evaluator DIR] [--dataset DIR] [--split test]

Each real clip of the split (not joined, not mirrored; its first 9.8 s) is classified by the
evaluator as recorded, on its actor's own proportions, and carried onto each body preset
(`keymask generate --body`: the model's template and each source's median actor) by its joint
rotations (core/animation.py `Animation.on_body`), which keeps every bone direction and changes
only bone lengths. Prints, per source, the share classified as the clip's own action on each body.
A measure of movement would give the same share on every body; the two-action and paraphrase
figures of bench/text.py are read by this evaluator on the body the motion is delivered on.
"""

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from keymask.core.animation import animate, body_preset, body_presets
from keymask.core.features import joints_to_features
from keymask.core.metrics.evaluation import Benchmark, EvaluationSettings, embed_motions
from keymask.core.metrics.evaluator import MotionTextEvaluator
from keymask.core.paths import default_dataset_dir
from keymask.core.spec import HUMANML3D
from keymask.core.text.encoders import SentenceEncoder
from keymask.resources import RESOURCES_DIR

BATCH = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--evaluator", type=Path, default=RESOURCES_DIR / "models" / "evaluator")
    parser.add_argument("--dataset", type=Path, default=None, help="built dataset (default: the cache's)")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    args = parser.parse_args()
    dataset = args.dataset or default_dataset_dir()
    evaluator = MotionTextEvaluator.from_pretrained(args.evaluator)
    benchmark = Benchmark(evaluator, SentenceEncoder(), dataset, EvaluationSettings(split=args.split))
    records = [json.loads(line) for line in (dataset / "manifest.jsonl").read_text().splitlines()]
    clips = [r for r in records if r["split"] == args.split and r["source"] != "joined" and not r["mirrored"]]
    bodies = ["own", *body_presets()]

    right: dict[tuple[str, str], list[bool]] = defaultdict(list)  # (source, body) -> read as its own action
    for start in range(0, len(clips), BATCH):
        batch = clips[start:start + BATCH]
        recorded = [np.load(dataset / "joints" / f"{r['clip_id']}.npy")[:HUMANML3D.max_frames] for r in batch]
        for body in bodies:
            played = recorded if body == "own" else [
                animate(joints).on_body(body_preset(body)).joints().astype(np.float32) for joints in recorded]
            reads = benchmark.classify(embed_motions(evaluator, [joints_to_features(j) for j in played]))
            for record, read in zip(batch, reads):
                right[(record["source"], body)].append(read == record["content"])
        print(f"{min(start + BATCH, len(clips))} of {len(clips)} clips", flush=True)

    print(f"| source (clips) | {' | '.join(bodies)} |")
    print(f"|---|{'---|' * len(bodies)}")
    for source in sorted({r["source"] for r in clips}):
        shares = [np.mean(right[(source, body)]) for body in bodies]
        print(f"| {source} ({len(right[(source, 'own')])}) | {' | '.join(f'{s:.3f}' for s in shares)} |")


if __name__ == "__main__":
    main()
