"""The studio's widgets driven as a user drives them: the 3D viewport, the timeline and playback, the pose
canvas and the lifted pose view. GL tests need a display: pytest-xvfb gives one (never run them with
QT_QPA_PLATFORM=offscreen, where pyqtgraph's GL view has no context)."""

import gc
import math

import numpy as np
import pyqtgraph.opengl as gl
import pytest
from PyQt6.QtCore import QMimeData, QPoint, QPointF, QRectF, QSize, Qt, QUrl
from PyQt6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PyQt6.QtWidgets import QApplication
from pyqtgraph.opengl.GLGraphicsItem import GLGraphicsItem

from keymask.conditioning.poses import COCO18_JOINTS, KeyPose3D, Pose2D
from keymask.core.skeleton import HUMANML3D_SKELETON, target_offsets
from keymask.studio.panels import CAPTION_3D_KEY, DEFAULT_CANVAS
from keymask.studio.pose_canvas import LiftedPoseView, PoseCanvas, default_pose, front_view_pose, mirrored
from keymask.studio.playback import PlaybackControls
from keymask.studio.timeline import Timeline, merge_spans, subtract_span
from keymask.studio.viewport import SIDE_SPACING, MotionViewport

JOINT = {name: i for i, name in enumerate(COCO18_JOINTS)}


def rest_pose() -> np.ndarray:
    """(22, 3) the HumanML3D target skeleton standing on the floor, facing +Z."""
    offsets, joints = target_offsets(), np.zeros((22, 3))
    for child, parent in enumerate(HUMANML3D_SKELETON.parents):
        if parent >= 0:
            joints[child] = joints[parent] + offsets[child]
    joints[:, 1] -= joints[:, 1].min()
    return joints


def walk(frames: int = 40, sway: float = 0.0) -> np.ndarray:
    """(T, 22, 3) the rest pose moving forward at 1 m/s, swaying sideways, swinging its wrists."""
    t = np.arange(frames) / 20
    motion = np.repeat(rest_pose()[None], frames, axis=0)
    motion[..., 2] += t[:, None]
    motion[..., 0] += sway * np.sin(2 * t)[:, None]
    motion[:, [20, 21], 2] += 0.2 * np.sin(6 * t)[:, None]
    return motion


def image_pixels(image: QImage) -> np.ndarray:
    """(H, W, 3) uint8 RGB."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8)
    return rows.reshape(image.height(), image.bytesPerLine())[:, :image.width() * 3].reshape(
        image.height(), image.width(), 3)


def scene_items(view: gl.GLViewWidget, kind: type) -> list:
    """Every visible item of one type in the view's tree."""
    found, stack = [], list(view.items)
    while stack:
        item = stack.pop()
        if item.visible():
            found += [item] if isinstance(item, kind) else []
            stack += item.childItems()
    return found


class Recorder:
    """Collects a signal's emissions as tuples."""

    def __init__(self, signal):
        self.calls = []
        signal.connect(lambda *args: self.calls.append(args))


# ---- viewport ------------------------------------------------------------------------------------

@pytest.fixture
def viewport(qtbot):
    widget = MotionViewport()
    qtbot.addWidget(widget)
    widget.resize(480, 320)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_viewport_lays_out_two_motions_side_by_side_or_overlaid(viewport):
    motions = [walk(40), walk(30, sway=0.4)]
    viewport.set_motions(motions, names=["first", "second"])
    assert viewport.frame_count == 40 and viewport.motion_count == 2
    assert viewport.layout_mode == "side"
    side = [viewport.drawn_joints(i) for i in range(2)]
    np.testing.assert_allclose(side[0] - motions[0][0], [[-SIDE_SPACING / 2, 0, 0]] * 22, atol=1e-6)
    np.testing.assert_allclose(side[1] - motions[1][0], [[SIDE_SPACING / 2, 0, 0]] * 22, atol=1e-6)

    viewport.set_layout("overlay")
    for i in range(2):
        np.testing.assert_allclose(viewport.drawn_joints(i), motions[i][0], atol=1e-6)
    # Two skeletons, each with bones (42 segment ends), joints and a root trail as long as its motion.
    lines = scene_items(viewport.view, gl.GLLinePlotItem)
    assert sorted(len(item.pos) for item in lines if len(item.pos) != 42 and item.mode == "line_strip") == [30, 40]
    assert len([item for item in lines if item.mode == "lines" and len(item.pos) == 42]) == 2
    with pytest.raises(ValueError, match="layout"):
        viewport.set_layout("grid")
    with pytest.raises(ValueError, match="shape"):
        viewport.set_motions([np.zeros((10, 21, 3))])


