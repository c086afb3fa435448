"""Posing in 3D (studio/pose_mode.py, studio/posing.py): real mouse drags on the handles of the
figure at the playhead, joints chosen, turned and pinned from the keyboard, the pose mirrored, copied and
pasted; in the window every finished edit is one undo step on the key at the playhead, with its local
re-solve. GL tests need a display: pytest-xvfb gives one."""

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt

from keymask.conditioning.ik import bone_lengths
from keymask.conditioning.refine import bone_direction_error
from keymask.core.facing import body_heading, canonical_pose
from keymask.core.skeleton import HUMANML3D_SKELETON, target_offsets
from keymask.studio.pose_mode import ARROW_STEP
from keymask.studio.viewport import MotionViewport
from test_studio_app import drag, focus, open_window, scrub, studio_folders, walking_project  # noqa: F401

J = HUMANML3D_SKELETON.index
RIGHT_WRIST, LEFT_ANKLE, RIGHT_ANKLE = J("right_wrist"), J("left_ankle"), J("right_ankle")


def standing(frames: int = 20) -> np.ndarray:
    """(T, 22, 3) the target skeleton standing still on the floor, facing +Z (arms and legs straight)."""
    offsets, rest = target_offsets(), np.zeros((22, 3))
    for child, parent in enumerate(HUMANML3D_SKELETON.parents):
        if parent >= 0:
            rest[child] = rest[parent] + offsets[child]
    rest[:, 1] -= rest[:, 1].min()
    return np.repeat(rest[None], frames, axis=0)


def handle(viewport: MotionViewport, joint: int) -> QPoint:
    """Where a joint of the posed figure is drawn, in pixels of the GL view."""
    view = viewport.view
    x, y = viewport.widget_points(viewport.posed_joints())[joint] - [view.x(), view.y()]
    return QPoint(round(x), round(y))


class Recorder:
    def __init__(self, signal):
        self.calls = []
        signal.connect(lambda *args: self.calls.append(args))


@pytest.fixture
def posing(qtbot):
    """A viewport showing a standing figure from the front, in pose mode (entered with the Pose button);
    its pose source is the last posed figure at the playhead's frame, else the motion there."""
    widget = MotionViewport()
    qtbot.addWidget(widget)
    widget.resize(480, 400)
    widget.show()
    qtbot.waitExposed(widget)
    motion = standing()
    keys = {}  # frame -> the posed figure: what a window would make the key there

    def keep(joints, text, holds_place):
        keys[widget.frame] = joints
        widget.refresh_pose()

    widget.pose_edited.connect(keep)
    widget.set_motions([motion])
    widget.set_pose_source(lambda: keys.get(widget.frame, motion[widget.frame]))
    widget.set_view("front")
    qtbot.mouseClick(widget.pose_button, Qt.MouseButton.LeftButton)
    assert widget.posing and widget.posed_joints() is not None
    return widget, motion[0]


def test_dragging_a_wrist_handle_poses_the_arm_on_rigid_bones(posing, qtbot):
    viewport, figure = posing
    edits = Recorder(viewport.pose_edited)
    azimuth = viewport.view.opts["azimuth"]
    start = handle(viewport, RIGHT_WRIST)
    end = start + QPoint(-20, -60)  # up and to the screen's left: the figure's right, as it faces us
    drag(qtbot, viewport.view, start, end)
    assert len(edits.calls) == 1  # one edit for the whole drag
    joints, text, holds_place, _ = edits.calls[0]
    assert text == "Pose right wrist in 3D" and not holds_place
    assert joints[RIGHT_WRIST, 1] > figure[RIGHT_WRIST, 1] + 0.15  # up
    assert joints[RIGHT_WRIST, 0] < figure[RIGHT_WRIST, 0] - 0.05  # towards the figure's right (-X)
    assert abs(joints[RIGHT_WRIST, 2] - figure[RIGHT_WRIST, 2]) < 1e-6  # in the plane facing the camera
    np.testing.assert_allclose(bone_lengths(joints), bone_lengths(figure), atol=1e-6)
    moved = set(np.flatnonzero(np.linalg.norm(joints - figure, axis=1) > 1e-9))
    assert moved == {J("right_elbow"), RIGHT_WRIST}  # the arm, nothing else
    # The hand is drawn where the mouse let go (the drag is unprojected through the view's camera),
    # and the view did not orbit.
    assert (handle(viewport, RIGHT_WRIST) - end).manhattanLength() <= 2
    assert viewport.view.opts["azimuth"] == azimuth


