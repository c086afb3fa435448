"""Round-trip errors on the built dataset (real clips).

    python bench/roundtrip.py [--dataset DIR] [--clips N]

Prints, over N clips of every split: joints -> 263 features -> joints (against the canonical
floor/origin/facing positions), and joints -> BVH text -> parsed -> forward kinematics.
"""

import argparse
import json
import time

import numpy as np

from keymask.core.bvh.from_joints import bvh_to_joints, joints_to_bvh
from keymask.core.bvh.reader import parse_bvh
from keymask.core.bvh.writer import format_bvh
from keymask.core.features import canonicalize, joints_to_features, recover_from_ric
from keymask.core.paths import default_dataset_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=None, help="built dataset folder (default: the cache's)")
    parser.add_argument("--clips", type=int, default=200, help="clips to measure, spread over the dataset")
    args = parser.parse_args()
    dataset = default_dataset_dir() if args.dataset is None else args.dataset
    from pathlib import Path

    dataset = Path(dataset)
    records = [json.loads(line) for line in (dataset / "manifest.jsonl").read_text().splitlines()]
    picks = [records[i] for i in np.linspace(0, len(records) - 1, min(args.clips, len(records))).astype(int)]

    feature_errors, bvh_errors, frames = [], [], 0
    started = time.perf_counter()
    for record in picks:
        joints = np.load(dataset / "joints" / f"{record['clip_id']}.npy").astype(np.float64)  # (T, 22, 3)
        recovered = recover_from_ric(joints_to_features(joints))  # (T-1, 22, 3)
        feature_errors.append(np.linalg.norm(recovered - canonicalize(joints)[:-1], axis=-1).max())
        back = bvh_to_joints(parse_bvh(format_bvh(joints_to_bvh(joints, units="cm")), "roundtrip"), units="cm")
        bvh_errors.append(np.linalg.norm(back - joints, axis=-1).max())
        frames += len(joints)
    elapsed = time.perf_counter() - started
    mm = 1000.0
    print(f"clips: {len(picks)}  frames: {frames}  time: {elapsed:.1f} s")
    print(f"joints -> features -> joints: max {max(feature_errors) * mm:.6f} mm, "
          f"mean of per-clip max {np.mean(feature_errors) * mm:.6f} mm")
    print(f"joints -> BVH (cm) -> joints: max {max(bvh_errors) * mm:.4f} mm, "
          f"mean of per-clip max {np.mean(bvh_errors) * mm:.4f} mm")


if __name__ == "__main__":
    main()
