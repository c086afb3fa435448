"""BVH writer: BvhMotion -> text, mirroring reader.py rule by rule; files are written atomically.

Axes and units: written as they are in the motion (no conversion); rotations in degrees,
intrinsic in the listed channel order (see format.py). Lines end with LF, indentation is tabs.
"""

from pathlib import Path

import numpy as np

from ..fileio import OutputPathError, atomic_write
from .format import BvhMotion, BvhSkeleton


class BvhWriteError(OutputPathError):
    """A BVH file could not be written; the message is one readable sentence."""


def write_bvh(path: str | Path, motion: BvhMotion, *, decimals: int = 6) -> None:
    """Write `motion` to `path` atomically: the file appears whole or not at all."""
    path = Path(path)
    text = format_bvh(motion, decimals=decimals)
    try:
        with atomic_write(path, "w") as handle:
            handle.write(text)
    except OutputPathError as error:
        raise BvhWriteError(f"Cannot write the BVH file {path}. {error}") from error
    except OSError as error:
        raise BvhWriteError(f"Cannot write the BVH file {path}: {error.strerror or error}.") from error


def format_bvh(motion: BvhMotion, *, decimals: int = 6) -> str:
    lines = ["HIERARCHY"]
    _format_joint(motion.skeleton, 0, depth=0, lines=lines, decimals=decimals)
    lines.extend(_format_motion_header(motion))
    lines.append(_format_frames(motion.frames, decimals))
    return "\n".join(lines) + "\n"


def _format_joint(skeleton: BvhSkeleton, index: int, depth: int, lines: list[str], decimals: int) -> None:
    joint = skeleton.joints[index]
    indent = "\t" * depth
    lines.append(f"{indent}{'ROOT' if joint.parent < 0 else 'JOINT'} {joint.name}")
    lines.append(f"{indent}{{")
    lines.append(_format_offset(joint.offset, depth + 1, decimals))
    lines.append(_format_channels(joint.channels, depth + 1))
    for child in skeleton.children(index):
        _format_joint(skeleton, child, depth + 1, lines, decimals)
    if joint.end_site is not None:
        lines.extend(_format_end_site(joint.end_site, depth + 1, decimals))
    lines.append(f"{indent}}}")


def _format_offset(offset: tuple[float, float, float], depth: int, decimals: int) -> str:
    return "\t" * depth + "OFFSET " + " ".join(_format_number(v, decimals) for v in offset)


def _format_channels(channels: tuple[str, ...], depth: int) -> str:
    return "\t" * depth + f"CHANNELS {len(channels)}" + "".join(f" {c}" for c in channels)


def _format_end_site(offset: tuple[float, float, float], depth: int, decimals: int) -> list[str]:
    indent = "\t" * depth
    return [f"{indent}End Site", f"{indent}{{", _format_offset(offset, depth + 1, decimals), f"{indent}}}"]


def _format_motion_header(motion: BvhMotion) -> list[str]:
    return ["MOTION", f"Frames: {motion.n_frames}", f"Frame Time: {motion.frame_time:.9g}"]


def _format_frames(frames: np.ndarray, decimals: int) -> str:
    """One line per frame (T, C); -0 is written as 0."""
    if frames.shape[0] == 0:
        return ""
    row_format = " ".join([f"%.{decimals}f"] * frames.shape[1])
    rounded = np.round(frames, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    return "\n".join(row_format % tuple(row) for row in rounded)


def _format_number(value: float, decimals: int) -> str:
    return f"{round(float(value), decimals) + 0.0:.{decimals}f}"
