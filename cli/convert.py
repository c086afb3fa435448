"""`keymask convert`: BVH <-> (T, 22, 3) joint positions."""

import argparse
from pathlib import Path

from keymask.cli.errors import rotation_order
from keymask.core.spec import HUMANML3D

EPILOG = """\
examples:
  keymask convert dataset-1_walk_normal_001.bvh -o walk.npy    # Bandai or KeyMask BVH -> joints (metres, 20 fps)
  keymask convert walk.npy -o walk.bvh --units cm --fps 30     # joints -> BVH for Blender, Maya, MotionBuilder
  keymask convert walk.npy -o walk.bvh --order XYZ             # another Euler rotation order

Joint arrays are (T, 22, 3) float arrays in metres, Y up, in the HumanML3D joint order
(pelvis, left_hip, right_hip, spine1, ...; see keymask.core.skeleton)."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert", help="BVH <-> joint positions (.npy)",
        description="Convert between BVH files and (T, 22, 3) joint-position arrays. The direction follows the "
                    "file extensions. Output files are written atomically.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, help="a .bvh or .npy file")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the .npy or .bvh file to write")
    parser.add_argument("--fps", type=float, default=float(HUMANML3D.fps),
                        help="frame rate of the file written: the BVH (resampled from the joints' rate) or the "
                             ".npy (resampled from the BVH's) (default: %(default)s)")
    parser.add_argument("--joints-fps", type=float, default=float(HUMANML3D.fps),
                        help="frame rate of a .npy input (default: %(default)s, as KeyMask writes them)")
    parser.add_argument("--units", choices=("m", "cm"), default="m", help="BVH units to write (default: %(default)s)")
    parser.add_argument("--order", default="ZXY", type=rotation_order,
                        help="Euler rotation order to write (default: %(default)s)")
    parser.set_defaults(run=run)


def run(args) -> int:
    import numpy as np

    from keymask.cli.errors import CommandError
    from keymask.core.bvh.convert import bvh_file_to_joints, joints_to_bvh_file

    source, target = args.input.suffix.lower(), args.output.suffix.lower()
    if not args.input.exists():
        raise FileNotFoundError(f"The input file {args.input} does not exist.")
    if (source, target) == (".bvh", ".npy"):
        joints = bvh_file_to_joints(args.input, fps=args.fps)
        from keymask.core.fileio import write_npy

        write_npy(args.output, joints.astype(np.float32))
        print(f"{args.input} -> {args.output}: {joints.shape[0]} frames at {args.fps:g} fps, 22 joints (metres)")
    elif (source, target) == (".npy", ".bvh"):
        from keymask.core.bvh.convert import check_joints, resample_positions

        if not (args.fps > 0 and args.joints_fps > 0):
            raise CommandError("--fps and --joints-fps must be positive frame rates.")
        joints = check_joints(np.load(args.input), str(args.input))
        if abs(args.fps - args.joints_fps) > 1e-6:
            joints = resample_positions(joints, args.joints_fps, args.fps)
        joints_to_bvh_file(joints, args.output, fps=args.fps, units=args.units, rotation_order=args.order)
        print(f"{args.input} -> {args.output}: {joints.shape[0]} frames at {args.fps:g} fps, {args.units}, "
              f"{args.order} rotations")
    else:
        raise CommandError(f"Cannot convert {source or 'no extension'} to {target or 'no extension'}: "
                         "use .bvh -> .npy or .npy -> .bvh.")
    return 0