def test_viewport_frame_updates_the_same_items_in_place(viewport):
    motions = [walk(40), walk(30, sway=0.4)]
    viewport.set_motions(motions)
    bones_before = [item for item in scene_items(viewport.view, gl.GLLinePlotItem) if item.mode == "lines"
                    and len(item.pos) == 42]
    first = [item.pos.copy() for item in bones_before]

    viewport.set_frame(35)
    assert viewport.frame == 35
    bones_after = [item for item in scene_items(viewport.view, gl.GLLinePlotItem) if item.mode == "lines"
                   and len(item.pos) == 42]
    assert [id(item) for item in bones_after] == [id(item) for item in bones_before]  # nothing recreated
    pelvis_z = sorted(float(item.pos[0, 2]) for item in bones_after)  # the first bone starts at the pelvis
    assert pelvis_z == pytest.approx(sorted([motions[0][35, 0, 2], motions[1][29, 0, 2]]), abs=1e-5)
    assert all(not np.allclose(a, b.pos) for a, b in zip(first, bones_after))
    # The shorter motion holds its last frame; the longer one shows frame 35.
    np.testing.assert_allclose(viewport.drawn_joints(0), motions[0][35] + [-SIDE_SPACING / 2, 0, 0], atol=1e-5)
    np.testing.assert_allclose(viewport.drawn_joints(1), motions[1][29] + [SIDE_SPACING / 2, 0, 0], atol=1e-5)
    viewport.set_frame(1000)
    assert viewport.frame == 39


def test_viewport_ghosts_follow_the_selected_sample(viewport):
    motions = [walk(40), walk(40, sway=0.4)]
    viewport.set_motions(motions)
    scatters_before = len(scene_items(viewport.view, gl.GLScatterPlotItem))
    ghosts = [motions[1][10], motions[1][30]]
    viewport.set_selected(1)
    viewport.set_key_ghosts(ghosts, frames=[10, 30])
    assert len(scene_items(viewport.view, gl.GLScatterPlotItem)) == scatters_before + 2
    drawn = viewport.drawn_ghosts()
    assert len(drawn) == 2
    np.testing.assert_allclose(drawn[0], ghosts[0] + [SIDE_SPACING / 2, 0, 0], atol=1e-5)
    viewport.set_selected(0)
    np.testing.assert_allclose(viewport.drawn_ghosts()[1], ghosts[1] + [-SIDE_SPACING / 2, 0, 0], atol=1e-5)
    viewport.set_key_ghosts([])
    assert len(scene_items(viewport.view, gl.GLScatterPlotItem)) == scatters_before


def test_viewport_grab_image_shows_both_sides_of_the_skeleton(viewport, qtbot):
    viewport.set_motions([walk(40), walk(40, sway=0.4)])
    viewport.set_key_ghosts([walk(40)[20]])
    viewport.set_frame(20)
    viewport.reset_camera()
    image = viewport.grab_image()
    assert not image.isNull() and image.width() > 100 and image.height() > 100
    pixels = image_pixels(image).reshape(-1, 3).astype(int)
    assert len(np.unique(pixels, axis=0)) > 10
    r, g, b = pixels.T
    assert ((r > 200) & (g < 140) & (b < 120)).sum() > 20  # the right side's red-orange bones
    assert ((b > 200) & (r < 120)).sum() > 20  # the left side's blue bones


