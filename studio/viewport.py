"""The 3D view of generated motions: skeletons on a ground grid, root trails and ghosted key poses.

Axes and units: motions are (T, J, 3) joint positions in metres, Y up, 20 fps, J = 22
(core/skeleton.py). pyqtgraph's GL scene is Z up, so every motion item hangs under one group
turned +90 degrees about X, which maps a motion point (x, y, z) to the scene's (x, -z, y): items
hold motion coordinates unchanged, and a body facing +Z faces the scene's -Y, towards the
default camera.

Each motion is a `Figure` (figures.py): bones, joints, the root trail (the pelvis path on the floor)
and a name label. A new frame only uploads new positions to these items; nothing is created after
`set_motions`. Onion skins (the View menu's toggle, O anywhere in the window; `onion_action`) draw
the chosen motion faintly a few frames before the playhead in one tint and after it in another.

Camera: `set_view` looks from the front, the side or the top as Blender's numpad 1, 3 and 7 do
(front: from the figure's facing, scene -Y; side: from scene +X; top: down scene -Z, the figure's
front towards the bottom of the view); `frame_figure` fits the chosen figure as it stands now;
with Follow on, the view's centre tracks the chosen figure's root on every frame. A click (a press
and release without a drag, which orbits) on a figure emits `sample_clicked`.

Draw-path mode (`draw_path_action`: D anywhere in the window, again or Esc to leave; a hint over the
view and a cross cursor say it is on): a left drag on the floor records a stroke of floor points
(root_path.py) under the mouse, shown as it is drawn, and ends in `path_drawn(points)`; the window
makes it the project's root path, which `set_root_path` shows as a line on the floor under the
chosen figure. The middle button and the wheel still pan and zoom.

Pose mode (the Pose button, or P anywhere in the window: pose_mode.py's `PoseMode`, which the view's
event filter asks first about the mouse and the keys) poses the figure at the playhead by its handles;
the viewport keeps its API (`posing`, `set_posing`, `editor`, `pose_edited`, ...) and lays out its hint
and buttons.
"""

import gc
from collections.abc import Callable
from functools import cache

import numpy as np
import pyqtgraph.opengl as gl
from PyQt6.QtCore import QEvent, QObject, QPointF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QAction, QColor, QImage, QKeySequence, QMouseEvent, QOpenGLContext, QVector3D
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget
from pyqtgraph.opengl.GLGraphicsItem import GLGraphicsItem

from keymask.studio.figures import BONE_VERTICES, GHOST_COLOUR, JOINT_COUNT, Figure, OnionSkins
from keymask.studio.pose_mode import TOOL_BUTTONS, PoseMode
from keymask.studio.posing import PoseEditor
from keymask.studio.root_path import STROKE_STEP, PathLine

BACKGROUND = (34, 36, 40)

