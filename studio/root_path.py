"""The root path drawn on the floor of the 3D view: the stroke it is drawn with, its times, and its line.

In draw-path mode (viewport.py) a left drag on the floor records the floor points (x, z) under the
mouse, in the chosen motion's coordinates (metres, Y up: where its pelvis should go), at least
STROKE_STEP apart. `timed_path` gives the stroke its times: spread at a constant speed along it,
from the playhead to the timeline's last frame (over the whole timeline when the playhead is on its
last frame), as conditioning/paths.py's RootPath, which generation follows as the command line's
--path. `PathLine` draws a path as a line just above the floor.
"""

import numpy as np
import pyqtgraph.opengl as gl
from pyqtgraph.opengl.GLGraphicsItem import GLGraphicsItem

from keymask.conditioning.paths import PathError, RootPath

PATH_COLOUR = (0.30, 0.85, 1.00, 0.95)
STROKE_STEP = 0.02  # metres between recorded points of a stroke
_ABOVE_FLOOR = 0.01  # metres: drawn over the grid and the root trails


def timed_path(points: np.ndarray, frame: int, length: int, fps: float) -> RootPath:
    """The stroke `points` (P, 2) as a path over frames [frame, length - 1] of a `length`-frame timeline
    ([0, length - 1] when `frame` is the last); PathError in one sentence when it is no path."""
    points = np.asarray(points, dtype=np.float64)
    along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=-1))])
    if len(points) < 2 or along[-1] < STROKE_STEP:
        raise PathError("Drag along the floor to draw a path: a click draws none.")
    first = frame if frame < length - 1 else 0
    start, end = first / fps, (length - 1) / fps
    return RootPath(points, start + along / along[-1] * (end - start))


class PathLine:
    """A path as a line on the floor, under `parent` (items in motion coordinates)."""

    def __init__(self, parent: GLGraphicsItem):
        self.line = gl.GLLinePlotItem(parentItem=parent, mode="line_strip", width=3.0, antialias=True,
                                      color=PATH_COLOUR, glOptions="translucent")
        self.line.setDepthValue(5)
        self.line.setVisible(False)
        self.points: np.ndarray | None = None  # (P, 2) as drawn, or None

    def show(self, points: np.ndarray | None, floor: float, offset: np.ndarray) -> None:
        """The path (P, 2) on the floor at height `floor`, moved by the layout `offset` (3,); None: no line."""
        self.points = None if points is None else np.asarray(points, dtype=np.float64)
        self.line.setVisible(self.points is not None)
        if self.points is not None:
            heights = np.full((len(self.points), 1), floor + _ABOVE_FLOOR)
            self.line.setData(pos=np.hstack([self.points[:, :1], heights, self.points[:, 1:]]) + offset)