class _GarbageMaker(GLGraphicsItem):
    """Drawn before the figures; allocates enough to set off an automatic garbage collection and
    counts the collections that start while it paints."""

    def __init__(self):
        super().__init__()
        self.collections_while_painting = 0
        self._painting = False
        gc.callbacks.append(self._count)

    def _count(self, phase, info):
        self.collections_while_painting += phase == "start" and self._painting

    def paint(self):
        self._painting = True
        self.kept = [[] for _ in range(200)]
        self._painting = False


def test_viewport_holds_off_garbage_collection_while_it_paints(viewport):
    """In a full test run a collection mid-paint freed an old studio window, whose GL objects left
    no context current, and the figures were missing from the frame."""
    viewport.set_motions([walk(40)])
    viewport.set_view("front")
    garbage = _GarbageMaker()
    garbage.setDepthValue(-100)
    viewport.view.addItem(garbage)
    thresholds = gc.get_threshold()
    gc.set_threshold(1, 1, 1)
    try:
        image = viewport.grab_image()
        outside = gc.get_count()
        garbage.kept = [[] for _ in range(200)]  # outside a paint the collector is back at work
        assert gc.get_count()[0] < outside[0] + 200
    finally:
        gc.set_threshold(*thresholds)
        gc.callbacks.remove(garbage._count)
    assert garbage.collections_while_painting == 0
    offset = np.array([viewport.view.x(), viewport.view.y()])
    x, y = np.round(viewport.widget_points(viewport.drawn_joints(0))[9] - offset).astype(int)
    assert image_pixels(image)[y - 2:y + 3, x - 2:x + 3].min(axis=(0, 1)).max() > 180


def camera_centre(viewport: MotionViewport) -> np.ndarray:
    centre = viewport.view.opts["center"]
    return np.array([centre.x(), centre.y(), centre.z()])


def test_viewport_views_framing_and_following_the_root(viewport, qtbot):
    motions = [walk(40), walk(40, sway=0.4)]
    viewport.set_motions(motions)
    for name, angles in (("front", (0.0, -90.0)), ("side", (0.0, 0.0)), ("top", (90.0, -90.0))):
        viewport.set_view(name)
        assert (viewport.view.opts["elevation"], viewport.view.opts["azimuth"]) == angles
    with pytest.raises(ValueError, match="view"):
        viewport.set_view("back")
    # Framing fits the chosen figure as it stands now, nearer than the whole scene.
    viewport.set_selected(1)
    viewport.set_frame(30)
    whole = viewport.view.opts["distance"]
    viewport.frame_figure()
    joints = motions[1][30] + [SIDE_SPACING / 2, 0, 0]
    middle = (joints.min(axis=0) + joints.max(axis=0)) / 2
    np.testing.assert_allclose(camera_centre(viewport), [middle[0], -middle[2], middle[1]], atol=1e-5)
    assert viewport.view.opts["distance"] < whole

    # Follow: the centre stays on the chosen figure's root, frame after frame; off, it stays put.
    qtbot.mouseClick(viewport.follow_button, Qt.MouseButton.LeftButton)
    assert viewport.following
    for frame in (0, 17, 39):
        viewport.set_frame(frame)
        root = motions[1][frame, 0] + [SIDE_SPACING / 2, 0, 0]
        np.testing.assert_allclose(camera_centre(viewport), [root[0], -root[2], root[1]], atol=1e-5)
    viewport.set_selected(0)
    root = motions[0][39, 0] - [SIDE_SPACING / 2, 0, 0]
    np.testing.assert_allclose(camera_centre(viewport), [root[0], -root[2], root[1]], atol=1e-5)
    qtbot.mouseClick(viewport.follow_button, Qt.MouseButton.LeftButton)
    assert not viewport.following
    viewport.set_frame(5)
    np.testing.assert_allclose(camera_centre(viewport), [root[0], -root[2], root[1]], atol=1e-5)


