"""Key edits in the studio window that re-solve at once and undo as one step, driven with real keys and
mouse events: deleting a key lets go of its stretch in the background, a hold or ease typed in the dope
sheet's menu shows in the motion at once, pins are saved with the project, and a run of arrow-key turns
of one joint is one undo step. Under Xvfb (pytest-xvfb), as the other studio tests."""

import json
import time

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt, QTimer
from PyQt6.QtWidgets import QApplication, QMenu

from keymask.conditioning.ik import bone_lengths, rotate_joint
from keymask.conditioning.refine import bone_direction_error
from keymask.core.facing import canonical_pose
from keymask.core.skeleton import HUMANML3D_SKELETON
from keymask.studio.project import Project, load_project, save_project
from keymask.studio.pose_mode import ARROW_STEP
from test_studio_app import drag, focus, open_window, scrub, studio_folders, walking_project, waving_walk  # noqa: F401
from test_studio_posing import handle, walking_window  # noqa: F401

J = HUMANML3D_SKELETON.index
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
RESOLVE_TIMEOUT_MS = 30_000


@pytest.fixture
def wave_window(open_window, tmp_path):
    """A window on a saved project holding a 4 s motion: the skeleton walking and raising its right arm."""
    path = tmp_path / "wave.keymask.json"
    save_project(path, Project(prompt="a person walks and raises an arm", seconds=4.0,
                               motions=[waving_walk(80).astype(np.float32)]))
    return open_window(path, recover="no")


