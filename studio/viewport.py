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
view and a cross cursor say it is on): a left drag on the floor records a stroke of floor points (root_path.py) under the mouse, shown as it is drawn, and
ends in `path_drawn(points)`; the window makes it the project's root path, which `set_root_path`
shows as a line on the floor under the chosen figure. The middle button and the wheel still pan and
zoom.

Pose mode (the Pose button, or P anywhere in the window): the figure at the playhead, which the
window supplies through `set_pose_source`, is drawn bright with handles on its hands, feet (at the
ankles), head and pelvis. A drag on a handle moves it in the plane through it that faces the camera
(the mouse unprojected through the view's camera); studio/posing.py's PoseEditor solves the body on
rigid bones (arms and legs by two-bone IK, the head turned on its neck, the pelvis moving the whole
body). A click on a joint chooses it: R then a drag turns it about the view axis, the arrow keys
turn it by 5 degrees (Left/Right about the view axis, Up/Down about the screen's horizontal), H pins
its limb (a pinned limb's end stays where it is while other parts move), M mirrors the pose,
Ctrl+C / Ctrl+V copy a pose and paste it onto the figure at the playhead (these two also outside
pose mode); Esc disarms R, or lets go of the chosen joint. Every finished edit is one
`pose_edited(joints, text, holds_place, run)`, which the window turns into one undo step on the key
at the playhead (arrow-key turns of one joint share a `run`, and are one undo step together); a pin
set or taken away is `pins_changed(limbs)`. The keys work while the 3D view has the focus, where
they take precedence over the window's own (the arrows step frames elsewhere).
"""

from collections.abc import Callable
from functools import cache

import numpy as np
import pyqtgraph.opengl as gl
from OpenGL import GL
from PyQt6.QtCore import QEvent, QObject, QPointF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QAction, QColor, QImage, QKeyEvent, QKeySequence, QMouseEvent, QOpenGLContext, QVector3D
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget
from pyqtgraph.opengl.GLGraphicsItem import GLOptions, GLGraphicsItem

from keymask.conditioning.ik import EFFECTORS, limb_of
from keymask.conditioning.ik import mirror_pose as mirrored_pose
from keymask.studio.figures import BONE_VERTICES, GHOST_COLOUR, JOINT_COUNT, Figure, OnionSkins, rgba
from keymask.studio.posing import PoseEditor, copied_pose, joint_label, pasted_figure
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
HANDLE_RADIUS = 12  # pixels: how near a press must be to a pose handle or joint to take hold of it
EFFECTOR_COLOUR = (1.00, 0.85, 0.25)  # pose handles
PINNED_COLOUR = (0.95, 0.30, 0.60)  # handles of pinned limbs
CHOSEN_COLOUR = (1.00, 1.00, 1.00)  # the chosen joint
ARROW_STEP = np.radians(5.0)  # one arrow key's turn of the chosen joint
_HANDLE_OPTIONS = {**GLOptions["translucent"], GL.GL_DEPTH_TEST: False}  # handles over the bones
_MOTION_TO_SCENE = np.array([[1.0, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])  # (x, y, z) -> (x, -z, y)


class _SceneView(gl.GLViewWidget):
    """A GLViewWidget that keeps pyqtgraph's shader programs per GL context.

    pyqtgraph caches each item type's compiled program on the class, as if there were one context
    for the whole process; a second view (or a view made after the first one is gone) would then
    use a program id that means nothing in its own context. This view hands the items its own
    programs while it paints, and puts the class's back afterwards.
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
        try:
            super().paintGL()
        finally:
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
        self.editor = PoseEditor()  # the figure posed in pose mode
        self._pose_source: Callable[[], np.ndarray | None] | None = None
        self._copied: np.ndarray | None = None  # (J, 3) a copied pose, canonical
        self._drag: tuple[str, QPointF, np.ndarray] | None = None  # a pose drag: kind, press, anchor

        self._view = _SceneView(self)
        self._view.setBackgroundColor(QColor(*BACKGROUND))
        self._view.installEventFilter(self)
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
        self._build_pose_actions()
        self.pose_hint = QLabel("Drag a yellow handle. Click a joint: R + drag or arrows turn it, H pins")
        self.pose_hint.setStyleSheet("color: #9aa0a6")
        self.pose_hint.setToolTip("Drag a hand, foot, the head or the pelvis. Click a joint to choose it: R then a drag, "
                                  "or the arrow keys, turn it about the view axis; H pins its limb; M mirrors; "
                                  "Ctrl+C / Ctrl+V copy and paste the pose")
        self.pose_hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens the view
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
        for name in ("pin", "rotate", "mirror", "pose"):
            button = QToolButton()
            button.setDefaultAction(self.pose_actions[name])
            setattr(self, f"{name}_button", button)
            tools.addWidget(button)
        tools.addWidget(self.follow_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(tools)
        layout.addWidget(self._view, 1)

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
        # The posed figure is drawn first, so the chosen figure where it coincides fails the depth test;
        # its handles last, over everything.
        self._posed = Figure(self._world)
        self._posed.set_style(1.0, width=4.0, depth=-1)
        self._handles = gl.GLScatterPlotItem(parentItem=self._world, pxMode=True, glOptions=_HANDLE_OPTIONS)
        self._handles.setDepthValue(20)
        self._show_pose_tools(False)
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

    def _build_pose_actions(self) -> None:
        """The pose mode's actions (for the buttons, the window's menu and their keys)."""
        self.pose_actions: dict[str, QAction] = {}
        for name, text, icon_text, key, slot, tip in (
                ("pose", "Pose in 3D", "Pose", "P", None,
                 "Pose the figure at the playhead: drag its hands, feet, head or pelvis (P)"),
                ("rotate", "Rotate the chosen joint", "Rotate", "R", None,
                 "Then drag in the 3D view to turn the chosen joint about the view axis (R; arrow keys: 5 degrees)"),
                ("pin", "Pin the chosen limb", "Pin", "H", self.toggle_pin,
                 "Keep the chosen joint's limb where it is while other parts move (H)"),
                ("mirror", "Mirror the pose", "Mirror", "M", self.mirror_pose, "Swap left and right (M)"),
                ("copy", "Copy the pose", "Copy", "Ctrl+C", self.copy_pose,
                 "Copy the pose at the playhead (Ctrl+C in the 3D view)"),
                ("paste", "Paste the pose", "Paste", "Ctrl+V", self.paste_pose,
                 "Paste the copied pose as the key at the playhead (Ctrl+V in the 3D view)")):
            action = QAction(text, self)
            action.setIconText(icon_text)
            action.setToolTip(tip)
            action.setShortcut(QKeySequence(key))
            # P works anywhere in the window; the others while the 3D view has the focus.
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut if name == "pose"
                                      else Qt.ShortcutContext.WidgetWithChildrenShortcut)
            if slot is not None:
                action.triggered.connect(lambda _=False, s=slot: s())
            self.addAction(action)
            self.pose_actions[name] = action
        self.pose_actions["pose"].setCheckable(True)
        self.pose_actions["pose"].toggled.connect(self._posing_toggled)
        self.pose_actions["rotate"].setCheckable(True)
        self.pose_actions["pin"].setCheckable(True)
        self.pose_actions["paste"].setEnabled(False)

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

    # ---- pose mode -----------------------------------------------------------------------------

    @property
    def posing(self) -> bool:
        return self.pose_actions["pose"].isChecked()

    def set_posing(self, posing: bool) -> None:
        """Pose mode on: the figure at the playhead is posed by dragging its handles."""
        self.pose_actions["pose"].setChecked(bool(posing))

    def set_pose_source(self, source: Callable[[], np.ndarray | None] | None) -> None:
        """What to pose: `source()` gives the figure at the playhead, (22, 3) in motion coordinates of
        the chosen sample (before its layout offset), or None when there is none."""
        self._pose_source = source
        self.refresh_pose()

    def refresh_pose(self) -> None:
        """Take the figure to pose from the source again (the playhead, the key or the motion changed);
        an edit under way keeps its figure."""
        if self.posing and not self.editor.editing:
            self.editor.set_pose(self._source_figure())
            self._draw_posed()

    def posed_joints(self) -> np.ndarray | None:
        """(22, 3) the posed figure as drawn (motion coordinates plus the layout offset), or None."""
        if not self.posing or self.editor.pose is None:
            return None
        return self.editor.pose + self._offset(self._selected)

    def copy_pose(self) -> None:
        """Keep the pose at the playhead (the body's pose, not where it stands) for `paste_pose`."""
        figure = self._figure_now()
        if figure is not None:
            self._copied = copied_pose(figure)
            self.pose_actions["paste"].setEnabled(True)

    def paste_pose(self) -> None:
        """The copied pose, on the body at the playhead where it stands, becomes the key there."""
        figure = self._figure_now()
        if self._copied is not None and figure is not None and not self.editor.editing:
            self.pose_edited.emit(pasted_figure(self._copied, figure), "Paste pose", False, "")

    def mirror_pose(self) -> None:
        """The pose at the playhead mirrored left for right becomes the key there."""
        figure = self._figure_now()
        if figure is not None and not self.editor.editing:
            self.pose_edited.emit(mirrored_pose(figure), "Mirror pose", False, "")

    def choose_joint(self, joint: int | None) -> None:
        """The joint that R, the arrow keys and Pin act on."""
        self.editor.selected = joint
        self._draw_posed()

    def toggle_pin(self) -> None:
        """Pin or unpin the chosen joint's limb."""
        if self.editor.selected is not None and self.editor.toggle_pin() is not None:
            self.pins_changed.emit(frozenset(self.editor.pinned))
        self._draw_posed()

    def set_pins(self, limbs) -> None:
        """The pinned limbs (conditioning/ik.py LIMBS), e.g. as a project keeps them."""
        self.editor.pinned = set(limbs)
        self._draw_posed()

    def rotate_chosen(self, axis: np.ndarray, angle: float) -> None:
        """Turn the chosen joint by `angle` radians about `axis` (3,) as one edit; turns of one joint in a
        row are one run."""
        if self.editor.selected is None or self.editor.pose is None or self.editor.editing:
            return
        joint = self.editor.selected
        self.editor.begin(joint)
        self.editor.rotate_by(axis, angle)
        self._finish_edit(f"Rotate {joint_label(joint)}", run=f"turn {joint_label(joint)}")

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
        fov = np.radians(self._view.opts["fov"])
        distance = 1.1 * radius / np.tan(fov / 2)
        self._view.setCameraPosition(pos=_scene(centre), distance=distance, elevation=12.0, azimuth=-75.0)
        self._follow_root()

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
        distance = 1.3 * radius / np.tan(np.radians(self._view.opts["fov"]) / 2)
        self._view.setCameraPosition(pos=_scene((low + high) / 2), distance=distance)
        self._follow_root()

    def widget_points(self, points: np.ndarray) -> np.ndarray:
        """(P, 3) motion coordinates (with layout offsets, as `drawn_joints` gives) -> (P, 2) widget pixels
        of the 3D view; NaN for a point behind the camera."""
        return self._view_points(points) + [self._view.x(), self._view.y()]

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
            if self._pose_key(event, act=False):
                event.accept()
                return True
            return False
        if event.type() == QEvent.Type.KeyPress:
            return self._pose_key(event, act=True)
        if isinstance(event, QMouseEvent) and (self._path_mouse(event) or self._pose_mouse(event)):
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

    def _view_points(self, points: np.ndarray) -> np.ndarray:
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

    # ---- pose mode internals -------------------------------------------------------------------

    def _posing_toggled(self, posing: bool) -> None:
        if posing:
            self.draw_path_action.setChecked(False)
        self.editor.cancel()
        self._drag = None
        self.editor.set_pose(None)
        self._show_pose_tools(posing)
        self.refresh_pose()
        self._apply_styles()

    def _show_pose_tools(self, posing: bool) -> None:
        self._posed.group.setVisible(posing)
        self._handles.setVisible(posing)
        for name in ("pin", "rotate", "mirror"):
            getattr(self, f"{name}_button").setVisible(posing)
            self.pose_actions[name].setEnabled(posing)
        self.pose_actions["rotate"].setChecked(False)
        self.pose_hint.setVisible(posing)

    def _figure_now(self) -> np.ndarray | None:
        """(J, 3) the figure at the playhead: as posed in pose mode, else as the source gives it."""
        if self.posing and self.editor.pose is not None:
            return self.editor.pose.copy()
        return self._source_figure()

    def _source_figure(self) -> np.ndarray | None:
        """(J, 3) the figure at the playhead as the source gives it, or None."""
        figure = self._pose_source() if self._pose_source is not None else None
        return None if figure is None else np.asarray(figure, dtype=np.float64)

    def _draw_posed(self) -> None:
        """The posed figure, its handles (pinned limbs' in their colour) and the chosen joint."""
        pose = self.editor.pose
        visible = self.posing and pose is not None
        self._posed.group.setVisible(visible)
        self._handles.setVisible(visible)
        chosen = self.editor.selected
        self.pose_actions["pin"].setEnabled(visible and chosen is not None and limb_of(chosen) is not None)
        self.pose_actions["pin"].setChecked(chosen is not None and limb_of(chosen) in self.editor.pinned)
        if not visible:
            return
        offset = self._offset(self._selected)
        self._posed.set_offset(offset)
        self._posed.set_pose(pose)
        joints = list(EFFECTORS) + ([chosen] if chosen is not None and chosen not in EFFECTORS else [])
        colours = [PINNED_COLOUR if limb_of(j) in self.editor.pinned else EFFECTOR_COLOUR for j in joints]
        colours = [CHOSEN_COLOUR if j == chosen else c for j, c in zip(joints, colours)]
        sizes = [17.0 if j == chosen else 12.0 for j in joints]
        self._handles.setData(pos=pose[joints] + offset, color=rgba(np.array(colours), 0.9), size=np.array(sizes))

    def _posed_joint_at(self, point: QPointF) -> int | None:
        """The posed figure's handle under `point` (GL view pixels), else its nearest joint, within
        HANDLE_RADIUS pixels; None off the figure."""
        if self.editor.pose is None:
            return None
        pixels = self._view_points(self.editor.pose + self._offset(self._selected))  # (J, 2)
        distance = np.linalg.norm(pixels - [point.x(), point.y()], axis=1)
        distance = np.where(np.isnan(distance), np.inf, distance)
        effectors = list(EFFECTORS)
        nearest = effectors[int(np.argmin(distance[effectors]))]
        if distance[nearest] <= HANDLE_RADIUS:
            return nearest
        joint = int(np.argmin(distance))
        return joint if distance[joint] <= HANDLE_RADIUS else None

    def _pose_mouse(self, event: QMouseEvent) -> bool:
        """A press on the posed figure takes hold of a handle (or chooses a joint); with Rotate armed,
        a drag anywhere turns the chosen joint. True when the event was the pose mode's."""
        if not self.posing or self.editor.pose is None:
            return False
        kind, point = event.type(), event.position()
        left = event.button() == Qt.MouseButton.LeftButton
        if kind == QEvent.Type.MouseButtonPress and left and self._drag is None:
            offset = self._offset(self._selected)
            if self.pose_actions["rotate"].isChecked() and self.editor.selected is not None:
                pivot = self._view_points((self.editor.pose + offset)[[self.editor.selected]])[0]
                self.editor.begin(self.editor.selected)
                self._drag = ("rotate", point, pivot)
                return True
            joint = self._posed_joint_at(point)
            if joint is None:
                return False
            self.choose_joint(joint)
            if joint in EFFECTORS:
                self.editor.begin(joint)
            self._drag = ("move" if joint in EFFECTORS else "choose", point, self.editor.pose[joint] + offset)
            return True
        if self._drag is None:
            return False
        mode, press, anchor = self._drag
        if kind == QEvent.Type.MouseMove:
            if mode == "move":
                moved = self.on_view_plane(point, anchor) - self.on_view_plane(press, anchor)
                self.editor.drag_to(anchor - self._offset(self._selected) + moved)
            elif mode == "rotate":
                def screen_angle(p: QPointF) -> float:  # counter-clockwise on the screen (y runs down)
                    return float(np.arctan2(anchor[1] - p.y(), p.x() - anchor[0]))

                forward, _ = self.view_axes()
                self.editor.rotate_by(-forward, screen_angle(point) - screen_angle(press))
            self._draw_posed()
            return True
        if kind == QEvent.Type.MouseButtonRelease and left:
            self._drag = None
            if mode == "move":
                joint = self.editor.held
                what = {"pelvis": "Move the body", "head": "Turn the head"}.get(EFFECTORS[joint], f"Pose {joint_label(joint)}")
                self._finish_edit(what)
            elif mode == "rotate":
                self.pose_actions["rotate"].setChecked(False)  # R arms one rotation, as in Blender
                self._finish_edit(f"Rotate {joint_label(self.editor.selected)}")
            return True
        return True

    def _finish_edit(self, text: str, run: str = "") -> None:
        finished = self.editor.finish()
        if finished is not None:
            joints, holds_place = finished
            self.pose_edited.emit(joints, f"{text} in 3D", holds_place, run)
        self.refresh_pose()  # the figure as the source has it now: the edit as taken, or as it was if refused

    def _pose_key(self, event: QKeyEvent, *, act: bool) -> bool:
        """The pose keys, while the 3D view has the focus: whether `event` is one (and with `act`,
        what it does is done). Ctrl+C / Ctrl+V work outside pose mode too."""
        key, modifiers = event.key(), event.modifiers()
        control = modifiers == Qt.KeyboardModifier.ControlModifier
        plain = modifiers in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.KeypadModifier)
        if control and key in (Qt.Key.Key_C, Qt.Key.Key_V):
            if act:
                (self.copy_pose if key == Qt.Key.Key_C else self.paste_pose)()
            return True
        if not (self.posing and plain) or self.editor.editing:
            return False
        arrows = {Qt.Key.Key_Left: (0, 1.0), Qt.Key.Key_Right: (0, -1.0), Qt.Key.Key_Up: (1, -1.0),
                  Qt.Key.Key_Down: (1, 1.0)}
        if key in arrows:
            if self.editor.selected is None:
                return False  # nothing chosen: the arrows step frames and jump keys as elsewhere
            if act:
                axis, sign = arrows[key]
                forward, right = self.view_axes()
                self.rotate_chosen(-forward if axis == 0 else right, sign * ARROW_STEP)
            return True
        actions = {Qt.Key.Key_R: lambda: self.pose_actions["rotate"].setChecked(
                       self.editor.selected is not None and not self.pose_actions["rotate"].isChecked()),
                   Qt.Key.Key_H: self.toggle_pin, Qt.Key.Key_M: self.mirror_pose,
                   Qt.Key.Key_Escape: self._escape}
        if key not in actions:
            return False
        if act:
            actions[key]()
        return True

    def _escape(self) -> None:
        """Esc: disarm R, else let go of the chosen joint (the arrow keys step frames again)."""
        if self.pose_actions["rotate"].isChecked():
            self.pose_actions["rotate"].setChecked(False)
        else:
            self.choose_joint(None)

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
        self._draw_posed()
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
