"""Pose mode of the 3D view (viewport.py): handles on the figure at the playhead, picked and dragged with
the mouse, joints turned, limbs pinned, poses mirrored, copied and pasted.

Pose mode (the Pose button, or P anywhere in the window): the figure at the playhead, which the window
supplies through `set_pose_source`, is drawn bright with handles on its hands, feet (at the ankles),
head and pelvis. A drag on a handle moves it in the plane through it that faces the camera (the mouse
unprojected through the view's camera); studio/posing.py's PoseEditor solves the body on rigid bones
(arms and legs by two-bone IK, the head turned on its neck, the pelvis moving the whole body). A click
on a joint chooses it: R then a drag turns it about the view axis, the arrow keys turn it by 5 degrees
(Left/Right about the view axis, Up/Down about the screen's horizontal), H pins its limb (a pinned
limb's end stays where it is while other parts move), M mirrors the pose, Ctrl+C / Ctrl+V copy a pose
and paste it onto the figure at the playhead (these two also outside pose mode); Esc disarms R, or lets
go of the chosen joint. Every finished edit is one `pose_edited(joints, text, holds_place, run)`, which
the window turns into one undo step on the key at the playhead (arrow-key turns of one joint share a
`run`, and are one undo step together); a pin set or taken away is `pins_changed(limbs)`. The keys work
while the 3D view has the focus, where they take precedence over the window's own (the arrows step
frames elsewhere).

`PoseMode` owns the actions (for its buttons, the window's Pose menu and their keys), the hint and the
tool buttons (the viewport lays them out in its tool row), the posed figure and its handles (in the
viewport's scene), and what the mouse and the keys do while it is on (the viewport's event filter asks
it first). It sees the view through the viewport: its camera (`view_points`, `on_view_plane`,
`view_axes`) and the chosen figure's layout offset (`chosen_offset`).
"""

from collections.abc import Callable

import numpy as np
import pyqtgraph.opengl as gl
from OpenGL import GL
from PyQt6.QtCore import QEvent, QObject, QPointF, Qt, pyqtSignal
from PyQt6.QtGui import QAction, QKeyEvent, QKeySequence, QMouseEvent
from PyQt6.QtWidgets import QLabel, QSizePolicy, QToolButton
from pyqtgraph.opengl.GLGraphicsItem import GLOptions, GLGraphicsItem

from keymask.conditioning.ik import EFFECTORS, limb_of
from keymask.conditioning.ik import mirror_pose as mirrored_pose
from keymask.studio.figures import Figure, rgba
from keymask.studio.posing import PoseEditor, copied_pose, joint_label, pasted_figure

HANDLE_RADIUS = 12  # pixels: how near a press must be to a pose handle or joint to take hold of it
EFFECTOR_COLOUR = (1.00, 0.85, 0.25)  # pose handles
PINNED_COLOUR = (0.95, 0.30, 0.60)  # handles of pinned limbs
CHOSEN_COLOUR = (1.00, 1.00, 1.00)  # the chosen joint
ARROW_STEP = np.radians(5.0)  # one arrow key's turn of the chosen joint
_HANDLE_OPTIONS = {**GLOptions["translucent"], GL.GL_DEPTH_TEST: False}  # handles over the bones
TOOL_BUTTONS = ("pin", "rotate", "mirror", "pose")  # the buttons in the viewport's tool row, in order