def press(qtbot, window, widget, key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    focus(qtbot, window, widget)
    qtbot.keyClick(widget, key, modifiers)


def settled(qtbot, window) -> None:
    """Wait until no stretch is being re-solved."""
    qtbot.waitUntil(lambda: not window.timeline.stale_spans, timeout=RESOLVE_TIMEOUT_MS)


def test_deleting_a_key_lets_go_of_its_stretch_in_the_background(qtbot, wave_window, capsys):
    window = wave_window
    walk = window.project.motion.copy()
    scrub(qtbot, window, 40)
    with qtbot.waitSignal(window.resolver.worker.finished, timeout=RESOLVE_TIMEOUT_MS):
        qtbot.keyClick(window.timeline, Qt.Key.Key_K, SHIFT)  # the canvas's A-pose: both arms down
    settled(qtbot, window)
    keyed = window.project.motion.copy()
    pose = window.project.keys[0].pose3d.joints
    assert bone_direction_error(keyed[40], pose) < 3 and bone_direction_error(walk[40], pose) > 10

    # A click on the marker chooses the key; Delete deletes it, its stretch hatched while it is re-solved.
    qtbot.mouseClick(window.timeline, Qt.MouseButton.LeftButton, pos=window.timeline.marker_centre(0).toPoint())
    assert window.timeline.selected_key == 0
    started = time.perf_counter()
    with qtbot.waitSignal(window.resolver.worker.finished, timeout=RESOLVE_TIMEOUT_MS):
        qtbot.keyClick(window.timeline, Qt.Key.Key_Delete)
        stale = list(window.timeline.stale_spans)
    seconds = time.perf_counter() - started
    settled(qtbot, window)
    assert stale == [(20, 61)]  # a second either side of the key
    assert window.project.keys == [] and window.timeline.keys == []
    assert window.stack.undoText() == "Delete key pose"
    released = window.project.motion.copy()
    np.testing.assert_array_equal(released[:20], keyed[:20])  # outside the stretch: bit for bit
    np.testing.assert_array_equal(released[61:], keyed[61:])
    # The key's pose is gone, and the motion there is nearer the walk's.
    assert bone_direction_error(released[40], pose) > 10
    assert bone_direction_error(released[40], walk[40]) < bone_direction_error(keyed[40], walk[40]) - 5
    np.testing.assert_allclose(bone_lengths(released[40]), bone_lengths(keyed[40]), atol=2e-3)
    with capsys.disabled():
        print(f"\nlocal re-solve after a key delete: {seconds:.3f} s (key press to result)")

    # One undo gives back the key and the motion through it; redo deletes it again with its re-solve.
    press(qtbot, window, window.timeline, Qt.Key.Key_Z, CTRL)
    assert len(window.project.keys) == 1
    np.testing.assert_array_equal(window.project.motion, keyed)
    window.redo_action.trigger()
    assert window.project.keys == [] and not window.timeline.stale_spans  # nothing to re-solve again
    np.testing.assert_array_equal(window.project.motion, released)


def test_an_ease_typed_in_the_dope_sheet_shows_in_the_motion_at_once(qtbot, wave_window):
    window = wave_window
    scrub(qtbot, window, 40)
    with qtbot.waitSignal(window.resolver.worker.finished, timeout=RESOLVE_TIMEOUT_MS):
        qtbot.keyClick(window.timeline, Qt.Key.Key_K, SHIFT)  # the canvas's A-pose as a key
    settled(qtbot, window)
    keyed = window.project.motion.copy()
    pose = window.project.keys[0].pose3d.joints

    # A right click on the marker opens its menu; a click on "Set ease…" opens the editor; 1.5s and Enter.
    def choose_set_ease() -> None:
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu):
            QTimer.singleShot(20, choose_set_ease)
            return
        action = next(a for a in menu.actions() if a.text().startswith("Set ease"))
        qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())

    QTimer.singleShot(0, choose_set_ease)
    marker = window.timeline.marker_centre(0).toPoint()
    qtbot.mouseClick(window.timeline, Qt.MouseButton.RightButton, pos=marker)
    qtbot.waitUntil(lambda: window.timeline.editor is not None and window.timeline.editor.isVisible(), timeout=5000)
    editor = window.timeline.editor
    editor.field_edit.selectAll()
    qtbot.keyClicks(editor.field_edit, "1.5s")
    with qtbot.waitSignal(window.resolver.worker.finished, timeout=RESOLVE_TIMEOUT_MS):
        qtbot.keyClick(editor.field_edit, Qt.Key.Key_Return)
        stale = list(window.timeline.stale_spans)
    settled(qtbot, window)
    assert window.project.keys[0].ease == pytest.approx(1.5) and window.timeline.key_timing == [(0, 30)]
    assert window.stack.undoText() == "Set ease of key pose 1"
    assert stale == [(10, 71)]  # the whole ease either side of the key
    eased = window.project.motion.copy()
    # 0.9 s before the key, outside the old 0.75 s ease, the motion now turns towards the pose.
    assert bone_direction_error(keyed[22], pose) - bone_direction_error(eased[22], pose) > 3
    assert bone_direction_error(eased[40], pose) < 3  # still through the key
    np.testing.assert_array_equal(eased[:10], keyed[:10])
    np.testing.assert_array_equal(eased[71:], keyed[71:])
    press(qtbot, window, window.timeline, Qt.Key.Key_Z, CTRL)
    assert window.timeline.key_timing == [(0, 15)]
    np.testing.assert_array_equal(window.project.motion, keyed)


