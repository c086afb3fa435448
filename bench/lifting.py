"""How well the 2D -> 3D lifter does on the test split, and a picture of it.

    python bench/lifting.py [--dataset DIR] [--lifter FOLDER] [--split test] [--frame-step N] [--seed S] [--picture PNG]

Every N-th frame (default 10) of every test clip, on the template skeleton and then on the actor's
own skeleton (the dataset's joints/), is projected through a fixed, seeded random
camera (conditioning/lifting/projection.py: CameraSampler's defaults) and lifted back with the
numpy lifter. Prints P-MPJPE (after scale + rotation + translation alignment per pose) and
root-relative MPJPE (no alignment; the canonical frame: pelvis at the origin, facing +Z) for
ground-truth 2D, with 10 px Gaussian noise on every keypoint, and with 3 of the 14 body joints
missing (random, seeded), against the targets, and how many poses are lifted over 80 mm wrong
(P-MPJPE). Writes docs/lifting.png: test poses, the 2D input beside the lifted 3D skeleton over
the ground truth. `--split val` measures the val split instead (to choose between lifters without
looking at the test split), and draws no picture.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from keymask.conditioning.lifting.evaluate import (
    EVALUATION_FRAME_STEP,
    TAIL_MM,
    evaluate_on_poses,
    procrustes_align,
    seeded_views,
    split_poses,
)
from keymask.conditioning.lifting.lift import SHIPPED_LIFTER, lift_keypoints
from keymask.conditioning.lifting.numpy_lifter import NumpyPoseLifter
from keymask.conditioning.poses import COCO18_LIMBS
from keymask.core.data.sources import BANDAI_LICENSE
from keymask.core.facing import canonical_pose
from keymask.core.paths import default_dataset_dir
from keymask.core.preview import project as view_3d
from keymask.core.preview import save_png
from keymask.core.skeleton import HUMANML3D_SKELETON
from keymask.core.training.data import manifest

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"p_mpjpe_mm": 45.0, "mpjpe_mm": 60.0}
CONDITIONS = (("ground-truth 2D", {}), ("10 px noise", {"noise_px": 10.0}), ("3 joints dropped", {"dropped": 3}))

_BACKGROUND = (250, 250, 248)
_RIGHT, _LEFT, _MIDDLE, _TRUTH = (210, 60, 50), (50, 90, 210), (40, 40, 40), (190, 190, 185)
_CHAIN_COLOURS = (_RIGHT, _LEFT, _MIDDLE, _RIGHT, _LEFT)  # HUMANML3D kinematic chains, in order


def metrics_table(lifter, poses: np.ndarray, seed: int) -> list[str]:
    lines = [f"| input | P-MPJPE (mm) | target | over {TAIL_MM:.0f} mm | root-relative MPJPE (mm) | target | targets |",
             "|---|---|---|---|---|---|---|"]
    for label, options in CONDITIONS:
        result = evaluate_on_poses(lifter, poses, seed=seed, **options)
        met = all(result[k] < v for k, v in TARGETS.items())
        lines.append(f"| {label} | {result['p_mpjpe_mm']:.1f} | < {TARGETS['p_mpjpe_mm']:.0f} | "
                     f"{result['p_mpjpe_over_tail']} of {result['poses']} | "
                     f"{result['mpjpe_mm']:.1f} | < {TARGETS['mpjpe_mm']:.0f} | {'met' if met else 'missed'} |")
    return lines


# ----------------------------------------------------------------------------------------------
# The picture


def _limb_colour(a: int, b: int) -> tuple[int, int, int]:
    """Right side red, left side blue (COCO-18: right limbs 2-4, 8-10, 14, 16; left 5-7, 11-13, 15, 17)."""
    right, left = {2, 3, 4, 8, 9, 10, 14, 16}, {5, 6, 7, 11, 12, 13, 15, 17}
    if b in right or a in right and b != 1:
        return _RIGHT
    if b in left or a in left and b != 1:
        return _LEFT
    return _MIDDLE


def draw_2d(draw: ImageDraw.ImageDraw, keypoints: np.ndarray, present: np.ndarray,
            box: tuple[int, int, int, int]) -> None:
    """The 2D pose (18, 2) in pixels (y down), its present keypoints fitted into box (left, top, right, bottom)."""
    left, top, right, bottom = box
    shown = keypoints[present]
    low, high = shown.min(0), shown.max(0)
    scale = 0.85 * min((right - left) / max(high[0] - low[0], 1e-6), (bottom - top) / max(high[1] - low[1], 1e-6))
    centre = np.array([(left + right) / 2, (top + bottom) / 2])
    points = [tuple(p) for p in (keypoints - (low + high) / 2) * scale + centre]
    draw.rectangle(box, outline=(215, 215, 210))
    for a, b in COCO18_LIMBS:
        if present[a] and present[b]:
            draw.line([points[a], points[b]], fill=_limb_colour(a, b), width=2)
    for (x, y), there in zip(points, present):
        if there:
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=(20, 20, 20))


def draw_3d(draw: ImageDraw.ImageDraw, joints: np.ndarray, truth: np.ndarray, box: tuple[int, int, int, int],
            azimuth_deg: float) -> None:
    """The lifted skeleton (22, 3) in colour over the ground truth in grey, orthographic, metres."""
    left, top, right, bottom = box
    scale = (bottom - top) / 2.2  # metres to pixels: from the feet (-0.95) to raised hands (+1.05)
    centre_x, centre_y = (left + right) / 2, (top + bottom) / 2 + 0.05 * scale  # the pelvis

    def to_pixels(points):
        uv = view_3d(points, azimuth_deg=azimuth_deg, elevation_deg=10.0)
        return [(centre_x + u * scale, centre_y - v * scale) for u, v in uv]

    for positions, colours, width in ((truth, (_TRUTH,) * 5, 5), (joints, _CHAIN_COLOURS, 2)):
        pixels = to_pixels(positions)
        for chain, colour in zip(HUMANML3D_SKELETON.kinematic_chains, colours):
            draw.line([pixels[j] for j in chain], fill=colour, width=width, joint="curve")


def picture(lifter, dataset_dir: Path, seed: int) -> Image.Image:
    """One column per test pose: its 2D input, the lifted 3D pose from the front-left and from the side."""
    records = manifest(dataset_dir)
    picks = []
    for content, condition in (("raise-up-both-hands", {}), ("run", {}), ("wave-right-hand", {"noise_px": 10.0}),
                               ("walk-turn-left", {"dropped": 3})):
        clip_id = next(c for c, r in sorted(records.items()) if r["split"] == "test" and r["content"] == content
                       and not r["mirrored"])
        joints = np.load(dataset_dir / "joints" / f"{clip_id}.npy")  # the actor's own skeleton
        picks.append((clip_id, canonical_pose(joints[len(joints) // 2])[None], condition))

    panel, header = 230, 34
    image = Image.new("RGB", (panel * len(picks), header + 3 * panel + 34), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    for column, (clip_id, truth, condition) in enumerate(picks):
        keypoints, present = seeded_views(truth, seed=seed + column, **condition)
        lifted = lift_keypoints(lifter, keypoints, present)
        x = column * panel
        error = np.linalg.norm(lifted - truth, axis=-1).mean() * 1000
        aligned = np.linalg.norm(procrustes_align(lifted, truth) - truth, axis=-1).mean() * 1000
        what = "ground-truth 2D" if not condition else ("10 px noise" if "noise_px" in condition else "3 joints dropped")
        draw.text((x + 6, 3), clip_id.replace("dataset-2_", "")[:34], fill=(20, 20, 20))
        draw.text((x + 6, 17), f"{what}: {error:.0f} / {aligned:.0f} mm", fill=(90, 90, 90))
        draw_2d(draw, keypoints[0], present[0], (x + 8, header + 4, x + panel - 8, header + panel - 4))
        draw_3d(draw, lifted[0], truth[0], (x, header + panel, x + panel, header + 2 * panel), 25.0)
        draw_3d(draw, lifted[0], truth[0], (x, header + 2 * panel, x + panel, header + 3 * panel), 90.0)
    draw.text((6, header + 3 * panel + 4), "rows: the 2D input; the lifted 3D pose (colour) over the truth (grey) "
              "from the front-left; from the side. Errors: root-relative / aligned.", fill=(90, 90, 90))
    draw.text((6, header + 3 * panel + 18), BANDAI_LICENSE.split(": attribution")[0] + ".", fill=(90, 90, 90))
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=None, help="built dataset folder (default: the cache's)")
    parser.add_argument("--lifter", type=Path, default=SHIPPED_LIFTER, help="lifter folder (default: the shipped one)")
    parser.add_argument("--split", choices=("test", "val"), default="test", help="poses from this split")
    parser.add_argument("--frame-step", type=int, default=EVALUATION_FRAME_STEP, help="every n-th test frame")
    parser.add_argument("--seed", type=int, default=0, help="cameras, noise and dropped joints (default: 0)")
    parser.add_argument("--picture", type=Path, default=REPO / "docs" / "lifting.png", help="where the PNG goes")
    args = parser.parse_args()
    dataset = args.dataset or default_dataset_dir()

    lifter = NumpyPoseLifter.from_folder(args.lifter)
    print(f"lifter: {args.lifter} (width {lifter.config.width}, {lifter.config.blocks} blocks, numpy)")
    for actors, what in ((False, "on the template skeleton"), (True, "on each actor's own skeleton")):
        poses = split_poses(dataset, args.split, args.frame_step, actors=actors)
        started = time.perf_counter()
        table = metrics_table(lifter, poses, args.seed)
        print(f"\n{args.split} split {what}: {len(poses)} poses (every {args.frame_step}th frame), one random camera each "
              f"(seed {args.seed}); the three measures took {time.perf_counter() - started:.1f} s")
        print("\n".join(table))
    if args.split == "test":
        save_png(picture(lifter, dataset, args.seed), args.picture)
        print(f"picture: {args.picture}")


if __name__ == "__main__":
    main()
