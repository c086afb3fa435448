"""Skeletons in the 3D view's GL scene: the figure of a motion, its key ghosts and its onion skins.

A `Figure` is one group of GL items (its translation is the layout offset) holding the bones (one
GLLinePlotItem of 21 segments), the joints (one GLScatterPlotItem), and optionally the root trail
and a name label; a new pose only uploads positions. Items hold motion coordinates (metres, Y up):
the viewport hangs them under a group that turns them into its Z-up scene.

`OnionSkins` are faint figures of one motion a few frames before the playhead (one tint) and after it
(another), fading with their distance from it; frames outside the motion show none.
"""

import numpy as np
import pyqtgraph.opengl as gl
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor, QFont
from pyqtgraph.opengl.GLGraphicsItem import GLGraphicsItem

from keymask.core.skeleton import HUMANML3D_SKELETON

# Colours (RGB, 0-1) by side of the body: the figure's left, its right, and the midline.
LEFT_COLOUR = (0.30, 0.62, 1.00)
RIGHT_COLOUR = (1.00, 0.42, 0.32)
CENTRE_COLOUR = (0.88, 0.88, 0.86)
TRAIL_COLOUR = (1.00, 0.82, 0.30)
GHOST_COLOUR = (0.80, 0.86, 1.00)
ONION_BEFORE_COLOUR = (1.00, 0.40, 0.45)  # onion skins before the playhead
ONION_AFTER_COLOUR = (0.40, 0.95, 0.55)  # and after it
_LABEL_HEIGHT = 0.35  # metres above the highest joint
ONION_STEPS = (3, 6, 9)  # frames between the playhead and its onion skins, either way
_ONION_ALPHA = 0.35  # the onion skin nearest the playhead; farther ones fade


def joint_sides(names: tuple[str, ...] = HUMANML3D_SKELETON.joint_names) -> tuple[str, ...]:
    """'left', 'right' or 'centre' for each joint, from its name."""
    return tuple("left" if n.startswith("left_") else "right" if n.startswith("right_") else "centre" for n in names)


def side_colour(side: str) -> tuple[float, float, float]:
    return {"left": LEFT_COLOUR, "right": RIGHT_COLOUR}.get(side, CENTRE_COLOUR)


_PARENTS = np.asarray(HUMANML3D_SKELETON.parents)
_CHILDREN = np.flatnonzero(_PARENTS >= 0)  # (21,) one bone per non-root joint
BONE_VERTICES = np.stack([_PARENTS[_CHILDREN], _CHILDREN], axis=1).reshape(-1)  # (42,) parent, child, ...
_JOINT_RGB = np.array([side_colour(s) for s in joint_sides()])  # (J, 3)
JOINT_COUNT = len(_JOINT_RGB)
_BONE_RGB = _JOINT_RGB[np.repeat(_CHILDREN, 2)]  # (42, 3): a bone takes its child's side


def rgba(rgb: np.ndarray, alpha: float) -> np.ndarray:
    """(N, 3) -> (N, 4) float32."""
    return np.concatenate([rgb, np.full((len(rgb), 1), alpha)], axis=1).astype(np.float32)


class Figure:
    """The GL items of one skeleton: bones, joints, and optionally a root trail and a label."""

    def __init__(self, parent: GLGraphicsItem, *, trail: np.ndarray | None = None, label: str = ""):
        self.group = GLGraphicsItem(parentItem=parent)
        self.bones = gl.GLLinePlotItem(parentItem=self.group, mode="lines", width=3.0, antialias=True,
                                       glOptions="translucent")
        self.joints = gl.GLScatterPlotItem(parentItem=self.group, size=7.0, pxMode=True, glOptions="translucent")
        self.joints.setDepthValue(-1)  # before the bones: smoothed line ends would otherwise cut holes in the discs
        self.trail = None
        if trail is not None:
            self.trail = gl.GLLinePlotItem(parentItem=self.group, pos=trail, mode="line_strip", width=2.0,
                                           antialias=True, glOptions="translucent")
        self.label = None
        if label:
            self.label = gl.GLTextItem(parentItem=self.group, text=label, font=QFont("Sans Serif", 10),
                                        alignment=Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom)
            self.label.setDepthValue(10)  # drawn last, over the lines
        self.offset = np.zeros(3)
        self.highlighted = False
        self.joint_positions = np.zeros((JOINT_COUNT, 3))

    def set_pose(self, joints: np.ndarray) -> None:
        """joints: (J, 3) in motion coordinates (before the layout offset)."""
        self.joint_positions = joints
        self.bones.setData(pos=joints[BONE_VERTICES])  # (42, 3) segment end points
        self.joints.setData(pos=joints)
        if self.label is not None:
            pelvis = joints[0]
            self.label.setData(pos=(float(pelvis[0]), float(joints[:, 1].max() + _LABEL_HEIGHT), float(pelvis[2])))

    def set_style(self, alpha: float, *, tint: tuple[float, float, float] | None = None, width: float = 3.0,
                  depth: int = 0) -> None:
        bone_rgb = _BONE_RGB if tint is None else np.tile(tint, (len(_BONE_RGB), 1))
        joint_rgb = _JOINT_RGB if tint is None else np.tile(tint, (len(_JOINT_RGB), 1))
        self.bones.setData(color=rgba(bone_rgb, alpha), width=width)
        self.joints.setData(color=rgba(np.minimum(joint_rgb * 1.15, 1.0), alpha))
        if self.trail is not None:
            self.trail.setData(color=(*TRAIL_COLOUR, 0.8 * alpha))
        if self.label is not None:
            self.label.setData(color=QColor.fromRgbF(*CENTRE_COLOUR, max(alpha, 0.5)))
        self.group.setDepthValue(depth)

    def set_offset(self, offset: np.ndarray) -> None:
        self.offset = np.asarray(offset, dtype=np.float64)
        self.group.resetTransform()
        self.group.translate(*self.offset)

    def remove(self) -> None:
        self.group.setParentItem(None)


class OnionSkins:
    """Figures of one motion at the frames ONION_STEPS before and after the playhead."""

    def __init__(self, parent: GLGraphicsItem):
        self.offsets = [-step for step in reversed(ONION_STEPS)] + list(ONION_STEPS)  # frames from the playhead
        self.figures = [Figure(parent) for _ in self.offsets]
        self.frames: list[int | None] = [None] * len(self.offsets)  # the frame each skin shows, None: hidden
        for offset, figure in zip(self.offsets, self.figures):
            fade = 1.0 - (abs(offset) - ONION_STEPS[0]) / (ONION_STEPS[-1] + ONION_STEPS[0])
            figure.set_style(_ONION_ALPHA * fade, tint=ONION_BEFORE_COLOUR if offset < 0 else ONION_AFTER_COLOUR,
                             width=2.0, depth=3)
            figure.group.setVisible(False)

    def show(self, motion: np.ndarray | None, frame: int, offset: np.ndarray) -> None:
        """The skins of `motion` (T, J, 3) around `frame`, at the layout `offset`; None: no skins."""
        for i, (step, figure) in enumerate(zip(self.offsets, self.figures)):
            shown = motion is not None and 0 <= frame + step < len(motion)
            figure.group.setVisible(shown)
            self.frames[i] = frame + step if shown else None
            if shown:
                figure.set_pose(motion[frame + step])
                figure.set_offset(offset)
