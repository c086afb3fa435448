"""Conventions animators know (issue 14), driven with real keys and mouse events on the real window (pytest-qt
under Xvfb): I and K key the pose the 3D figure shows at the playhead from any panel, Shift+I and Shift+K the
2D drawing; a 3D key shows on the 2D canvas seen from the front, and a drag there makes it a 2D key; the
progress bar is hidden while no job runs, its place kept."""

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtWidgets import QApplication, QDoubleSpinBox, QFileDialog

from keymask.core.spec import HUMANML3D
from keymask.studio.panels import CAPTION_3D_KEY
from keymask.studio.pose_canvas import default_pose, front_view_pose
from keymask.studio.posing import key_figure
from test_studio_app import (RIGHT_WRIST, drag, focus, open_window, scrub, studio_folders,  # noqa: F401
                             walking_project)
from test_studio_first_session import in_window
from test_studio_key_edits import RESOLVE_TIMEOUT_MS, wave_window  # noqa: F401

FPS = HUMANML3D.fps
SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL = Qt.KeyboardModifier.ControlModifier


def settled(qtbot, window) -> None:
    """Wait until no stretch is being re-solved."""
    qtbot.waitUntil(lambda: not window.timeline.stale_spans, timeout=RESOLVE_TIMEOUT_MS)


def key_in_focus(qtbot, window, key, modifiers=Qt.KeyboardModifier.NoModifier) -> tuple[np.ndarray, np.ndarray]:
    """Press `key` where the keyboard focus is: (the chosen figure as the 3D view drew it, the motion), just
    before."""
    settled(qtbot, window)
    figure = window.viewport.drawn_joints(window.project.chosen_sample) - window.viewport.chosen_offset()
    motion = window.project.motion.copy()
    qtbot.keyClick(QApplication.focusWidget(), key, modifiers)
    return figure, motion


def test_i_and_k_key_the_pose_the_3d_figure_shows_from_any_panel(qtbot, wave_window):
    window = wave_window

    # Tab out of the prompt (to the length box, a number field): I keys the figure's pose at the playhead.
    focus(qtbot, window, window.prompt_edit)
    window.set_frame(20)
    qtbot.keyClick(window.prompt_edit, Qt.Key.Key_Tab)
    assert isinstance(QApplication.focusWidget(), QDoubleSpinBox)
    shown = [key_in_focus(qtbot, window, Qt.Key.Key_I)]
    # From the dope sheet, K; from the 2D canvas, I.
    focus(qtbot, window, window.timeline)
    scrub(qtbot, window, 45)
    shown.append(key_in_focus(qtbot, window, Qt.Key.Key_K))
    focus(qtbot, window, window.canvas)
    window.set_frame(70)
    shown.append(key_in_focus(qtbot, window, Qt.Key.Key_I))
    settled(qtbot, window)

    assert [k.frame() for k in window.project.keys] == [20, 45, 70] and window.selected_key == 2
    assert window.stack.undoText() == "Add key pose" and window.seconds_spin.value() == 4.0
    for key, (figure, motion) in zip(window.project.keys, shown):
        assert key.pose2d is None  # a 3D key: the figure's joints, where it stands, as the 3D view drew them
        np.testing.assert_allclose(key_figure(key, motion, FPS), figure, atol=1e-4)
        np.testing.assert_allclose(key.pose3d.root_position, figure[0], atol=1e-6)

    # Shift+K (or Shift+I) keys the 2D drawing instead: the canvas's pose, lifted.
    focus(qtbot, window, window.seed_spin)
    window.set_frame(10)
    drawing = window.canvas.pose()
    key_in_focus(qtbot, window, Qt.Key.Key_K, SHIFT)
    key = window.project.keys[-1]
    assert key.frame() == 10 and key.pose2d is not None
    np.testing.assert_allclose(key.pose2d.keypoints, drawing.keypoints)
    focus(qtbot, window, window.timeline)
    window.set_frame(30)
    key_in_focus(qtbot, window, Qt.Key.Key_I, SHIFT)
    assert window.project.keys[-1].frame() == 30 and window.project.keys[-1].pose2d is not None
    assert window.key_actions["key_pose"].shortcuts()[0].toString() == "I"
    assert [s.toString() for s in window.key_actions["add_drawing"].shortcuts()] == ["Shift+I", "Shift+K"]
    settled(qtbot, window)