def test_viewport_click_on_a_figure_chooses_it_and_a_drag_orbits(viewport, qtbot):
    motions = [walk(40), walk(40, sway=0.4), walk(40)]
    viewport.set_motions(motions)
    viewport.set_view("front")
    clicked = Recorder(viewport.sample_clicked)
    view = viewport.view
    offset = np.array([view.x(), view.y()])
    chests = [np.round(viewport.widget_points(viewport.drawn_joints(i))[9] - offset).astype(int) for i in range(3)]
    for index, (x, y) in enumerate(chests):  # each figure drawn bright (chosen) where its points fall
        viewport.set_selected(index)
        assert image_pixels(viewport.grab_image())[y - 1:y + 2, x - 1:x + 2].min(axis=(0, 1)).max() > 180
    viewport.set_selected(0)
    for index in (2, 0, 1):
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(*chests[index]))
        assert clicked.calls[-1] == (index,)
    assert [c[0] for c in clicked.calls] == [2, 0, 1]
    # Empty space between the figures chooses nothing; a drag from a figure orbits instead.
    between = (viewport.widget_points(viewport.drawn_joints(0))[9] + viewport.widget_points(
        viewport.drawn_joints(1))[9]) / 2 - offset
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(*np.round(between).astype(int)))
    azimuth = view.opts["azimuth"]
    start = QPoint(*np.round(viewport.widget_points(viewport.drawn_joints(2))[9] - offset).astype(int))
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 5):
        qtbot.mouseMove(view, start + QPoint(15 * step, 0))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=start + QPoint(60, 0))
    assert len(clicked.calls) == 3 and view.opts["azimuth"] != azimuth


def test_viewport_grab_image_before_it_is_ever_shown(qtbot):
    widget = MotionViewport()
    qtbot.addWidget(widget)
    widget.resize(320, 240)
    widget.set_motions([walk(20)])
    image = widget.grab_image()
    assert (image.width(), image.height()) == (320, 240)
    assert len(np.unique(image_pixels(image).reshape(-1, 3), axis=0)) > 10


# ---- timeline ------------------------------------------------------------------------------------

@pytest.fixture
def timeline(qtbot):
    widget = Timeline()
    qtbot.addWidget(widget)
    widget.resize(424, 70)  # 400 usable pixels for 101 frames: 4 pixels a frame
    widget.set_length(101, fps=20)
    widget.set_keys([20, 60])
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def at(widget, frame: float, y: float) -> QPoint:
    return QPoint(round(widget.x_of(frame)), round(y))


def test_clicking_the_ruler_scrubs_to_the_frame_under_the_mouse(timeline, qtbot):
    frames = Recorder(timeline.frame_changed)
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=at(timeline, 30, 10))
    assert frames.calls == [(30,)]
    assert timeline.frame == 30
    # Dragging along the ruler follows the mouse.
    qtbot.mousePress(timeline, Qt.MouseButton.LeftButton, pos=at(timeline, 40, 10))
    qtbot.mouseMove(timeline, at(timeline, 50, 10))
    qtbot.mouseRelease(timeline, Qt.MouseButton.LeftButton, pos=at(timeline, 50, 10))
    assert frames.calls[-1] == (50,) and (40,) in frames.calls