SIDE_SPACING = 1.5  # metres between samples along X in the "side" layout
LAYOUTS = ("side", "overlay")
_DIM_ALPHA = 0.3  # samples other than the selected one
_GHOST_ALPHA = 0.28
_GHOST_ALPHA_AT_FRAME = 0.6  # a ghost whose key frame is the current frame
VIEWS = {"front": (0.0, -90.0), "side": (0.0, 0.0), "top": (90.0, -90.0)}  # (elevation, azimuth) in degrees
PICK_RADIUS = 16  # pixels: how near a click must be to a bone to choose its figure
CLICK_SLOP = 4  # pixels a press may move and still be a click (more is an orbit)
_MOTION_TO_SCENE = np.array([[1.0, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])  # (x, y, z) -> (x, -z, y)


class _SceneView(gl.GLViewWidget):
    """A GLViewWidget that keeps pyqtgraph's shader programs per GL context.

    pyqtgraph caches each item type's compiled program on the class, as if there were one context
    for the whole process; a second view (or a view made after the first one is gone) would then
    use a program id that means nothing in its own context. This view hands the items its own
    programs while it paints, and puts the class's back afterwards.

    Python's garbage collector is held off while it paints: a collection that frees an old GL
    widget runs Qt's destructor, which makes that widget's context current and then releases it,
    leaving this paint with no current context (the figures silently missing from the frame).
    """

    _ITEM_TYPES = (gl.GLLinePlotItem, gl.GLScatterPlotItem)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._programs: dict[type, object] = {}

    def initializeGL(self) -> None:
        self._programs = {}  # a new context (first show, or a new top-level window): compile again
        super().initializeGL()

    def paintGL(self) -> None:
        before = {kind: kind._shaderProgram for kind in self._ITEM_TYPES}
        for kind in self._ITEM_TYPES:
            kind._shaderProgram = self._programs.get(kind)
        collecting = gc.isenabled()
        gc.disable()
        try:
            super().paintGL()
        finally:
            if collecting:
                gc.enable()
            for kind in self._ITEM_TYPES:
                self._programs[kind] = kind._shaderProgram
                kind._shaderProgram = before[kind]


@cache
def gl_available() -> bool:
    """Whether Qt can make an OpenGL context here (not under the offscreen platform, for one)."""
    return QOpenGLContext().create()


def _scene(point: np.ndarray) -> QVector3D:
    """A motion point (x, y, z), Y up -> the scene's (x, -z, y), Z up."""
    return QVector3D(float(point[0]), float(-point[2]), float(point[1]))


class MotionViewport(QWidget):
    """Motions as skeletons in an orbitable 3D view (left drag orbits, wheel zooms, middle drag pans)."""

    sample_clicked = pyqtSignal(int)  # the index of the figure a click landed on
    pose_edited = pyqtSignal(object, str, bool, str)  # posed joints (J, 3), undo text, moved/turned the body, run
    pins_changed = pyqtSignal(object)  # frozenset of the pinned limbs (conditioning/ik.py LIMBS)
    path_drawn = pyqtSignal(object)  # (P, 2) floor points x, z of a stroke, in the chosen motion's coordinates

    def __init__(self, parent: QWidget | None = None, *, spacing: float = SIDE_SPACING):
        super().__init__(parent)
        self._spacing = float(spacing)
        self._motions: list[np.ndarray] = []
        self._names: list[str] = []
        self._figures: list[Figure] = []
        self._ghosts: list[Figure] = []
        self._ghost_frames: list[int | None] = []
        self._layout = "side"
        self._frame = 0
        self._selected = 0
        self._floor = 0.0

        self._press: QPointF | None = None  # where a left press in the view started

        self._view = _SceneView(self)
        self._view.setBackgroundColor(QColor(*BACKGROUND))
        self._view.installEventFilter(self)
        self._grid = gl.GLGridItem(color=(255, 255, 255, 40))
        self._grid.setSpacing(0.5, 0.5, 1.0)
        self._grid.setDepthValue(-10)
        self._view.addItem(self._grid)
        self._world = GLGraphicsItem()  # motion coordinates (Y up) -> scene (Z up)
        self._world.rotate(90.0, 1.0, 0.0, 0.0)
        self._view.addItem(self._world)
        self._onion_skins = OnionSkins(self._world)
        self._path_line = PathLine(self._world)
        self._root_path: np.ndarray | None = None  # (P, 2) the path shown

        self.follow_button = QToolButton(text="Follow", checkable=True)
        self.follow_button.setToolTip("Keep the chosen figure's root in the middle of the view")
        self.follow_button.toggled.connect(lambda _: self._follow_root())
        self.onion_action = self._window_toggle(
            "Onion skins", "O", "Faint figures a few frames before (red) and after (green) the playhead (O)",
            lambda _: self._show_onion_skins())
        self.draw_path_action = self._window_toggle(
            "Draw root path", "D", "Drag on the floor in the 3D view: the pelvis follows the path (D; Esc leaves)",
            self._drawing_toggled)
        self._stroke: list[np.ndarray] | None = None  # the floor points of a stroke being drawn
        self.pose_mode = PoseMode(self, self._world)
        self.pose_mode.pose_edited.connect(self.pose_edited)
        self.pose_mode.pins_changed.connect(self.pins_changed)
        self.pose_mode.actions["pose"].toggled.connect(self._posing_toggled)
        # Pose mode's parts by the names the window, the screenshots and the tests use.
        self.editor: PoseEditor = self.pose_mode.editor
        self.pose_actions: dict[str, QAction] = self.pose_mode.actions
        self.pose_hint = self.pose_mode.hint
        self.pin_button, self.rotate_button, self.mirror_button, self.pose_button = (
            self.pose_mode.buttons[name] for name in TOOL_BUTTONS)
        self.path_hint = QLabel("Drawing the root path: drag on the floor. D or Esc leaves")
        self.path_hint.setStyleSheet("color: #4dd9ff")  # the path's own colour
        self.path_hint.setToolTip("A left drag on the floor draws the path the pelvis follows, from the playhead to "
                                  "the end; a new drag replaces it. The middle button and the wheel still pan and "
                                  "zoom. Shift+D clears the path")
        self.path_hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.path_hint.hide()
        tools = QHBoxLayout()
        tools.setContentsMargins(4, 2, 4, 2)
        tools.addWidget(self.pose_hint, 3)  # shares the row's free width, clipped where it runs short
        tools.addWidget(self.path_hint, 3)  # (one mode at a time: one hint)
        tools.addStretch(1)
        for name in TOOL_BUTTONS:
            tools.addWidget(self.pose_mode.buttons[name])
        tools.addWidget(self.follow_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(tools)
        layout.addWidget(self._view, 1)
        self._place_grid()
        self.reset_camera()

    def _window_toggle(self, text: str, key: str, tip: str, toggled) -> QAction:
        """A checkable action whose key works anywhere in the window."""
        action = QAction(text, self, checkable=True)
        action.setShortcut(QKeySequence(key))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setToolTip(tip)
        action.toggled.connect(toggled)
        self.addAction(action)
        return action

    # ---- public API ----------------------------------------------------------------------------

    @property
    def view(self) -> gl.GLViewWidget:
        """The GLViewWidget itself (camera options, extra items)."""
        return self._view

    @property
    def frame_count(self) -> int:
        """Frames of the longest motion (0 without motions)."""
        return max((len(m) for m in self._motions), default=0)

    @property
    def frame(self) -> int:
        return self._frame

    @property
    def layout_mode(self) -> str:
        return self._layout

    @property
    def selected(self) -> int:
        return self._selected

    @property
    def motion_count(self) -> int:
        return len(self._motions)

    @property
    def following(self) -> bool:
        return self.follow_button.isChecked()

    def set_follow(self, follow: bool) -> None:
        """Follow on: the view's centre stays on the chosen figure's root as frames change."""
        self.follow_button.setChecked(bool(follow))

    # ---- pose mode: pose_mode.py's, as the window and the tests have always asked this view --------

    @property
    def posing(self) -> bool:
        return self.pose_mode.posing

    def set_posing(self, posing: bool) -> None:
        self.pose_mode.set_posing(posing)

    def set_pose_source(self, source: Callable[[], np.ndarray | None] | None) -> None:
        self.pose_mode.set_pose_source(source)

    def refresh_pose(self) -> None:
        self.pose_mode.refresh_pose()

    def posed_joints(self) -> np.ndarray | None:
        return self.pose_mode.posed_joints()

    def copy_pose(self) -> None:
        self.pose_mode.copy_pose()

    def paste_pose(self) -> None:
        self.pose_mode.paste_pose()

    def mirror_pose(self) -> None:
        self.pose_mode.mirror_pose()

    def choose_joint(self, joint: int | None) -> None:
        self.pose_mode.choose_joint(joint)

    def toggle_pin(self) -> None:
        self.pose_mode.toggle_pin()

    def set_pins(self, limbs) -> None:
        self.pose_mode.set_pins(limbs)

    def rotate_chosen(self, axis: np.ndarray, angle: float) -> None:
        self.pose_mode.rotate_chosen(axis, angle)

    # ---- the view ------------------------------------------------------------------------------

    def view_axes(self) -> tuple[np.ndarray, np.ndarray]:
        """(forward, right): unit directions, in motion coordinates, that the camera looks along and
        that the screen's x runs along."""
        view = np.array(self._view.viewMatrix().data(), dtype=np.float64).reshape(4, 4).T  # data() is column-major
        scene_to_motion = _MOTION_TO_SCENE[:3, :3].T
        forward, right = scene_to_motion @ -view[2, :3], scene_to_motion @ view[0, :3]  # the eye's -z and x axes
        return forward / np.linalg.norm(forward), right / np.linalg.norm(right)

    def set_motions(self, motions: list[np.ndarray], names: list[str] | None = None, *,
                    frame_camera: bool = True) -> None:
        """Show these motions, each (T, 22, 3) metres, Y up; names label them (default "1", "2", ...)."""
        checked = []
        for i, motion in enumerate(motions):
            motion = np.asarray(motion, dtype=np.float64)
            if motion.ndim != 3 or motion.shape[1:] != (JOINT_COUNT, 3) or len(motion) == 0:
                raise ValueError(f"Motion {i + 1} has shape {motion.shape}; the viewport shows "
                                 f"(frames, {JOINT_COUNT}, 3) joint positions.")
            checked.append(motion)
        if names is not None and len(names) != len(checked):
            raise ValueError(f"{len(names)} names were given for {len(checked)} motions.")
        for figure in self._figures:
            figure.remove()
        self._motions = checked
        self._names = list(names) if names is not None else [str(i + 1) for i in range(len(checked))]
        self._floor = min((float(m[..., 1].min()) for m in checked), default=0.0)
        self._figures = []
        for motion, name in zip(self._motions, self._names):
            trail = motion[:, 0].copy()  # (T, 3) pelvis path
            trail[:, 1] = self._floor + 0.005  # just above the grid, so that it is not hidden by it
            self._figures.append(Figure(self._world, trail=trail, label=name))
        self._selected = min(self._selected, max(len(checked) - 1, 0))
        self._frame = min(self._frame, max(self.frame_count - 1, 0))
        self._apply_layout()
        self._apply_styles()
        self._update_poses()
        if frame_camera:
            self.reset_camera()

    def set_layout(self, mode: str, *, frame_camera: bool = True) -> None:
        """"side": samples in a row along X, `spacing` metres apart; "overlay": all at their own place."""
        if mode not in LAYOUTS:
            raise ValueError(f"Unknown layout {mode!r}: use one of {', '.join(LAYOUTS)}.")
        self._layout = mode
        self._apply_layout()
        self._apply_styles()
        if frame_camera:
            self.reset_camera()

    def set_frame(self, frame: int) -> None:
        """Show frame `frame` of every motion (a shorter motion holds its last frame)."""
        self._frame = max(0, min(int(frame), max(self.frame_count - 1, 0)))
        self._update_poses()

    def set_selected(self, index: int) -> None:
        """Draw sample `index` opaque and the others dimmer; key ghosts follow it in the side layout."""
        self._selected = max(0, min(int(index), max(len(self._motions) - 1, 0)))
        self._apply_layout()
        self._apply_styles()

    def set_key_ghosts(self, ghosts: list[np.ndarray], frames: list[int] | None = None) -> None:
        """Semi-transparent key poses, each (22, 3) in the selected motion's coordinates.

        frames (optional, one per ghost): the key's frame; a ghost is drawn stronger on its frame.
        """
        if frames is not None and len(frames) != len(ghosts):
            raise ValueError(f"{len(frames)} frames were given for {len(ghosts)} key ghosts.")
        for figure in self._ghosts:
            figure.remove()
        self._ghosts = []
        for i, joints in enumerate(ghosts):
            joints = np.asarray(joints, dtype=np.float64)
            if joints.shape != (JOINT_COUNT, 3):
                raise ValueError(f"Key ghost {i + 1} has shape {joints.shape}, not ({JOINT_COUNT}, 3).")
            figure = Figure(self._world)
            figure.set_pose(joints)
            self._ghosts.append(figure)
        self._ghost_frames = list(frames) if frames is not None else [None] * len(ghosts)
        self._apply_layout()
        self._apply_styles()

    def drawn_joints(self, index: int) -> np.ndarray:
        """(22, 3) joints that sample `index` shows now, in motion coordinates plus its layout offset."""
        figure = self._figures[index]
        return np.asarray(figure.joints.pos, dtype=np.float64) + figure.offset

    def drawn_onion_skins(self) -> dict[int, np.ndarray]:
        """(22, 3) joints of each onion skin shown, by its frame (motion coordinates plus the layout offset)."""
        return {frame: np.asarray(figure.joints.pos, dtype=np.float64) + figure.offset
                for frame, figure in zip(self._onion_skins.frames, self._onion_skins.figures) if frame is not None}

    def drawn_ghosts(self) -> list[np.ndarray]:
        """(22, 3) joints of each key ghost as drawn (motion coordinates plus the layout offset)."""
        return [np.asarray(g.joints.pos, dtype=np.float64) + g.offset for g in self._ghosts]

    def reset_camera(self) -> None:
        """Frame every motion (all frames, as laid out) from the front, a little above and to the right."""
        points = [m.reshape(-1, 3) + f.offset for m, f in zip(self._motions, self._figures)]
        points += [g.joint_positions + g.offset for g in self._ghosts]
        if points:
            points = np.concatenate(points)
            low, high = points.min(axis=0), points.max(axis=0)
        else:
            low, high = np.array([-0.5, 0.0, -0.5]), np.array([0.5, 1.8, 0.5])
        centre = (low + high) / 2
        radius = max(float(np.linalg.norm(high - low)) / 2, 1.0)
        self._view.setCameraPosition(pos=_scene(centre), distance=self._fitting_distance(1.1 * radius),
                                     elevation=12.0, azimuth=-75.0)
        self._follow_root()

    def _fitting_distance(self, radius: float) -> float:
        """How far the camera stands to see a sphere of `radius` whole, from any side: the field of view
        is horizontal, so a window wider than tall sees less up and down."""
        half_width = np.tan(np.radians(self._view.opts["fov"]) / 2)
        aspect = self._view.height() / max(self._view.width(), 1)
        return radius / (half_width * min(1.0, aspect))

    def set_view(self, name: str) -> None:
        """Look from the "front", the "side" or the "top" (Blender's numpad 1, 3, 7), keeping centre and distance."""
        if name not in VIEWS:
            raise ValueError(f"Unknown view {name!r}: use one of {', '.join(VIEWS)}.")
        elevation, azimuth = VIEWS[name]
        self._view.setCameraPosition(elevation=elevation, azimuth=azimuth)

    def frame_figure(self) -> None:
        """Centre the chosen figure as it stands on this frame and fit it in the view (the angle stays)."""
        if not self._figures:
            self.reset_camera()
            return
        joints = self.drawn_joints(self._selected)  # (J, 3)
        low, high = joints.min(axis=0), joints.max(axis=0)
        radius = max(float(np.linalg.norm(high - low)) / 2, 0.5)
        self._view.setCameraPosition(pos=_scene((low + high) / 2), distance=self._fitting_distance(1.3 * radius))
        self._follow_root()

    def widget_points(self, points: np.ndarray) -> np.ndarray:
        """(P, 3) motion coordinates (with layout offsets, as `drawn_joints` gives) -> (P, 2) widget pixels
        of the 3D view; NaN for a point behind the camera."""
        return self.view_points(points) + [self._view.x(), self._view.y()]

    def on_view_plane(self, point: QPointF, through: np.ndarray) -> np.ndarray:
        """(3,) motion coordinates where the ray through `point` (pixels of the GL view itself) meets
        the plane through `through` (3,) that faces the camera."""
        near, along = self._ray(point)
        forward, _ = self.view_axes()
        return near + along * (((np.asarray(through) - near) @ forward) / (along @ forward))

    def on_floor(self, point: QPointF) -> np.ndarray | None:
        """(2,) x, z in the chosen motion's coordinates (its layout offset taken off) where the ray through
        `point` (pixels of the GL view itself) meets the floor; None where it does not (the horizon, above)."""
        near, along = self._ray(point)
        if abs(along[1]) < 1e-9:
            return None
        distance = (self._floor - near[1]) / along[1]
        if distance <= 0:
            return None
        return (near + distance * along - self._offset(self._selected))[[0, 2]]

    @property
    def floor(self) -> float:
        """The floor's height (metres, Y): the lowest joint of the motions shown, 0 without motions."""
        return self._floor

    @property
    def drawing_path(self) -> bool:
        return self.draw_path_action.isChecked()

    def set_root_path(self, points: np.ndarray | None) -> None:
        """The root path (P, 2) floor points x, z of the chosen motion to show, or None."""
        self._root_path = None if points is None else np.asarray(points, dtype=np.float64)
        self._show_root_path()

    def shown_root_path(self) -> np.ndarray | None:
        """(P, 2) the path drawn on the floor now (a stroke while it is drawn), or None."""
        return self._path_line.points

    def sample_at(self, point: QPointF) -> int | None:
        """The figure whose bones pass nearest a widget point (within PICK_RADIUS pixels), or None."""
        best, best_distance = None, float(PICK_RADIUS)
        target = np.array([point.x(), point.y()])
        for index in range(len(self._figures)):
            ends = self.widget_points(self.drawn_joints(index))[BONE_VERTICES].reshape(-1, 2, 2)  # (21, 2, 2)
            a, b = ends[:, 0], ends[:, 1]
            along = np.clip(np.einsum("ij,ij->i", target - a, b - a) / np.maximum(((b - a) ** 2).sum(1), 1e-9), 0, 1)
            distance = np.nanmin(np.linalg.norm(a + along[:, None] * (b - a) - target, axis=1), initial=np.inf)
            if distance < best_distance:
                best, best_distance = index, float(distance)
        return best

    def grab_image(self) -> QImage:
        """The 3D view as it is drawn now (renders it if the widget has never been shown)."""
        if not gl_available():
            raise RuntimeError("The 3D view needs OpenGL, which this Qt platform does not have: run under a "
                               "display (for tests, xvfb-run or pytest-xvfb), not QT_QPA_PLATFORM=offscreen.")
        if not self.isVisible():  # a hidden widget is never laid out: give the view the widget's size
            size = self.size() if self.size().width() > 1 and self.size().height() > 1 else self.sizeHint()
            self._view.resize(size)
        image = self._view.grabFramebuffer()
        if image.isNull():
            raise RuntimeError("The 3D view could not be drawn: OpenGL gave no framebuffer.")
        return image

    def sizeHint(self) -> QSize:
        return QSize(640, 480)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Pose mode's drags and keys first; else a left click without a drag on a figure chooses it,
        and the view still orbits on a drag."""
        if watched is not self._view:
            return False
        if self.drawing_path and event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape:
            self.draw_path_action.setChecked(False)
            return True
        if event.type() == QEvent.Type.ShortcutOverride:
            if self.pose_mode.handle_key(event, act=False):
                event.accept()
                return True
            return False
        if event.type() == QEvent.Type.KeyPress:
            return self.pose_mode.handle_key(event, act=True)
        if isinstance(event, QMouseEvent) and (self._path_mouse(event) or self.pose_mode.handle_mouse(event)):
            return True
        if isinstance(event, QMouseEvent) and event.button() == Qt.MouseButton.LeftButton:
            point = self._view.mapTo(self, event.position().toPoint()).toPointF()
            if event.type() == QEvent.Type.MouseButtonPress:
                self._press = point
            elif event.type() == QEvent.Type.MouseButtonRelease and self._press is not None:
                moved = (point - self._press).manhattanLength()
                self._press = None
                index = self.sample_at(point) if moved <= CLICK_SLOP else None
                if index is not None:
                    self.sample_clicked.emit(index)
        return False

    # ---- internals -----------------------------------------------------------------------------

    def _clip_matrix(self) -> np.ndarray:
        """(4, 4) homogeneous motion coordinates -> the GL view's clip coordinates."""
        matrix = self._view.projectionMatrix(self._view.getViewport(), self._view.getViewport())
        matrix = matrix * self._view.viewMatrix()
        m = np.array(matrix.data(), dtype=np.float64).reshape(4, 4).T  # data() is column-major
        return m @ _MOTION_TO_SCENE

    def view_points(self, points: np.ndarray) -> np.ndarray:
        """(P, 3) motion coordinates -> (P, 2) pixels of the GL view itself; NaN behind the camera."""
        points = np.asarray(points, dtype=np.float64)
        clip = np.concatenate([points, np.ones((len(points), 1))], axis=1) @ self._clip_matrix().T  # (P, 4)
        w = np.where(clip[:, 3] > 1e-9, clip[:, 3], np.nan)
        x = (clip[:, 0] / w + 1) / 2 * self._view.width()
        y = (1 - clip[:, 1] / w) / 2 * self._view.height()
        return np.stack([x, y], axis=1)

    def _ray(self, point: QPointF) -> tuple[np.ndarray, np.ndarray]:
        """(near point, direction), both (3,) motion coordinates, of the ray through `point` (GL view pixels)."""
        inverse = np.linalg.inv(self._clip_matrix())
        x, y = 2 * point.x() / self._view.width() - 1, 1 - 2 * point.y() / self._view.height()
        near, far = (inverse @ [x, y, depth, 1.0] for depth in (-1.0, 0.0))  # two points on the ray
        near, far = near[:3] / near[3], far[:3] / far[3]
        return near, far - near

    # ---- draw-path mode internals --------------------------------------------------------------

    def _drawing_toggled(self, drawing: bool) -> None:
        self._stroke = None
        if drawing:
            self.set_posing(False)  # one mode takes the left button at a time
        self.path_hint.setVisible(drawing)
        self._view.setCursor(Qt.CursorShape.CrossCursor if drawing else Qt.CursorShape.ArrowCursor)
        self._show_root_path()

    def _path_mouse(self, event: QMouseEvent) -> bool:
        """A left drag records a stroke on the floor. True when the event was the draw-path mode's."""
        if not self.drawing_path or (event.button() != Qt.MouseButton.LeftButton and self._stroke is None):
            return False
        kind, floor = event.type(), self.on_floor(event.position())
        if kind == QEvent.Type.MouseButtonPress:
            self._stroke = [] if floor is None else [floor]
        elif kind == QEvent.Type.MouseMove and self._stroke is not None:
            if floor is not None and (not self._stroke or np.linalg.norm(floor - self._stroke[-1]) >= STROKE_STEP):
                self._stroke.append(floor)
                self._path_line.show(np.array(self._stroke), self._floor, self._offset(self._selected))
        elif kind == QEvent.Type.MouseButtonRelease and self._stroke is not None:
            stroke, self._stroke = np.array(self._stroke).reshape(-1, 2), None
            self._show_root_path()
            self.path_drawn.emit(stroke)
        return True

    def _show_root_path(self) -> None:
        self._path_line.show(self._root_path, self._floor, self._offset(self._selected))

    def chosen_offset(self) -> np.ndarray:
        """(3,) the chosen figure's layout offset (what its motion coordinates are moved by to be drawn)."""
        return self._offset(self._selected)

    def _posing_toggled(self, posing: bool) -> None:
        """Pose mode on or off (after pose_mode.py's own): one mode takes the left button at a time, and
        the chosen figure is drawn bright only outside pose mode."""
        if posing:
            self.draw_path_action.setChecked(False)
        self._apply_styles()

    def _offset(self, index: int) -> np.ndarray:
        if self._layout == "overlay" or not self._motions:
            return np.zeros(3)
        return np.array([(index - (len(self._motions) - 1) / 2) * self._spacing, 0.0, 0.0])

    def _apply_layout(self) -> None:
        for i, figure in enumerate(self._figures):
            figure.set_offset(self._offset(i))
        for ghost in self._ghosts:
            ghost.set_offset(self._offset(self._selected))
        self._show_onion_skins()
        self._show_root_path()
        self.pose_mode.draw_posed()
        self._place_grid()
        self._follow_root()

    def _apply_styles(self) -> None:
        for i, figure in enumerate(self._figures):
            chosen = i == self._selected or len(self._figures) == 1
            bright = chosen and not self.posing  # posing: the posed figure is the bright one
            figure.set_style(1.0 if bright else _DIM_ALPHA, width=3.0 if chosen else 2.0, depth=0 if chosen else 1)
            if figure.label is not None:  # overlaid labels would sit on top of each other
                figure.label.setVisible(self._layout == "side" or chosen)
        self._style_ghosts(force=True)

    def _style_ghosts(self, *, force: bool = False) -> None:
        """Ghosts on the current frame stronger; restyles only the ghosts whose state changed."""
        for ghost, frame in zip(self._ghosts, self._ghost_frames):
            at_frame = frame is not None and frame == self._frame
            if force or at_frame != ghost.highlighted:
                ghost.highlighted = at_frame
                ghost.set_style(_GHOST_ALPHA_AT_FRAME if at_frame else _GHOST_ALPHA, tint=GHOST_COLOUR, width=2.0,
                                depth=2)

    def _update_poses(self) -> None:
        for motion, figure in zip(self._motions, self._figures):
            figure.set_pose(motion[min(self._frame, len(motion) - 1)])
        if any(f is not None for f in self._ghost_frames):
            self._style_ghosts()
        self._show_onion_skins()
        self.refresh_pose()
        self._follow_root()

    def _show_onion_skins(self) -> None:
        motion = self._motions[self._selected] if self._motions and self.onion_action.isChecked() else None
        frame = self._frame if motion is None else min(self._frame, len(motion) - 1)
        self._onion_skins.show(motion, frame, self._offset(self._selected))

    def _follow_root(self) -> None:
        """With Follow on, the view's centre on the chosen figure's root as drawn now."""
        if self.following and self._figures:
            self._view.setCameraPosition(pos=_scene(self.drawn_joints(self._selected)[0]))

    def _place_grid(self) -> None:
        """A floor grid under every motion, at the lowest joint's height (scene Z)."""
        if self._motions:
            points = np.concatenate([m[:, 0] + f.offset for m, f in zip(self._motions, self._figures)])
            centre = np.round((points.min(axis=0) + points.max(axis=0)) / 2 / 0.5) * 0.5  # on a grid line
            extent = float((points.max(axis=0) - points.min(axis=0))[[0, 2]].max())
        else:
            centre, extent = np.zeros(3), 0.0
        size = max(10.0, np.ceil(extent + 4.0))
        self._grid.setSize(size, size, 1.0)
        self._grid.resetTransform()
        self._grid.translate(centre[0], -centre[2], self._floor)
