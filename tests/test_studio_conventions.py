"""Conventions animators know (issue 14), driven with real keys and mouse events on the real window (pytest-qt
under Xvfb): I and K key the pose the 3D figure shows at the playhead from any panel, Shift+I and Shift+K the
2D drawing; the progress bar is hidden while no job runs, its place kept."""

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication, QDoubleSpinBox, QFileDialog

from keymask.core.spec import HUMANML3D
from keymask.studio.pose_canvas import default_pose
from keymask.studio.posing import key_figure
from keymask.studio.project import Project, save_project
from test_studio_app import focus, open_window, scrub, studio_folders, walking_project, waving_walk  # noqa: F401
from test_studio_first_session import in_window

FPS = HUMANML3D.fps
SHIFT = Qt.KeyboardModifier.ShiftModifier
RESOLVE_TIMEOUT_MS = 30_000


@pytest.fixture
def wave_window(open_window, tmp_path):
    """A window on a saved project holding a 4 s motion: the skeleton walking and raising its right arm."""
    path = tmp_path / "wave.keymask.json"
    save_project(path, Project(prompt="a person walks and raises an arm", seconds=4.0,
                               motions=[waving_walk(80).astype(np.float32)]))
    return open_window(path, recover="no")


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
