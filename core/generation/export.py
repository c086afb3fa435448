"""Writing generated motions: BVH (for Blender and friends) plus the joint positions as .npy."""

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keymask.core.animation import animate
from keymask.core.bvh.convert import check_joints
from keymask.core.bvh.from_joints import bvh_to_joints, joints_to_bvh
from keymask.core.bvh.writer import write_bvh
from keymask.core.fileio import write_npy

if TYPE_CHECKING:
    from keymask.core.mocap.rig_export import Rig


def output_paths(output: Path, count: int) -> list[Path]:
    """One BVH path per motion: `output` itself for one motion, else `<stem>_NN.bvh` beside it."""
    output = Path(output)
    if output.suffix.lower() != ".bvh":
        output = output.with_suffix(".bvh")
    if count == 1:
        return [output]
    return [output.with_name(f"{output.stem}_{i:02d}.bvh") for i in range(count)]


def export_motion(joints: np.ndarray, bvh_path: Path, *, fps: float = 20, units: str = "m",
                  rotation_order: str = "ZXY", reference_frames: np.ndarray | None = None, rig: "Rig | None" = None,
                  hand_pose: str = "relaxed") -> tuple[list[Path], np.ndarray]:
    """Write `<name>.bvh` and `<name>.npy`; returns the paths and the joints written (T, 22, 3).

    Generated joints come from per-joint predictions, so their bone lengths wobble a little from
    frame to frame; a BVH has one skeleton. The .npy therefore holds the joints of the BVH (the
    motion fitted to its skeleton), so that both files describe the same motion. With a `rig`
    (core/mocap/rig_export.py) the BVH is that rig, in its units and axes, with fingers in
    `hand_pose`, and the .npy holds our 22 joints as the rig shows them.
    """
    bvh_path = Path(bvh_path)
    npy_path = bvh_path.with_suffix(".npy")
    joints = check_joints(joints, str(bvh_path))
    if rig is not None:
        from keymask.core.mocap.rig_export import motion_onto_rig

        animation = animate(joints, reference_frames)
        motion = motion_onto_rig(animation, rig, fps=fps, hand_pose=hand_pose)
        fitted = animation.on_body(rig.body).joints()
    else:
        motion = joints_to_bvh(joints, fps=fps, units=units, rotation_order=rotation_order,
                               reference_frames=reference_frames)
        fitted = bvh_to_joints(motion, units=units)  # (T, 22, 3) metres
    write_bvh(bvh_path, motion)
    write_npy(npy_path, fitted.astype(np.float32))
    return [bvh_path, npy_path], fitted


def delivered_joints(joints: np.ndarray, *, fps: float = 20) -> np.ndarray:
    """(T, 22, 3) metres: the joints `export_motion` writes for `joints`, without writing files (benchmarks)."""
    return bvh_to_joints(joints_to_bvh(check_joints(joints, "the motion"), fps=fps, units="m"), units="m")


def export_contact_sheet(motions: list[tuple[str, np.ndarray]], png_path: Path, frames: int = 8) -> Path:
    """One PNG: a row of `frames` stills per motion, titled with its prompt."""
    from keymask.core.preview import render_contact_sheet, save_png  # Pillow loads only when pictures are asked for

    save_png(render_contact_sheet(motions, frames=frames), png_path)
    return Path(png_path)


def export_preview(motions: list[tuple[str, np.ndarray]], gif_path: Path, fps: int = 20) -> Path:
    """A stick-figure GIF with the motions side by side."""
    from keymask.core.preview import render_animation, save_gif

    save_gif(render_animation(motions, fps=fps), gif_path, fps=fps)
    return Path(gif_path)