def test_pins_are_saved_with_the_project_and_hold_after_it_is_opened_again(qtbot, walking_window, open_window,
                                                                           tmp_path):
    window = walking_window
    view = window.viewport.view
    press(qtbot, window, window.timeline, Qt.Key.Key_P)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=handle(window.viewport, J("left_ankle")))
    press(qtbot, window, view, Qt.Key.Key_H)
    assert window.project.pins == {"left_leg"} and window.stack.undoText() == "Pin left leg"
    assert window.isWindowModified()
    press(qtbot, window, view, Qt.Key.Key_S, CTRL)  # the project has a file: saved there
    assert not window.isWindowModified()
    assert load_project(window.path).pins == {"left_leg"}

    # Opened again, the pin holds: the pelvis dragged down leaves the left foot where it was.
    again = open_window(window.path, recover="no")
    assert again.viewport.editor.pinned == {"left_leg"}
    scrub(qtbot, again, 30)
    again.viewport.set_view("front")
    press(qtbot, again, again.timeline, Qt.Key.Key_P)
    figure = again.viewport.posed_joints().copy()
    start = handle(again.viewport, 0)
    with qtbot.waitSignal(again.resolver.worker.finished, timeout=RESOLVE_TIMEOUT_MS):
        drag(qtbot, again.viewport.view, start, start + QPoint(0, 30))
    posed = again.viewport.posed_joints()
    assert posed[0, 1] < figure[0, 1] - 0.05
    np.testing.assert_allclose(posed[J("left_ankle")], figure[J("left_ankle")], atol=1e-6)
    assert posed[J("right_ankle"), 1] < figure[J("right_ankle"), 1] - 0.05

    # Undo lets go of the pin (one step); a file written before pins opens with none.
    press(qtbot, window, window.timeline, Qt.Key.Key_Z, CTRL)
    assert window.project.pins == frozenset() and window.viewport.editor.pinned == set()
    document = json.loads(window.path.read_text())
    del document["pins"]
    old = tmp_path / "before_pins.keymask.json"
    old.write_text(json.dumps(document))
    opened = open_window(old, recover="no")
    assert opened.project.pins == frozenset() and opened.viewport.editor.pinned == set()
    assert opened.project.motion.shape == (60, 22, 3) and not opened.error_label.isVisible()


def test_a_run_of_arrow_turns_of_one_joint_is_one_undo_step(qtbot, walking_window):
    window = walking_window
    viewport, view = window.viewport, window.viewport.view
    source = window.project.motion.copy()
    press(qtbot, window, window.timeline, Qt.Key.Key_P)
    elbow = J("right_elbow")
    figure = source[30].astype(np.float64)  # the figure posed: the walk's at the playhead
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=handle(viewport, elbow))
    steps = window.stack.count()

    # Three presses of Left, without waiting for the re-solves: one new undo step, the forearm turned 15 degrees.
    focus(qtbot, window, view)
    for _ in range(3):
        qtbot.keyClick(view, Qt.Key.Key_Left)
    settled(qtbot, window)
    assert window.stack.count() == steps + 1 and window.frame == 30
    assert window.stack.undoText() == "Rotate right elbow in 3D (new key pose)"
    forward, _ = viewport.view_axes()
    expected = rotate_joint(figure, elbow, -forward, 3 * ARROW_STEP)
    key = window.project.keys[0].pose3d.joints
    assert bone_direction_error(key, canonical_pose(expected)) < 0.1
    assert bone_direction_error(key, canonical_pose(figure)) > 1
    turned = window.project.motion.copy()
    assert bone_direction_error(turned[30], key) < 1  # re-solved through the last turn, not an earlier one

    # Another joint starts a new step.
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=handle(viewport, J("left_elbow")))
    focus(qtbot, window, view)
    qtbot.keyClick(view, Qt.Key.Key_Left)
    settled(qtbot, window)
    assert window.stack.count() == steps + 2 and window.stack.undoText() == "Rotate left elbow in 3D"

    # Two Ctrl+Z: no key and the walk as it was; redo gives back the whole run and its motion.
    qtbot.keyClick(view, Qt.Key.Key_Z, CTRL)
    np.testing.assert_array_equal(window.project.motion, turned)
    qtbot.keyClick(view, Qt.Key.Key_Z, CTRL)
    assert window.project.keys == []
    np.testing.assert_array_equal(window.project.motion, source)
    window.redo_action.trigger()
    np.testing.assert_array_equal(window.project.keys[0].pose3d.joints, key)
    np.testing.assert_array_equal(window.project.motion, turned)


def test_a_project_file_pinning_something_that_is_no_limb_is_refused_in_one_sentence():
    from keymask.studio.project import ProjectFileError, project_from_json, project_to_json

    document = project_to_json(Project(pins=frozenset({"right_arm"})))
    assert document["pins"] == ["right_arm"] and project_from_json(document).pins == {"right_arm"}
    document["pins"] = ["right_arm", "tail"]
    with pytest.raises(ProjectFileError, match=r'^Project file <data> pins "tail", which is not a limb: pin '
                                                r'left_arm, right_arm, left_leg, right_leg\.$'):
        project_from_json(document)
