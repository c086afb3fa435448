"""Two models compared draw by draw: the paired difference of every repeated score, with its 95% interval.

    keymask eval --model A --split val --repeats 5 --multimodality-texts 0 --json a.json
    keymask eval --model B --split val --repeats 5 --multimodality-texts 0 --json b.json
    python bench/paired.py a.json b.json

Both reports must come from the same split and the same seeds, so that draw i of each scores the
same captions, lengths and R-precision groups: the difference of one draw then holds only what the
models change, and its spread over draws is far smaller than that of either model's scores alone.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from keymask.core.metrics.evaluation import mean_and_interval


def load_draws(path: Path) -> dict:
    document = json.loads(path.read_text())
    if "repeats" not in document:
        sys.exit(f"{path} has no repeated draws: write it with `keymask eval --repeats N --json {path}` (N >= 2).")
    return document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path, help="`keymask eval --repeats N --json` report of the first model")
    parser.add_argument("after", type=Path, help="the same for the second model (same split and seeds)")
    args = parser.parse_args()
    before, after = load_draws(args.before), load_draws(args.after)
    if before["split"] != after["split"] or before["repeats"]["seeds"] != after["repeats"]["seeds"]:
        sys.exit("The two reports drew different clips: run both with the same --split, --seed and --repeats.")
    print(f"{len(before['repeats']['seeds'])} paired draws on the {before['split']} split "
          f"(seeds {before['repeats']['seeds']}); mean +- 95% interval\n")
    print("| score | first | second | second - first |\n|---|---|---|---|")
    for name, first in before["repeats"]["model"].items():
        second = after["repeats"]["model"].get(name)
        if second is None:
            continue
        difference = np.asarray(second) - np.asarray(first)
        cells = [mean_and_interval(first), mean_and_interval(second), mean_and_interval(difference)]
        print(f"| {name} | " + " | ".join(f"{mean:.4f} +- {half:.4f}" for mean, half in cells) + " |")


if __name__ == "__main__":
    main()