def test_dragging_a_marker_emits_one_move_on_release(timeline, qtbot):
    selected, moved = Recorder(timeline.key_selected), Recorder(timeline.key_moved)
    frames = Recorder(timeline.frame_changed)
    y = timeline.marker_centre(0).y()
    qtbot.mousePress(timeline, Qt.MouseButton.LeftButton, pos=at(timeline, 20, y))
    assert selected.calls == [(0,)] and timeline.selected_key == 0
    for frame in (25, 35, 45):
        qtbot.mouseMove(timeline, at(timeline, frame, y))
    assert moved.calls == []  # nothing while dragging
    assert timeline.marker_centre(0).x() == pytest.approx(timeline.x_of(45))  # but shown where it is dragged
    qtbot.mouseRelease(timeline, Qt.MouseButton.LeftButton, pos=at(timeline, 45, y))
    assert moved.calls == [(0, 45)]
    assert timeline.keys == [45, 60]
    assert frames.calls == []  # a marker drag does not scrub
    # A click on a marker without moving it selects it and moves nothing.
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=at(timeline, 60, y))
    assert selected.calls[-1] == (1,) and moved.calls == [(0, 45)]


def test_delete_add_and_deselect_keys_from_the_keyboard(timeline, qtbot):
    deleted, added = Recorder(timeline.key_delete_requested), Recorder(timeline.key_add_requested)
    keyed, selected = Recorder(timeline.pose_key_requested), Recorder(timeline.key_selected)
    qtbot.keyClick(timeline, Qt.Key.Key_Delete)
    assert deleted.calls == []  # nothing selected yet
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=at(timeline, 60, timeline.marker_centre(1).y()))
    qtbot.keyClick(timeline, Qt.Key.Key_Delete)
    qtbot.keyClick(timeline, Qt.Key.Key_Backspace)
    assert deleted.calls == [(1,), (1,)]
    timeline.set_frame(73)
    qtbot.keyClick(timeline, Qt.Key.Key_K)
    qtbot.keyClick(timeline, Qt.Key.Key_I)
    assert keyed.calls == [(73,), (73,)] and added.calls == []  # I or K: key the current pose
    qtbot.keyClick(timeline, Qt.Key.Key_K, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(timeline, Qt.Key.Key_I, Qt.KeyboardModifier.ShiftModifier)
    assert added.calls == [(73,), (73,)] and len(keyed.calls) == 2  # Shift: add the 2D drawing as a key
    qtbot.keyClick(timeline, Qt.Key.Key_Escape)
    assert selected.calls[-1] == (-1,) and timeline.selected_key is None
    frames = Recorder(timeline.frame_changed)
    qtbot.keyClick(timeline, Qt.Key.Key_Right)
    qtbot.keyClick(timeline, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert frames.calls == [(74,), (54,)]


def test_painting_keep_spans(timeline, qtbot):
    spans = Recorder(timeline.keep_spans_changed)
    y = timeline.height() - 8
    shift = Qt.KeyboardModifier.ShiftModifier
    qtbot.mousePress(timeline, Qt.MouseButton.LeftButton, shift, at(timeline, 10, y))
    qtbot.mouseMove(timeline, at(timeline, 15, y))
    qtbot.mouseRelease(timeline, Qt.MouseButton.LeftButton, shift, at(timeline, 19, y))
    assert spans.calls == [([(10, 20)],)]
    # A right drag paints too, and overlapping spans merge; painted right to left it is the same.
    qtbot.mousePress(timeline, Qt.MouseButton.RightButton, pos=at(timeline, 30, y))
    qtbot.mouseMove(timeline, at(timeline, 22, y))
    qtbot.mouseRelease(timeline, Qt.MouseButton.RightButton, pos=at(timeline, 15, y))
    assert spans.calls[-1] == ([(10, 31)],)
    # Ctrl erases.
    ctrl = Qt.KeyboardModifier.ControlModifier
    qtbot.mousePress(timeline, Qt.MouseButton.RightButton, ctrl, at(timeline, 20, y))
    qtbot.mouseMove(timeline, at(timeline, 22, y))
    qtbot.mouseRelease(timeline, Qt.MouseButton.RightButton, ctrl, at(timeline, 24, y))
    assert spans.calls[-1] == ([(10, 20), (25, 31)],)
    assert timeline.keep_spans == [(10, 20), (25, 31)]
    # The context menu offers the playhead's key, the span under the mouse and clearing them all.
    timeline.set_frame(5)
    added = Recorder(timeline.key_add_requested)
    menu = timeline.context_menu(QPointF(timeline.x_of(27), y))
    actions = {action.text().split(" ")[0]: action for action in menu.actions() if not action.isSeparator()}
    assert set(actions) == {"Add", "Key", "Remove", "Clear"}
    actions["Add"].trigger()
    assert added.calls == [(5,)]
    actions["Remove"].trigger()
    assert spans.calls[-1] == ([(10, 20)],)
    actions["Clear"].trigger()
    assert spans.calls[-1] == ([],)


def test_span_arithmetic():
    assert merge_spans([(5, 9), (0, 3), (3, 4), (8, 12), (7, 7)]) == [(0, 4), (5, 12)]
    assert subtract_span([(0, 10), (20, 30)], (5, 25)) == [(0, 5), (25, 30)]


def test_playback_follows_the_clock_and_loops(qtbot):
    controls = PlaybackControls()
    qtbot.addWidget(controls)
    controls.set_length(6, fps=50)
    frames = Recorder(controls.frame_changed)
    controls.play()
    assert controls.is_playing and controls.play_button.isChecked()
    qtbot.waitUntil(lambda: any(b[0] < a[0] for a, b in zip(frames.calls, frames.calls[1:])), timeout=5000)
    assert controls.is_playing
    assert {f for (f,) in frames.calls} <= set(range(6))
    assert (5,) in frames.calls
    controls.pause()
    assert not controls.is_playing and not controls.play_button.isChecked()

    # Without loop it stops on the last frame; play again starts over.
    controls.set_loop(False)
    controls.set_frame(2)
    frames.calls.clear()
    qtbot.mouseClick(controls.play_button, Qt.MouseButton.LeftButton)
    assert controls.is_playing
    qtbot.waitUntil(lambda: not controls.is_playing, timeout=5000)
    assert frames.calls[-1] == (5,) and controls.frame == 5
    assert [f for (f,) in frames.calls] == sorted(f for (f,) in frames.calls)
    controls.play()
    assert frames.calls[-1] == (0,)
    controls.pause()


# ---- pose canvas ---------------------------------------------------------------------------------

@pytest.fixture
def canvas(qtbot):
    widget = PoseCanvas()
    qtbot.addWidget(widget)
    widget.resize(300, 400)
    widget.set_pose(default_pose((512, 768)))
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_pose_canvas_keeps_the_aspect_ratio(canvas):
    rect = canvas.canvas_rect()
    assert rect.width() / rect.height() == pytest.approx(512 / 768)
    assert rect.left() >= 0 and rect.right() <= canvas.width() and rect.top() >= 0 and rect.bottom() <= canvas.height()
    point = canvas.to_widget((100.0, 700.0))
    assert canvas.to_pose(point) == pytest.approx((100.0, 700.0))


def test_dragging_a_joint_moves_it_and_emits_once(canvas, qtbot):
    moved = Recorder(canvas.joint_moved)
    wrist = JOINT["right_wrist"]
    old = tuple(canvas.pose().keypoints[wrist])
    start = canvas.to_widget(old).toPoint()
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(canvas, start + QPoint(10, -10))
    qtbot.mouseMove(canvas, start + QPoint(25, -40))
    assert moved.calls == []
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=start + QPoint(25, -40))
    assert len(moved.calls) == 1
    joint, old_xy, new_xy = moved.calls[0]
    assert joint == wrist and old_xy == pytest.approx(old)
    assert new_xy == pytest.approx(canvas.to_pose(QPointF(start + QPoint(25, -40))))
    pose = canvas.pose()
    assert tuple(pose.keypoints[wrist]) == pytest.approx(new_xy)
    assert pose.source.get("edited") is True
    others = np.delete(np.arange(18), wrist)
    np.testing.assert_allclose(pose.keypoints[others], default_pose((512, 768)).keypoints[others])
    # Undo puts it back, and the pose counts as unedited again.
    canvas.move_joint(wrist, old_xy)
    assert "edited" not in canvas.pose().source
    # A press away from every joint drags nothing.
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(3, 3))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(40, 40))
    assert len(moved.calls) == 1


