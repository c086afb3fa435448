"""The lifter on 2D that KeyMask did not project: mediapipe reading rendered mannequins.

    python bench/lifting_rendered.py [--poses 100] [--seed 0] [--split test] [--lifter DIR ...]
        [--min-visibility 0.35 ...] [--ways 2 1] [--keep DIR | --renders DIR]

Test-split poses on each actor's own skeleton (the dataset's joints/, one frame from the middle
of each chosen clip) are built as mannequins in Blender (capsule limbs, a head with eyes, ears and
a nose; bench/blender/render_mannequins.py) and rendered with Cycles from a seeded random camera
(azimuth within 75 degrees of the front, elevation 0-25 degrees, 2.6-3.6 m, 35 mm lens,
360 x 540 px). mediapipe's pose model (conditioning/photo.py, as `keymask pose extract` runs it)
reads each picture; each lifter lifts what mediapipe found. `--split val` renders validation poses
instead (the set the photo reader's visibility threshold was chosen on, with `--seed 7
--min-visibility 0.5 0.35 0.2 0`); each --min-visibility is read separately. Errors against the true 3D pose: P-MPJPE
(after the best scale, rotation and translation) and root-relative (pelvis at the origin, turned
about the vertical to fit). Needs Blender and mediapipe; about 3 s per pose on a 2-core CPU.
`--ways 2 1` compares the photo reader's default (the picture read as it is and flipped, averaged:
conditioning/photo.py BOTH_WAYS) with one reading. `--keep DIR` keeps the renders; `--renders DIR`
reads such a folder again without Blender (to compare lifters and readings on the same pictures).
"""

import argparse
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from keymask.conditioning.lifting.evaluate import TAIL_MM, aligned_errors
from keymask.conditioning.lifting.lift import SHIPPED_LIFTER, lift_pose
from keymask.conditioning.lifting.numpy_lifter import NumpyPoseLifter
from keymask.conditioning.photo import MIN_VISIBILITY, PhotoPoseExtractor
from keymask.conditioning.refine import pose_error
from keymask.core.facing import canonical_pose
from keymask.core.paths import default_dataset_dir
from keymask.core.training.data import read_split

RENDER_SCRIPT = Path(__file__).parent / "blender" / "render_mannequins.py"


def chosen_poses(count: int, seed: int, split: str = "test") -> tuple[list[str], np.ndarray]:
    dataset = default_dataset_dir()
    clips = [c for c in read_split(dataset, split) if (dataset / "joints" / f"{c}.npy").exists() and not c.startswith("M")]
    picked = sorted(np.random.default_rng(seed).choice(len(clips), min(count, len(clips)), replace=False))
    poses = []
    for i in picked:
        joints = np.load(dataset / "joints" / f"{clips[i]}.npy")
        pose = canonical_pose(joints[len(joints) // 2])
        pose[:, 1] -= pose[:, 1].min()  # standing on the floor
        poses.append(pose)
    return [clips[i] for i in picked], np.stack(poses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--poses", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lifter", type=Path, action="append", default=None,
                        help="lifter folders to compare (default: the shipped one)")
    parser.add_argument("--split", choices=("test", "val"), default="test", help="poses from this split")
    parser.add_argument("--min-visibility", type=float, nargs="+", default=[MIN_VISIBILITY],
                        help="the photo reader's body-joint visibility thresholds to compare (default: %(default)s)")
    parser.add_argument("--ways", type=int, nargs="+", choices=(1, 2), default=[2],
                        help="read each picture 2 ways (as it is and flipped, the default) or 1 (as it is)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the renders here")
    parser.add_argument("--renders", type=Path, default=None,
                        help="a folder kept by --keep: read its pictures again instead of rendering")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.renders is not None:
        poses = np.array(json.loads((args.renders / "poses.json").read_text())["poses"])
        read_and_compare(args, args.renders, poses)
        print(f"{len(poses)} poses from {args.renders} ({time.perf_counter() - started:.0f} s)")
        return
    blender = shutil.which("blender")
    if blender is None:
        raise SystemExit("bench/lifting_rendered.py needs Blender on the PATH (apt-get install blender).")
    clip_ids, poses = chosen_poses(args.poses, args.seed, args.split)
    rng = np.random.default_rng(args.seed + 1)
    cameras = np.stack([rng.uniform(-75, 75, len(poses)), rng.uniform(0, 25, len(poses)), rng.uniform(2.6, 3.6, len(poses))], 1)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="keymask_mannequins_"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "poses.json").write_text(json.dumps({"poses": poses.tolist(), "cameras": cameras.tolist(), "clips": clip_ids}))
    done = subprocess.run([blender, "-b", "--factory-startup", "--python", str(RENDER_SCRIPT), "--",
                           str(folder / "poses.json"), str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stdout[-2000:] + done.stderr[-2000:])
    read = read_and_compare(args, folder, poses)
    print(f"{len(poses)} {args.split} poses rendered, mediapipe read {read} ({time.perf_counter() - started:.0f} s)")
    if not args.keep:
        shutil.rmtree(folder)


def read_and_compare(args, folder: Path, poses: np.ndarray) -> int:
    """Print a row per lifter and visibility threshold; return how many pictures mediapipe read."""
    print(f"| lifter | visibility | readings | P-MPJPE (mm) | median | over {TAIL_MM:.0f} mm | root-relative (mm) |\n"
          "|---|---|---|---|---|---|---|")
    for visibility, ways in itertools.product(args.min_visibility, args.ways):
        read, truth = [], []
        with PhotoPoseExtractor() as extractor:
            for index, pose in enumerate(poses):
                try:
                    read.append(extractor.extract(folder / f"pose_{index:03d}.png", min_visibility=visibility,
                                                  both_ways=ways == 2))
                    truth.append(canonical_pose(pose))
                except ValueError:
                    pass  # mediapipe found nobody: counted below
        truth = np.stack(truth)
        for lifter_dir in args.lifter or [SHIPPED_LIFTER]:
            lifter = NumpyPoseLifter.from_folder(lifter_dir)
            lifted = np.stack([lift_pose(pose, lifter).joints for pose in read])
            pa = 1000 * aligned_errors(lifted, truth)
            rr = 1000 * np.array([pose_error(a, b) for a, b in zip(lifted, truth)])
            print(f"| {lifter_dir} | {visibility:g} | {ways} | {pa.mean():.1f} | {np.median(pa):.1f} | "
                  f"{int((pa > TAIL_MM).sum())} of {len(pa)} | {rr.mean():.1f} |", flush=True)
    return len(read)


if __name__ == "__main__":
    main()