def test_without_a_motion_i_keys_the_drawing_and_says_so(qtbot, open_window):
    window = open_window(recover="no")
    focus(qtbot, window, window.timeline)
    qtbot.keyClick(window.timeline, Qt.Key.Key_I)
    assert len(window.project.keys) == 1 and window.project.keys[0].pose2d is not None
    np.testing.assert_allclose(window.project.keys[0].pose2d.keypoints, default_pose((512, 512)).keypoints)
    assert window.statusBar().currentMessage() == (
        "No motion yet, so the 2D drawing was keyed (after Generate, I and K key the 3D figure's pose).")


def test_the_canvas_draws_a_3d_key_from_the_front_and_a_drag_there_makes_it_a_2d_key(qtbot, wave_window):
    window = wave_window
    focus(qtbot, window, window.timeline)
    scrub(qtbot, window, 60)
    with qtbot.waitSignal(window.resolver.worker.finished, timeout=RESOLVE_TIMEOUT_MS):
        qtbot.keyClick(window.timeline, Qt.Key.Key_K)
    settled(qtbot, window)
    key = window.project.keys[0]
    assert key.pose2d is None

    # The canvas shows the key's own pose seen from the front (its right arm raised to the side), captioned.
    drawn = window.canvas.pose()
    np.testing.assert_allclose(drawn.keypoints, front_view_pose(key.pose3d, drawn.canvas).keypoints)
    assert window.canvas.caption() == CAPTION_3D_KEY and "a 3D key, drawn from the front" in window.key_label.text()
    a_pose = default_pose(drawn.canvas).keypoints
    assert not np.allclose(drawn.keypoints, a_pose, atol=20)
    right_wrist, left_wrist, right_shoulder = drawn.keypoints[[RIGHT_WRIST, 7, 2]]
    assert right_wrist[0] < right_shoulder[0] < left_wrist[0]  # the figure's right on the image's left
    assert right_shoulder[0] - right_wrist[0] > right_wrist[1] - right_shoulder[1]  # raised out to the side

    # A drag of the right wrist on the canvas makes it a 2D key (lifted from the drawing, standing where
    # the key stood), which the undo text and the status line say; one undo gives the 3D key back.
    start = window.canvas.joint_position(RIGHT_WRIST).toPoint()
    with qtbot.waitSignal(window.resolver.worker.finished, timeout=RESOLVE_TIMEOUT_MS):
        drag(qtbot, window.canvas, start, start + QPoint(0, -60))
    settled(qtbot, window)
    made_2d = window.project.keys[0]
    assert made_2d.pose2d is not None and made_2d.pose2d.keypoints[RIGHT_WRIST][1] < right_wrist[1] - 30
    assert window.stack.undoText() == "Move right wrist (3D key made 2D)"
    assert window.statusBar().currentMessage().startswith("Key pose 1 is a 2D key now")
    np.testing.assert_allclose(made_2d.pose3d.root_position, key.pose3d.root_position)
    assert made_2d.pose3d.facing == key.pose3d.facing
    assert window.canvas.caption() == "" and "3D key" not in window.key_label.text()
    focus(qtbot, window, window.timeline)
    qtbot.keyClick(window.timeline, Qt.Key.Key_Z, CTRL)
    settled(qtbot, window)
    assert window.project.keys[0] is key and window.canvas.caption() == CAPTION_3D_KEY

    # With no key selected the canvas is a drawing again, without the caption.
    qtbot.keyClick(window.timeline, Qt.Key.Key_Escape)
    assert window.selected_key is None and window.canvas.caption() == ""


def test_the_progress_bar_is_hidden_while_no_job_runs_and_keeps_its_place(qtbot, open_window, tmp_path, monkeypatch):
    window = open_window(walking_project(tmp_path), recover="no")
    bar, message = window.progress_bar, window.message_label

    def places() -> tuple:
        """Where the bar is, and where the line under it starts (its height follows its text)."""
        return in_window(bar), in_window(message).topLeft()

    qtbot.wait(50)  # laid out
    idle = places()
    assert bar.isHidden() and idle[0].height() > 0 and idle[0].bottom() < idle[1].y()

    out = tmp_path / "walk.bvh"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(out), ""))
    during = []
    window.jobs.worker.progress.connect(lambda *args: during.append((bar.isVisible(), places())))
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=60_000):
        qtbot.mouseClick(window.export_buttons["bvh"], Qt.MouseButton.LeftButton)
    assert out.exists() and during
    assert all(visible and shown_at == idle for visible, shown_at in during)  # shown in its place: nothing moved
    assert bar.isHidden() and places() == idle