def test_missing_joints_are_parked_and_can_be_placed_or_taken_away(canvas, qtbot):
    pose = default_pose((512, 768))
    elbow = JOINT["left_elbow"]
    pose.confidence[elbow] = 0.0
    pose.world = np.zeros((18, 3))
    canvas.set_pose(pose)
    moved = Recorder(canvas.joint_moved)
    slot = canvas.joint_position(elbow)
    assert canvas.canvas_rect().right() - slot.x() < 20  # parked at the right edge
    target = canvas.to_widget((380.0, 260.0)).toPoint()
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=slot.toPoint())
    qtbot.mouseMove(canvas, target)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=target)
    (joint, old_xy, new_xy), = moved.calls
    assert joint == elbow and all(math.isnan(v) for v in old_xy)
    assert canvas.pose().present[elbow] and canvas.pose().confidence[elbow] == 1.0
    assert np.isnan(canvas.pose().world[elbow]).all()  # the photo's 3D cue no longer holds there
    canvas.move_joint(elbow, old_xy)  # undo
    assert not canvas.pose().present[elbow]
    # Delete takes away the joint last pressed; undoing that restores the photo's cue too.
    knee = JOINT["right_knee"]
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=canvas.joint_position(knee).toPoint())
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    joint, old_xy, new_xy = moved.calls[-1]
    assert joint == knee and all(math.isnan(v) for v in new_xy)
    assert not canvas.pose().present[knee]
    canvas.move_joint(knee, old_xy)
    assert canvas.pose().present[knee] and (canvas.pose().world[knee] == 0).all()