def test_a_pinned_foot_stays_while_the_pelvis_lowers_the_body(posing, qtbot):
    viewport, figure = posing
    edits = Recorder(viewport.pose_edited)
    view = viewport.view
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=handle(viewport, LEFT_ANKLE))  # choose the left ankle
    qtbot.keyClick(view, Qt.Key.Key_H)  # pin its leg
    assert viewport.pin_button.isChecked() and viewport.editor.pinned == {"left_leg"}
    assert not edits.calls  # choosing and pinning change no pose
    start = handle(viewport, 0)
    drag(qtbot, view, start, start + QPoint(0, 30))  # the pelvis down
    joints, text, holds_place, _ = edits.calls[-1]
    assert text == "Move the body in 3D" and holds_place
    assert joints[0, 1] < figure[0, 1] - 0.05
    np.testing.assert_allclose(joints[[LEFT_ANKLE, J("left_foot")]], figure[[LEFT_ANKLE, J("left_foot")]], atol=1e-9)
    assert joints[RIGHT_ANKLE, 1] < figure[RIGHT_ANKLE, 1] - 0.05  # the unpinned foot went down with the body
    assert joints[J("left_knee"), 2] > figure[J("left_knee"), 2] + 0.02  # the pinned leg bends its knee forward
    np.testing.assert_allclose(bone_lengths(joints), bone_lengths(figure), atol=1e-6)


def test_the_head_handle_turns_the_head_on_its_neck(posing, qtbot):
    viewport, figure = posing
    edits = Recorder(viewport.pose_edited)
    start = handle(viewport, J("head"))
    drag(qtbot, viewport.view, start, start + QPoint(30, 10))  # to the screen's right: the figure's left, +X
    joints, text, holds_place, _ = edits.calls[-1]
    assert text == "Turn the head in 3D" and not holds_place and len(edits.calls) == 1
    assert set(np.flatnonzero(np.linalg.norm(joints - figure, axis=1) > 1e-9)) == {J("neck"), J("head")}
    assert joints[J("head"), 0] > figure[J("head"), 0] + 0.03
    np.testing.assert_allclose(bone_lengths(joints), bone_lengths(figure), atol=1e-6)


def test_a_chosen_joint_turns_with_r_and_a_drag_and_with_the_arrow_keys(posing, qtbot):
    viewport, figure = posing
    edits = Recorder(viewport.pose_edited)
    view = viewport.view
    elbow, wrist = J("left_elbow"), J("left_wrist")
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=handle(viewport, elbow))
    assert viewport.editor.selected == elbow and not edits.calls

    # Arrow keys in the 3D view turn the forearm 5 degrees each about the view axis (frames stay).
    qtbot.keyClick(view, Qt.Key.Key_Left)
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert len(edits.calls) == 2 and edits.calls[-1][1] == "Rotate left elbow in 3D"
    turned = edits.calls[-1][0]
    before, after = figure[wrist] - figure[elbow], turned[wrist] - turned[elbow]
    angle = np.arccos(before @ after / np.linalg.norm(before) / np.linalg.norm(after))
    assert abs(angle - 2 * ARROW_STEP) < 1e-6
    assert abs(after[2] - before[2]) < 1e-9  # about the view axis (the front view looks along -Z)
    assert after[0] > before[0]  # counter-clockwise on the screen: the figure's left hand swings out to +X

    # R, then a drag a quarter turn about the elbow's point on the screen, turns it a quarter turn.
    qtbot.keyClick(view, Qt.Key.Key_R)
    assert viewport.rotate_button.isChecked()
    centre = handle(viewport, elbow)
    press, release = centre + QPoint(40, 0), centre + QPoint(0, -40)
    drag(qtbot, view, press, release, steps=6)
    assert not viewport.rotate_button.isChecked()  # R arms one rotation
    quarter = edits.calls[-1][0]
    before, after = turned[wrist] - turned[elbow], quarter[wrist] - quarter[elbow]
    angle = np.arccos(before @ after / np.linalg.norm(before) / np.linalg.norm(after))
    pivot = viewport.widget_points(viewport.posed_joints())[elbow] - [view.x(), view.y()]  # unrounded
    swept = [np.array([p.x(), p.y()]) - pivot for p in (press, release)]
    expected = np.arccos(swept[0] @ swept[1] / np.linalg.norm(swept[0]) / np.linalg.norm(swept[1]))  # about 90 degrees
    assert abs(angle - expected) < 1e-6 and len(edits.calls) == 3
    np.testing.assert_allclose(bone_lengths(quarter), bone_lengths(figure), atol=1e-6)

    # Esc lets go of the chosen joint: the arrow keys turn nothing any more.
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert viewport.editor.selected is None
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert len(edits.calls) == 3