class PoseMode(QObject):
    """The pose mode of `viewport` (viewport.py's MotionViewport), drawing under `world` (the scene item
    that holds motion coordinates)."""

    pose_edited = pyqtSignal(object, str, bool, str)  # posed joints (J, 3), undo text, moved/turned the body, run
    pins_changed = pyqtSignal(object)  # frozenset of the pinned limbs (conditioning/ik.py LIMBS)

    def __init__(self, viewport, world: GLGraphicsItem):
        super().__init__(viewport)
        self.viewport = viewport
        self.editor = PoseEditor()  # the figure posed in pose mode
        self._pose_source: Callable[[], np.ndarray | None] | None = None
        self._copied: np.ndarray | None = None  # (J, 3) a copied pose, canonical
        self._drag: tuple[str, QPointF, np.ndarray] | None = None  # a pose drag: kind, press, anchor
        self._build_actions()
        self.hint = QLabel("Drag a yellow handle. Click a joint: R + drag or arrows turn it, H pins")
        self.hint.setStyleSheet("color: #9aa0a6")
        self.hint.setToolTip("Drag a hand, foot, the head or the pelvis. Click a joint to choose it: R then a drag, "
                             "or the arrow keys, turn it about the view axis; H pins its limb; M mirrors; "
                             "Ctrl+C / Ctrl+V copy and paste the pose")
        self.hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens the view
        self.buttons: dict[str, QToolButton] = {}
        for name in TOOL_BUTTONS:
            button = self.buttons[name] = QToolButton()
            button.setDefaultAction(self.actions[name])
        # The posed figure is drawn first, so the chosen figure where it coincides fails the depth test;
        # its handles last, over everything.
        self._posed = Figure(world)
        self._posed.set_style(1.0, width=4.0, depth=-1)
        self._handles = gl.GLScatterPlotItem(parentItem=world, pxMode=True, glOptions=_HANDLE_OPTIONS)
        self._handles.setDepthValue(20)
        self._show_tools(False)

    def _build_actions(self) -> None:
        """The pose mode's actions (for the buttons, the window's menu and their keys), on the viewport."""
        self.actions: dict[str, QAction] = {}
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
            action = QAction(text, self.viewport)
            action.setIconText(icon_text)
            action.setToolTip(tip)
            action.setShortcut(QKeySequence(key))
            # P works anywhere in the window; the others while the 3D view has the focus.
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut if name == "pose"
                                      else Qt.ShortcutContext.WidgetWithChildrenShortcut)
            if slot is not None:
                action.triggered.connect(lambda _=False, s=slot: s())
            self.viewport.addAction(action)
            self.actions[name] = action
        self.actions["pose"].setCheckable(True)
        self.actions["pose"].toggled.connect(self._toggled)
        self.actions["rotate"].setCheckable(True)
        self.actions["pin"].setCheckable(True)
        self.actions["paste"].setEnabled(False)

    # ---- public API ----------------------------------------------------------------------------

    @property
    def posing(self) -> bool:
        return self.actions["pose"].isChecked()

    def set_posing(self, posing: bool) -> None:
        """Pose mode on: the figure at the playhead is posed by dragging its handles."""
        self.actions["pose"].setChecked(bool(posing))

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
            self.draw_posed()

    def posed_joints(self) -> np.ndarray | None:
        """(22, 3) the posed figure as drawn (motion coordinates plus the layout offset), or None."""
        if not self.posing or self.editor.pose is None:
            return None
        return self.editor.pose + self.viewport.chosen_offset()

    def copy_pose(self) -> None:
        """Keep the pose at the playhead (the body's pose, not where it stands) for `paste_pose`."""
        figure = self._figure_now()
        if figure is not None:
            self._copied = copied_pose(figure)
            self.actions["paste"].setEnabled(True)

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
        self.draw_posed()

    def toggle_pin(self) -> None:
        """Pin or unpin the chosen joint's limb."""
        if self.editor.selected is not None and self.editor.toggle_pin() is not None:
            self.pins_changed.emit(frozenset(self.editor.pinned))
        self.draw_posed()

    def set_pins(self, limbs) -> None:
        """The pinned limbs (conditioning/ik.py LIMBS), e.g. as a project keeps them."""
        self.editor.pinned = set(limbs)
        self.draw_posed()

    def rotate_chosen(self, axis: np.ndarray, angle: float) -> None:
        """Turn the chosen joint by `angle` radians about `axis` (3,) as one edit; turns of one joint in a
        row are one run."""
        if self.editor.selected is None or self.editor.pose is None or self.editor.editing:
            return
        joint = self.editor.selected
        self.editor.begin(joint)
        self.editor.rotate_by(axis, angle)
        self._finish_edit(f"Rotate {joint_label(joint)}", run=f"turn {joint_label(joint)}")

    def draw_posed(self) -> None:
        """The posed figure, its handles (pinned limbs' in their colour) and the chosen joint, where the
        chosen figure is laid out now."""
        pose = self.editor.pose
        visible = self.posing and pose is not None
        self._posed.group.setVisible(visible)
        self._handles.setVisible(visible)
        chosen = self.editor.selected
        self.actions["pin"].setEnabled(visible and chosen is not None and limb_of(chosen) is not None)
        self.actions["pin"].setChecked(chosen is not None and limb_of(chosen) in self.editor.pinned)
        if not visible:
            return
        offset = self.viewport.chosen_offset()
        self._posed.set_offset(offset)
        self._posed.set_pose(pose)
        joints = list(EFFECTORS) + ([chosen] if chosen is not None and chosen not in EFFECTORS else [])
        colours = [PINNED_COLOUR if limb_of(j) in self.editor.pinned else EFFECTOR_COLOUR for j in joints]
        colours = [CHOSEN_COLOUR if j == chosen else c for j, c in zip(joints, colours)]
        sizes = [17.0 if j == chosen else 12.0 for j in joints]
        self._handles.setData(pos=pose[joints] + offset, color=rgba(np.array(colours), 0.9), size=np.array(sizes))

    def handle_mouse(self, event: QMouseEvent) -> bool:
        """A press on the posed figure takes hold of a handle (or chooses a joint); with Rotate armed,
        a drag anywhere turns the chosen joint. True when the event was the pose mode's."""
        if not self.posing or self.editor.pose is None:
            return False
        viewport = self.viewport
        kind, point = event.type(), event.position()
        left = event.button() == Qt.MouseButton.LeftButton
        if kind == QEvent.Type.MouseButtonPress and left and self._drag is None:
            offset = viewport.chosen_offset()
            if self.actions["rotate"].isChecked() and self.editor.selected is not None:
                pivot = viewport.view_points((self.editor.pose + offset)[[self.editor.selected]])[0]
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
                moved = viewport.on_view_plane(point, anchor) - viewport.on_view_plane(press, anchor)
                self.editor.drag_to(anchor - viewport.chosen_offset() + moved)
            elif mode == "rotate":
                def screen_angle(p: QPointF) -> float:  # counter-clockwise on the screen (y runs down)
                    return float(np.arctan2(anchor[1] - p.y(), p.x() - anchor[0]))

                forward, _ = viewport.view_axes()
                self.editor.rotate_by(-forward, screen_angle(point) - screen_angle(press))
            self.draw_posed()
            return True
        if kind == QEvent.Type.MouseButtonRelease and left:
            self._drag = None
            if mode == "move":
                joint = self.editor.held
                what = {"pelvis": "Move the body", "head": "Turn the head"}.get(EFFECTORS[joint], f"Pose {joint_label(joint)}")
                self._finish_edit(what)
            elif mode == "rotate":
                self.actions["rotate"].setChecked(False)  # R arms one rotation, as in Blender
                self._finish_edit(f"Rotate {joint_label(self.editor.selected)}")
            return True
        return True

    def handle_key(self, event: QKeyEvent, *, act: bool) -> bool:
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
                forward, right = self.viewport.view_axes()
                self.rotate_chosen(-forward if axis == 0 else right, sign * ARROW_STEP)
            return True
        actions = {Qt.Key.Key_R: lambda: self.actions["rotate"].setChecked(
                       self.editor.selected is not None and not self.actions["rotate"].isChecked()),
                   Qt.Key.Key_H: self.toggle_pin, Qt.Key.Key_M: self.mirror_pose,
                   Qt.Key.Key_Escape: self._escape}
        if key not in actions:
            return False
        if act:
            actions[key]()
        return True

    # ---- internals -----------------------------------------------------------------------------

    def _toggled(self, posing: bool) -> None:
        self.editor.cancel()
        self._drag = None
        self.editor.set_pose(None)
        self._show_tools(posing)
        self.refresh_pose()

    def _show_tools(self, posing: bool) -> None:
        self._posed.group.setVisible(posing)
        self._handles.setVisible(posing)
        for name in ("pin", "rotate", "mirror"):
            self.buttons[name].setVisible(posing)
            self.actions[name].setEnabled(posing)
        self.actions["rotate"].setChecked(False)
        self.hint.setVisible(posing)

    def _figure_now(self) -> np.ndarray | None:
        """(J, 3) the figure at the playhead: as posed in pose mode, else as the source gives it."""
        if self.posing and self.editor.pose is not None:
            return self.editor.pose.copy()
        return self._source_figure()

    def _source_figure(self) -> np.ndarray | None:
        """(J, 3) the figure at the playhead as the source gives it, or None."""
        figure = self._pose_source() if self._pose_source is not None else None
        return None if figure is None else np.asarray(figure, dtype=np.float64)

    def _posed_joint_at(self, point: QPointF) -> int | None:
        """The posed figure's handle under `point` (GL view pixels), else its nearest joint, within
        HANDLE_RADIUS pixels; None off the figure."""
        if self.editor.pose is None:
            return None
        pixels = self.viewport.view_points(self.editor.pose + self.viewport.chosen_offset())  # (J, 2)
        distance = np.linalg.norm(pixels - [point.x(), point.y()], axis=1)
        distance = np.where(np.isnan(distance), np.inf, distance)
        effectors = list(EFFECTORS)
        nearest = effectors[int(np.argmin(distance[effectors]))]
        if distance[nearest] <= HANDLE_RADIUS:
            return nearest
        joint = int(np.argmin(distance))
        return joint if distance[joint] <= HANDLE_RADIUS else None

    def _finish_edit(self, text: str, run: str = "") -> None:
        finished = self.editor.finish()
        if finished is not None:
            joints, holds_place = finished
            self.pose_edited.emit(joints, f"{text} in 3D", holds_place, run)
        self.refresh_pose()  # the figure as the source has it now: the edit as taken, or as it was if refused

    def _escape(self) -> None:
        """Esc: disarm R, else let go of the chosen joint (the arrow keys step frames again)."""
        if self.actions["rotate"].isChecked():
            self.actions["rotate"].setChecked(False)
        else:
            self.choose_joint(None)