def test_mirrored_swaps_left_and_right_about_the_body_centre():
    pose = default_pose((512, 512))
    np.testing.assert_allclose(mirrored(pose).keypoints, pose.keypoints, atol=1e-9)  # the A-pose is symmetric
    wrist, left_wrist = JOINT["right_wrist"], JOINT["left_wrist"]
    pose.keypoints[wrist] += (-30.0, -120.0)  # raise the right hand
    pose.keypoints += (40.0, 0.0)  # and stand off the canvas centre
    pose.confidence[JOINT["left_ear"]] = 0.0
    pose.world = np.arange(54.0).reshape(18, 3)
    flipped = mirrored(pose)
    centre = (pose.keypoints[8, 0] + pose.keypoints[11, 0]) / 2
    assert centre == pytest.approx(296.0)
    assert flipped.keypoints[left_wrist] == pytest.approx((2 * centre - pose.keypoints[wrist, 0], pose.keypoints[wrist, 1]))
    assert flipped.keypoints[JOINT["neck"]] == pytest.approx(pose.keypoints[JOINT["neck"]])
    assert flipped.confidence[JOINT["right_ear"]] == 0.0 and flipped.confidence[JOINT["left_ear"]] == 1.0
    assert flipped.world[left_wrist] == pytest.approx(pose.world[wrist] * (-1, 1, 1))
    assert flipped.source["mirrored"] is True
    twice = mirrored(flipped)
    np.testing.assert_allclose(twice.keypoints, pose.keypoints, atol=1e-9)
    np.testing.assert_allclose(twice.world, pose.world)
    assert twice.source["mirrored"] is False


def test_default_pose_stands_inside_any_canvas():
    for canvas in ((512, 512), (300, 900), (1200, 400)):
        pose = default_pose(canvas)
        assert isinstance(pose, Pose2D) and pose.canvas == canvas and pose.present.all()
        assert (pose.keypoints >= 0).all() and (pose.keypoints <= canvas).all()
        assert pose.keypoints[JOINT["right_shoulder"], 0] < pose.keypoints[JOINT["left_shoulder"], 0]  # faces us
        assert pose.keypoints[JOINT["nose"], 1] < pose.keypoints[JOINT["neck"], 1] < pose.keypoints[JOINT["right_ankle"], 1]


