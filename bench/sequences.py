"""How prompts with "then", "before" or "after" are read, on the prompts written to choose the rule.

    python bench/sequences.py [--model DIR]

resources/eval/sequence_calibration.json holds 32 prompts of several actions in turn and 32 of
one action told in phases. Prints how many of each `plan_actions` (core/generation/composition.py)
splits, and each prompt's reading.
"""

import argparse
import json
from pathlib import Path

from keymask.core.generation.composition import plan_actions
from keymask.core.generation.pipeline import MotionPipeline
from keymask.resources import RESOURCES_DIR

CALIBRATION = RESOURCES_DIR / "eval" / "sequence_calibration.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=RESOURCES_DIR / "models" / "default")
    args = parser.parse_args()
    pipeline = MotionPipeline.from_folder(args.model)
    sets = json.loads(CALIBRATION.read_text())
    for name in ("several_actions", "one_action"):
        plans = [plan_actions(pipeline, prompt) for prompt in sets[name]]
        for prompt, plan in zip(sets[name], plans):
            print(f"  {name:16s} {len(plan)} part(s): {' | '.join(plan) if len(plan) > 1 else prompt}")
        print(f"{name}: {sum(len(p) > 1 for p in plans)} of {len(plans)} split")


if __name__ == "__main__":
    main()