def test_mirror_copy_and_paste_in_the_3d_view(posing, qtbot):
    viewport, figure = posing
    edits = Recorder(viewport.pose_edited)
    view = viewport.view
    start = handle(viewport, RIGHT_WRIST)
    drag(qtbot, view, start, start + QPoint(-10, -70))
    raised = edits.calls[-1][0]
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_M)  # mirror the posed figure: now the left hand is up
    mirrored, text, holds_place, _ = edits.calls[-1]
    assert text == "Mirror pose" and not holds_place
    def arm(pose, side):  # (2, 3) unit directions of the upper arm and the forearm
        shoulder, elbow, wrist = pose[[J(f"{side}_shoulder"), J(f"{side}_elbow"), J(f"{side}_wrist")]]
        bones = np.stack([elbow - shoulder, wrist - elbow])
        return bones / np.linalg.norm(bones, axis=1, keepdims=True)

    # The figure faces +Z: its mirror negates X. Each bone keeps its own length (the body is a little asymmetric).
    np.testing.assert_allclose(arm(mirrored, "left"), arm(raised, "right") * [-1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(arm(mirrored, "right"), arm(figure, "left") * [-1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(bone_lengths(mirrored), bone_lengths(figure), atol=1e-6)

    # Ctrl+C keeps the pose as posed now (mirrored); out of pose mode, Ctrl+V pastes it on another body elsewhere.
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    qtbot.mouseClick(viewport.pose_button, Qt.MouseButton.LeftButton)
    assert not viewport.posing
    elsewhere = standing()[0] * 1.1 + [2.0, 0.0, 1.0]  # a taller body, standing somewhere else
    viewport.set_pose_source(lambda: elsewhere)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    pasted, text, _, _ = edits.calls[-1]
    assert text == "Paste pose"
    assert bone_direction_error(pasted, mirrored) < 1e-3  # the pose copied...
    np.testing.assert_allclose(bone_lengths(pasted), bone_lengths(elsewhere), atol=1e-6)  # ...on this body
    np.testing.assert_allclose(pasted[0, [0, 2]], elsewhere[0, [0, 2]], atol=1e-9)  # where it stands


# ---- in the window -------------------------------------------------------------------------------

@pytest.fixture
def walking_window(open_window, tmp_path, qtbot):
    """A window with a walk of 60 frames, the playhead at frame 30, the 3D view from the front."""
    window = open_window(walking_project(tmp_path), recover="no")
    scrub(qtbot, window, 30)
    window.viewport.set_view("front")
    return window


def pose_in_window(qtbot, window, joint: int, offset: QPoint) -> None:
    """Drag one handle of the posed figure and wait for the key's local re-solve."""
    start = handle(window.viewport, joint)
    with qtbot.waitSignal(window.resolver.worker.finished, timeout=30_000):
        drag(qtbot, window.viewport.view, start, start + offset)
    qtbot.waitUntil(lambda: not window.timeline.stale_spans)


def test_posing_in_the_window_keys_the_playhead_and_undoes_in_one_step(walking_window, qtbot):
    window = walking_window
    source = window.project.motion.copy()
    figure = source[30].astype(np.float64)
    focus(qtbot, window, window.timeline)
    qtbot.keyClick(window.timeline, Qt.Key.Key_P)  # P enters pose mode from any panel
    assert window.viewport.posing
    np.testing.assert_allclose(window.viewport.posed_joints(), figure + window.viewport.drawn_joints(0)
                               - source[30], atol=1e-6)  # the figure at the playhead

    # A wrist drag makes a new key at the playhead: its wrist up, every bone as long as the body's.
    pose_in_window(qtbot, window, RIGHT_WRIST, QPoint(-20, -60))
    assert len(window.project.keys) == 1
    key = window.project.keys[0]
    assert key.frame() == 30 and key.pose2d is None and key.constrain == "body"
    assert window.stack.undoText() == "Pose right wrist in 3D (new key pose)" and window.selected_key == 0
    canonical = canonical_pose(figure)
    assert key.pose3d.joints[RIGHT_WRIST, 1] > canonical[RIGHT_WRIST, 1] + 0.15
    np.testing.assert_allclose(bone_lengths(key.pose3d.joints), bone_lengths(figure), atol=1e-6)
    np.testing.assert_allclose(key.pose3d.root_position, figure[0], atol=1e-6)
    assert key.pose3d.facing == pytest.approx(float(body_heading(figure)), abs=1e-9)
    assert bone_direction_error(window.project.motion[30], key.pose3d.joints) < 3  # the re-solve shows it
    keyed = window.project.motion.copy()

    # A second drag replaces that key's pose (one more undo step); the posed figure is the key's.
    np.testing.assert_allclose(bone_lengths(window.viewport.editor.pose), bone_lengths(figure), atol=1e-6)
    pose_in_window(qtbot, window, J("left_wrist"), QPoint(20, -50))
    assert len(window.project.keys) == 1 and window.stack.undoText() == "Pose left wrist in 3D"
    second = window.project.keys[0].pose3d.joints
    assert second[J("left_wrist"), 1] > canonical[J("left_wrist"), 1] + 0.1
    np.testing.assert_allclose(second[RIGHT_WRIST], key.pose3d.joints[RIGHT_WRIST], atol=1e-6)  # kept
    np.testing.assert_allclose(bone_lengths(second), bone_lengths(figure), atol=1e-6)

    # Ctrl+Z in the 3D view: the first pose and its motion, then no key and the walk as it was.
    view = window.viewport.view
    focus(qtbot, window, view)
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(window.project.keys[0].pose3d.joints, key.pose3d.joints)
    np.testing.assert_array_equal(window.project.motion, keyed)
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.project.keys == []
    np.testing.assert_array_equal(window.project.motion, source)
    np.testing.assert_allclose(window.viewport.editor.pose, figure, atol=1e-6)  # the figure is the walk's again


def test_mirror_copy_and_paste_between_keys_in_the_window(walking_window, qtbot):
    window = walking_window
    viewport, view = window.viewport, window.viewport.view
    qtbot.mouseClick(viewport.pose_button, Qt.MouseButton.LeftButton)
    pose_in_window(qtbot, window, RIGHT_WRIST, QPoint(-20, -60))
    raised = window.project.keys[0].pose3d.joints.copy()

    # Copy at frame 30, paste at frame 50: a second key with the same pose on the body there.
    focus(qtbot, window, view)
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    scrub(qtbot, window, 50)
    focus(qtbot, window, view)
    with qtbot.waitSignal(window.resolver.worker.finished, timeout=30_000):
        qtbot.keyClick(view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert [k.frame() for k in window.project.keys] == [30, 50]
    pasted = window.project.keys[1].pose3d.joints
    assert bone_direction_error(pasted, raised) < 0.1
    assert window.stack.undoText() == "Paste pose (new key pose)"

    # M (the Pose menu's Mirror) on the key at 50: its left hand is up now, one undo step.
    qtbot.waitUntil(lambda: not window.timeline.stale_spans)
    with qtbot.waitSignal(window.resolver.worker.finished, timeout=30_000):
        qtbot.keyClick(view, Qt.Key.Key_M)
    mirrored = window.project.keys[1].pose3d.joints
    assert window.stack.undoText() == "Mirror pose" and len(window.project.keys) == 2
    assert mirrored[J("left_wrist"), 1] == pytest.approx(pasted[RIGHT_WRIST, 1], abs=0.02)
    assert mirrored[RIGHT_WRIST, 1] < pasted[RIGHT_WRIST, 1] - 0.15
    qtbot.waitUntil(lambda: not window.timeline.stale_spans)
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(window.project.keys[1].pose3d.joints, pasted)
    # With a joint chosen, the arrow keys in the 3D view turn it (the window's Left steps a frame elsewhere).
    qtbot.waitUntil(lambda: not window.timeline.stale_spans)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=handle(viewport, J("right_elbow")))
    with qtbot.waitSignal(window.resolver.worker.finished, timeout=30_000):
        qtbot.keyClick(view, Qt.Key.Key_Left)
    assert window.frame == 50 and window.stack.undoText() == "Rotate right elbow in 3D"
    assert bone_direction_error(window.project.keys[1].pose3d.joints, pasted) > 0.1
    qtbot.waitUntil(lambda: not window.timeline.stale_spans)
    focus(qtbot, window, window.timeline)
    qtbot.keyClick(window.timeline, Qt.Key.Key_Left)
    assert window.frame == 49
    # The menu holds the pose actions with their keys.
    titles = {a.text(): a for a in window.menuBar().actions()}
    menu = titles["&Pose"].menu()
    shortcuts = {a.text(): a.shortcut().toString() for a in menu.actions()}
    assert shortcuts["Pose in 3D"] == "P" and shortcuts["Mirror the pose"] == "M"
    assert shortcuts["Copy the pose"] == "Ctrl+C" and shortcuts["Paste the pose"] == "Ctrl+V"


# ---- posed figures become keys ---------------------------------------------------------------------

def test_a_posed_figure_is_what_the_key_shows_at_its_frame():
    """pose_command then figure_at gives back the posed figure: the key shows what was posed, for a key
    that holds only the body (its place unchanged) and for one whose pelvis was moved (it holds its root)."""
    from keymask.conditioning.ik import move_body, solve_limb
    from keymask.studio.posing import figure_at, pose_command
    from keymask.studio.project import Project

    motion = standing(40) + np.linspace([0.0, 0.0, 0.0], [0.0, 0.0, 2.0], 40)[:, None]  # walking forwards
    project = Project(motions=[motion.astype(np.float32)])
    figure = figure_at(project, 10, 20)
    np.testing.assert_allclose(figure, motion[10], atol=1e-6)  # no key there: the motion's pose

    arm = solve_limb(figure, "left_arm", figure[J("left_wrist")] + [0.1, 0.3, 0.2])
    command, index = pose_command(project, 10, 20, arm, "Pose left wrist in 3D", False)
    command.redo()
    assert index == 0 and project.keys[0].constrain == "body" and project.keys[0].frame() == 10
    np.testing.assert_allclose(figure_at(project, 10, 20), arm, atol=1e-6)

    lowered = move_body(arm, [0.2, -0.1, 0.0])
    command, index = pose_command(project, 10, 20, lowered, "Move the body in 3D", True)
    command.redo()
    assert index == 0 and len(project.keys) == 1 and project.keys[0].constrain == "root"
    np.testing.assert_allclose(figure_at(project, 10, 20), lowered, atol=1e-6)
    command.undo()
    np.testing.assert_allclose(figure_at(project, 10, 20), arm, atol=1e-6)