def drop(widget, paths: list[str]) -> QDropEvent:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
    enter = QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return enter, event


def test_dropping_files_on_the_canvas(canvas, tmp_path):
    images, poses = Recorder(canvas.image_dropped), Recorder(canvas.pose_file_dropped)
    photo, pose_file, notes = tmp_path / "photo.JPG", tmp_path / "pose.json", tmp_path / "notes.txt"
    enter, _ = drop(canvas, [str(notes), str(photo)])
    assert enter.isAccepted()
    assert images.calls == [(str(photo),)] and poses.calls == []
    drop(canvas, [str(pose_file)])
    assert poses.calls == [(str(pose_file),)]
    enter, event = drop(canvas, [str(notes)])
    assert not enter.isAccepted() and not event.isAccepted()
    assert len(images.calls) == 1 and len(poses.calls) == 1


def caption_pixels(image: QImage) -> np.ndarray:
    """(N, 2) x, y of the light grey pixels of an image: the caption's text (the figure's colours are vivid)."""
    pixels = image_pixels(image).astype(int)
    grey = (pixels.min(axis=2) > 110) & (pixels.max(axis=2) - pixels.min(axis=2) < 30)
    ys, xs = np.nonzero(grey)
    return np.stack([xs, ys], axis=1)


@pytest.mark.parametrize("size", ["smallest", (146, 113), (360, 360)])
def test_the_3d_key_caption_never_covers_the_figure(canvas, qtbot, size):
    canvas.resize(canvas.minimumSize() if size == "smallest" else QSize(*size))
    pose3d = KeyPose3D(joints=rest_pose() - rest_pose()[0])
    canvas.set_pose(front_view_pose(pose3d, DEFAULT_CANVAS))
    canvas.set_caption(CAPTION_3D_KEY)
    qtbot.waitUntil(lambda: canvas.size() == (canvas.minimumSize() if size == "smallest" else QSize(*size)))
    points = np.array([[p.x(), p.y()] for p in map(canvas.joint_position, range(len(COCO18_JOINTS)))])
    radius = 5  # the joints' dots, drawn at 4 px at least
    figure = QRectF(QPointF(*(points.min(axis=0) - radius)), QPointF(*(points.max(axis=0) + radius)))
    assert not canvas.caption_rect().intersects(figure)
    assert QRectF(canvas.rect()).contains(canvas.caption_rect())
    # As drawn: the caption's text lies outside the figure's box.
    text = caption_pixels(canvas.grab().toImage())
    assert len(text) > 20
    drawn = QRectF(QPointF(*text.min(axis=0)), QPointF(*(text.max(axis=0) + 1)))
    assert not drawn.intersects(figure), (drawn, figure)


def test_lifted_pose_view_draws_front_and_side(qtbot):
    view = LiftedPoseView()
    qtbot.addWidget(view)
    view.resize(360, 220)
    empty = image_pixels(view.grab().toImage())
    joints = rest_pose() - rest_pose()[0]
    view.set_pose(KeyPose3D(joints=joints))
    pixels = image_pixels(view.grab().toImage()).astype(int)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > len(np.unique(empty.reshape(-1, 3), axis=0))
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    blue = (b > 200) & (r < 120)
    red = (r > 200) & (g < 140) & (b < 120)
    # The front view (left half) shows both sides; the side view (right half) shows a figure too.
    assert blue[:, :180].sum() > 20 and red[:, :180].sum() > 20
    assert (blue | red)[:, 180:].sum() > 20
    # The figure's left (+X) is on the image's right in the front view, as seen facing it.
    assert np.nonzero(blue[:, :180])[1].mean() > np.nonzero(red[:, :180])[1].mean()
