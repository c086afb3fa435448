"""The studio window driven as an animator drives it (pytest-qt on the real widgets, under Xvfb from
pytest-xvfb; never QT_QPA_PLATFORM=offscreen, where the GL view has no context): prompt, key poses on
the timeline, joint drags, generation with the shipped model, scrubbing, undo/redo, projects, export,
errors, and recovery after the studio is killed with SIGKILL."""

import gc
import json
from datetime import datetime
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import QEvent, QMimeData, QObject, QPoint, QPointF, QRect, QSize, Qt, QUrl
from PyQt6.QtGui import QDragEnterEvent, QDropEvent
from PyQt6.QtGui import QColor, QImage
from PyQt6.QtWidgets import QApplication, QDialog, QDialogButtonBox, QFileDialog, QMessageBox, QWidget

from keymask.core.bvh.reader import read_bvh
from keymask.conditioning.pose_files import write_keypose3d, write_pose2d
from keymask.core.bvh.convert import bvh_file_to_joints
from keymask.studio.main_window import FOCUS_COLOUR, MainWindow
from keymask.studio.pose_canvas import default_pose
from keymask.conditioning.refine import bone_direction_error
from keymask.core.skeleton import HUMANML3D_SKELETON, target_offsets
from keymask.studio.project import Project, project_to_json, recovery_path, save_project
from keymask.studio.settings import SettingsDialog, WeightLocations, load_locations, save_locations
from keymask.studio.timeline import RULER_HEIGHT

PHOTO = Path(__file__).parent / "data" / "person.jpg"  # one person facing the camera
GENERATION_TIMEOUT_MS = 120_000
RIGHT_WRIST = 4


@pytest.fixture(autouse=True)
def studio_folders(tmp_path, monkeypatch):
    """Recovery files and settings in the test's own folder."""
    monkeypatch.setenv("KEYMASK_STUDIO_RECOVERY_DIR", str(tmp_path / "recovery"))
    monkeypatch.setenv("KEYMASK_STUDIO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("KEYMASK_MODEL", raising=False)


@pytest.fixture
def open_window(qtbot):
    """A function that opens a studio window; every window is closed (its worker thread stopped)
    and deleted at the test's end, then garbage is collected there, not in the middle of the
    next test's painting."""
    opened = []

    def open_(*args, **kwargs) -> MainWindow:
        window = MainWindow(*args, **kwargs)
        window.confirm_close = False
        qtbot.addWidget(window)
        opened.append(window)
        window.show()
        qtbot.waitExposed(window)
        return window

    yield open_
    for window in opened:
        window.close()
        window.deleteLater()
    qtbot.wait(50)
    opened.clear()
    gc.collect()


@pytest.fixture
def window(open_window) -> MainWindow:
    return open_window(recover="no")


def ruler_point(window: MainWindow, frame: int) -> QPoint:
    return QPoint(round(window.timeline.x_of(frame)), RULER_HEIGHT // 2)


def scrub(qtbot, window: MainWindow, frame: int) -> None:
    qtbot.mouseClick(window.timeline, Qt.MouseButton.LeftButton, pos=ruler_point(window, frame))


def drag(qtbot, widget, start: QPoint, end: QPoint, steps: int = 4) -> None:
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=start)
    for i in range(1, steps + 1):
        qtbot.mouseMove(widget, start + (end - start) * (i / steps))
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=end)


def generate(qtbot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=GENERATION_TIMEOUT_MS):
        qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
    assert not window.error_label.isVisible(), window.error_label.text()


def add_drawing_with_shift_k(qtbot, window: MainWindow, frame: int) -> None:
    """The 2D canvas's drawing as a key at `frame` (Shift+K; K keys the 3D figure's pose once there is a motion)."""
    scrub(qtbot, window, frame)
    qtbot.keyClick(window.timeline, Qt.Key.Key_K, Qt.KeyboardModifier.ShiftModifier)


def drag_joint(qtbot, window: MainWindow, joint: int, offset: QPoint) -> None:
    start = window.canvas.joint_position(joint).toPoint()
    drag(qtbot, window.canvas, start, start + offset)


def focus(qtbot, window: MainWindow, widget) -> None:
    """Give `widget` the keyboard focus of the active window (where the keys a test presses go)."""
    window.activateWindow()
    widget.setFocus(Qt.FocusReason.OtherFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget, timeout=5000)


def walk(frames: int, sway: float = 0.0) -> np.ndarray:
    """(T, 22, 3) float32: the target skeleton walking forward at 1 m/s (+Z), swaying sideways."""
    offsets, rest = target_offsets(), np.zeros((22, 3))
    for child, parent in enumerate(HUMANML3D_SKELETON.parents):
        if parent >= 0:
            rest[child] = rest[parent] + offsets[child]
    rest[:, 1] -= rest[:, 1].min()
    t = np.arange(frames) / 20
    motion = np.repeat(rest[None], frames, axis=0)
    motion[..., 2] += t[:, None]
    motion[..., 0] += sway * np.sin(2 * t)[:, None]
    return motion.astype(np.float32)


def walking_project(folder: Path, samples: int = 1, frames: int = 60) -> Path:
    """A saved project with `samples` walks already made (no generation needed to open it)."""
    path = folder / "walk.keymask.json"
    save_project(path, Project(prompt="a person walks", seconds=frames / 20, samples=samples,
                               motions=[walk(frames, sway=0.3 * i) for i in range(samples)]))
    return path


def camera(window: MainWindow) -> tuple:
    opts = window.viewport.view.opts
    centre = opts["center"]
    return (opts["elevation"], opts["azimuth"], opts["distance"], (centre.x(), centre.y(), centre.z()))


def colour_pixels(image: QImage, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    """How many pixels of `image` are within `tolerance` of the colour `rgb`."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8)
    pixels = rows.reshape(image.height(), image.bytesPerLine())[:, :image.width() * 3].reshape(-1, 3).astype(int)
    return int((np.abs(pixels - rgb).max(axis=1) <= tolerance).sum())


# ---- the main job --------------------------------------------------------------------------------

def test_prompt_key_poses_generate_scrub_undo_and_redo(qtbot, window):
    # Type a prompt: one undo step however many keys were typed.
    qtbot.keyClicks(window.prompt_edit, "a person waves with the right hand")
    assert window.project.prompt == "a person waves with the right hand"
    assert window.stack.count() == 1 and window.windowTitle().startswith("untitled")
    window.estimate_box.setChecked(False)
    window.seconds_spin.setValue(4.0)
    assert window.project.seconds == 4.0

    # Two key poses of the drawing at the playhead, from the timeline's Shift+K and from the button.
    add_drawing_with_shift_k(qtbot, window, 20)
    scrub(qtbot, window, 50)
    qtbot.mouseClick(window.add_key_button, Qt.MouseButton.LeftButton)
    assert [k.frame() for k in window.project.keys] == [20, 50]
    assert window.timeline.keys == [20, 50] and window.selected_key == 1

    # Drag the right wrist up: the 2D pose and its lift change; one undo step gives both back.
    before = window.project.keys[1]
    drag_joint(qtbot, window, RIGHT_WRIST, QPoint(30, -90))
    after = window.project.keys[1]
    assert after.pose2d.keypoints[RIGHT_WRIST][1] < before.pose2d.keypoints[RIGHT_WRIST][1] - 50
    assert not np.allclose(after.pose3d.joints, before.pose3d.joints)
    assert window.stack.undoText() == "Move right wrist"
    window.undo_action.trigger()
    assert window.project.keys[1] is before
    np.testing.assert_allclose(window.canvas.pose().keypoints, before.pose2d.keypoints)
    window.redo_action.trigger()
    assert window.project.keys[1] is after

    # Drag the first key's marker from 1.0 s to 1.5 s.
    marker = window.timeline.marker_centre(0).toPoint()
    drag(qtbot, window.timeline, marker, QPoint(round(window.timeline.x_of(30)), marker.y()))
    assert window.project.keys[0].time == pytest.approx(1.5) and window.timeline.keys == [30, 50]

    # Generate with the shipped model (numpy backend, no torch).
    generate(qtbot, window)
    assert len(window.project.motions) == 1 and window.project.motion.shape == (80, 22, 3)
    assert window.viewport.motion_count == 1 and window.timeline.length == 80
    assert "seed 0" in window.message_label.text()
    ghosts = window.viewport.drawn_ghosts()
    assert len(ghosts) == 2  # placed where the motion is at the key frames
    np.testing.assert_allclose(ghosts[0][0, [0, 2]], window.project.motion[30, 0, [0, 2]], atol=1e-6)

    # Scrub: the viewport, the timeline and the playback controls follow.
    scrub(qtbot, window, 40)
    assert window.frame == 40 and window.viewport.frame == 40 and window.playback.frame == 40
    np.testing.assert_allclose(window.viewport.drawn_joints(0), window.project.motion[40], atol=1e-6)

    # Undo everything back to an empty project, then redo it all.
    final = project_to_json(window.project)
    steps = window.stack.count()
    while window.stack.canUndo():
        window.undo_action.trigger()
    assert window.project.prompt == "" and window.project.keys == [] and window.project.motion is None
    assert window.prompt_edit.toPlainText() == "" and window.viewport.motion_count == 0
    for _ in range(steps):
        window.redo_action.trigger()
    assert project_to_json(window.project) == final
    assert window.prompt_edit.toPlainText() == "a person waves with the right hand"


def test_samples_side_by_side_or_overlaid_and_the_chosen_one(qtbot, window):
    qtbot.keyClicks(window.prompt_edit, "a person walks forward")
    window.samples_spin.setValue(3)
    window.advanced_button.click()
    assert window.advanced.isVisible()
    window.steps_spin.setValue(6)
    window.guidance_spin.setValue(3.0)
    assert (window.project.samples, window.project.steps, window.project.guidance) == (3, 6, 3.0)
    stages = []
    window.jobs.worker.progress.connect(lambda stage, done, total: stages.append(stage))
    generate(qtbot, window)
    assert {"tokens", "residual", "decode"} <= set(stages)
    assert window.viewport.motion_count == 3 and window.sample_box.count() == 3
    side = [window.viewport.drawn_joints(i)[0, 0] for i in range(3)]
    assert side[0] < side[1] < side[2]  # laid out left to right
    window.layout_box.setCurrentIndex(1)
    assert window.viewport.layout_mode == "overlay"
    window.sample_box.setCurrentIndex(2)
    assert window.project.chosen_sample == 2 and window.viewport.selected == 2
    np.testing.assert_array_equal(window.project.motion, window.project.motions[2])
    window.undo_action.trigger()
    assert window.project.chosen_sample == 0 and window.sample_box.currentIndex() == 0


def test_an_unlearned_action_is_said_beside_the_result(qtbot, window):
    qtbot.keyClicks(window.prompt_edit, "someone does a cartwheel")
    window.estimate_box.setChecked(False)
    window.seconds_spin.setValue(2.0)
    generate(qtbot, window)
    assert window.viewport.motion_count == 1
    assert "has not learned" in window.message_label.text() and "nearest known actions" in window.message_label.text()


def test_how_a_prompt_of_actions_in_turn_is_made_is_said_beside_the_result(qtbot, window):
    qtbot.keyClicks(window.prompt_edit, "a person walks forward, then bows")
    window.estimate_box.setChecked(False)
    window.seconds_spin.setValue(4.0)
    generate(qtbot, window)
    assert window.viewport.motion_count == 1 and len(window.project.motion) == 80
    assert "is made as 2 actions in turn: a person walks forward | a person bows." in window.message_label.text()


def test_with_the_estimate_on_the_greyed_length_shows_the_length_the_motion_got(qtbot, window):
    qtbot.keyClicks(window.prompt_edit, "a person walks forward slowly, turns around and walks back")
    assert window.estimate_box.isChecked() and not window.seconds_spin.isEnabled()
    before = window.seconds_spin.value()
    generate(qtbot, window)
    seconds = len(window.project.motion) / 20
    assert round(seconds, 1) != before  # the estimate chose another length than the box showed
    assert window.seconds_spin.value() == pytest.approx(seconds, abs=0.05)
    assert window.estimate_box.isChecked() and not window.seconds_spin.isEnabled()
    assert window.project.seconds is None  # shown, not typed: the next generation estimates again
    window.stack.undo()  # back to no motion: the box keeps its value, still greyed
    assert not window.seconds_spin.isEnabled()


def test_keep_spans_regenerate_only_the_rest(qtbot, window):
    qtbot.keyClicks(window.prompt_edit, "a person walks forward")
    window.estimate_box.setChecked(False)
    window.seconds_spin.setValue(3.0)
    generate(qtbot, window)
    source = window.project.motion.copy()
    keep_first_second(qtbot, window)
    assert window.generate_button.text() == "Regenerate outside kept spans"
    window.prompt_edit.setPlainText("a person waves")
    generate(qtbot, window)
    edited = window.project.motion
    np.testing.assert_allclose(edited[:20], source[:20], atol=1e-5)  # the kept second is copied exactly
    assert not np.allclose(edited[30:], source[30:len(edited)], atol=1e-3)
    assert window.stack.undoText() == "Regenerate outside kept spans"


def keep_first_second(qtbot, window: MainWindow) -> None:
    """Shift + drag over the timeline's first second: a keep span [0, 1) s."""
    y = window.timeline.height() - 8
    qtbot.mousePress(window.timeline, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                     QPoint(round(window.timeline.x_of(0)), y))
    qtbot.mouseMove(window.timeline, QPoint(round(window.timeline.x_of(10)), y))
    qtbot.mouseMove(window.timeline, QPoint(round(window.timeline.x_of(19)), y))
    qtbot.mouseRelease(window.timeline, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                       QPoint(round(window.timeline.x_of(19)), y))
    assert window.project.keep_spans == [(0.0, 1.0)]


def test_regenerating_outside_kept_spans_keeps_the_length_and_passes_the_keys(qtbot, window):
    qtbot.keyClicks(window.prompt_edit, "a person walks forward")
    window.estimate_box.setChecked(False)
    window.seconds_spin.setValue(4.0)
    generate(qtbot, window)
    assert len(window.project.motion) == 80
    keep_first_second(qtbot, window)
    source = window.project.motion.copy()
    # A key at 2.5 s, added after the first generation, with the right wrist raised high.
    add_drawing_with_shift_k(qtbot, window, 50)
    drag_joint(qtbot, window, RIGHT_WRIST, QPoint(40, -200))
    key = window.project.keys[0]
    assert bone_direction_error(source[50], key.pose3d.joints) > 10  # the motion does not show the key yet

    jobs = []
    window.jobs.worker.finished.connect(lambda job, result: jobs.append(job))
    for seed in (1, 2):
        window.seed_spin.setValue(seed)
        generate(qtbot, window)
        edited = window.project.motion
        assert edited.shape == (80, 22, 3) and window.timeline.length == 80 and window.seconds_spin.value() == 4.0
        np.testing.assert_array_equal(edited[:20], source[:20])  # the kept second, exactly
        assert [(k.frame, k.constrain) for k in jobs[-1].keys] == [(50, "body")] and jobs[-1].keep == ((0, 20),)
        assert bone_direction_error(edited[50], key.pose3d.joints) < 3  # passes through the key
        assert window.stack.undoText() == "Regenerate outside kept spans"
        assert "key pose" not in window.message_label.text()
    # A key on a kept frame stays as the kept motion has it, and the message says so.
    add_drawing_with_shift_k(qtbot, window, 10)
    generate(qtbot, window)
    np.testing.assert_array_equal(window.project.motion[:20], source[:20])
    assert len(window.project.motion) == 80 and "1 key pose(s) in kept spans" in window.message_label.text()


# ---- projects and export -------------------------------------------------------------------------

def test_a_saved_project_reopens_to_the_same_state(qtbot, window, open_window, tmp_path):
    qtbot.keyClicks(window.prompt_edit, "a person bows")
    window.seed_spin.setValue(11)
    add_drawing_with_shift_k(qtbot, window, 24)
    drag_joint(qtbot, window, RIGHT_WRIST, QPoint(-20, -60))
    window.constrain_box.setCurrentText("root")
    window.fps_spin.setValue(30)
    generate(qtbot, window)
    path = tmp_path / "bow.keymask.json"
    window.save_to(path)
    assert window.stack.isClean() and not window.isWindowModified() and "bow.keymask.json" in window.windowTitle()
    assert not window.recovery_file.exists()  # nothing unsaved, nothing to recover

    reopened = open_window(path, recover="no")
    assert project_to_json(reopened.project) == project_to_json(window.project)
    assert reopened.prompt_edit.toPlainText() == "a person bows" and reopened.seed_spin.value() == 11
    assert reopened.timeline.keys == [24] and reopened.viewport.motion_count == 1
    assert reopened.fps_spin.value() == 30 and not reopened.stack.canUndo()
    reopened.select_key(0)
    assert reopened.constrain_box.currentText() == "root"
    np.testing.assert_allclose(reopened.canvas.pose().keypoints, window.project.keys[0].pose2d.keypoints, atol=1e-6)


def test_export_writes_a_bvh_that_reads_back_and_npy_and_gif(qtbot, window, tmp_path):
    qtbot.keyClicks(window.prompt_edit, "a person waves")
    window.estimate_box.setChecked(False)
    window.seconds_spin.setValue(2.0)
    generate(qtbot, window)
    frames = len(window.project.motion)
    for kind, fps, units in (("bvh", 20, "m"), ("bvh30", 30, "cm")):
        window.fps_spin.setValue(fps)
        window.units_box.setCurrentText(units)
        path = tmp_path / f"{kind}.bvh"
        with qtbot.waitSignal(window.jobs.worker.finished, timeout=60_000):
            window.foreground_jobs.export_to(path, "bvh")
        motion = read_bvh(path)
        assert motion.n_frames == (frames if fps == 20 else (frames - 1) * 3 // 2 + 1)
        assert motion.frame_time == pytest.approx(1 / fps)
        assert str(path) in window.message_label.text()
        if fps == 20:  # the BVH's joints are the .npy written beside it
            np.testing.assert_allclose(bvh_file_to_joints(path), np.load(path.with_suffix(".npy")), atol=1e-4)
    for kind in ("npy", "gif"):
        with qtbot.waitSignal(window.jobs.worker.finished, timeout=60_000):
            window.foreground_jobs.export_to(tmp_path / f"motion.{kind}", kind)
    np.testing.assert_array_equal(np.load(tmp_path / "motion.npy"), window.project.motion)
    assert (tmp_path / "motion.gif").read_bytes()[:6] == b"GIF89a"


def test_export_stays_in_view_down_to_1280_by_720(qtbot, window, monkeypatch, tmp_path):
    qtbot.keyClicks(window.prompt_edit, "someone does a cartwheel")  # an unlearned action: a long message
    window.estimate_box.setChecked(False)
    window.seconds_spin.setValue(2.0)
    generate(qtbot, window)
    assert "has not learned" in window.message_label.text()
    for width, height in ((1400, 860), (1280, 720)):
        window.resize(width, height)
        qtbot.waitUntil(lambda: window.size() == QSize(width, height), timeout=5000)
        qtbot.wait(50)
        for button in (*window.export_buttons.values(), window.fps_spin, window.generate_button):
            box = QRect(button.mapTo(window, QPoint(0, 0)), button.size())
            assert button.isVisible() and window.rect().contains(box), (button, box, window.size())
            assert not button.visibleRegion().isEmpty() and button.visibleRegion().boundingRect() == button.rect()
        assert window.side_panel.width() <= 0.36 * width  # the 3D view keeps most of the window
        assert window.viewport.width() > 0.55 * width
    # Clicked where it is, it exports (the file dialog answers with a path).
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(tmp_path / "small.npy"), ""))
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=60_000):
        qtbot.mouseClick(window.export_buttons["npy"], Qt.MouseButton.LeftButton)
    np.testing.assert_array_equal(np.load(tmp_path / "small.npy"), window.project.motion)


# ---- jobs, errors ---------------------------------------------------------------------------------

def test_generation_can_be_cancelled_and_the_window_stays_responsive(qtbot, window):
    qtbot.keyClicks(window.prompt_edit, "a person runs")
    window.samples_spin.setValue(8)
    window.steps_spin.setValue(50)
    with qtbot.waitSignal(window.jobs.worker.cancelled, timeout=GENERATION_TIMEOUT_MS):
        qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
        assert window.foreground_jobs.busy and not window.generate_button.isEnabled()
        scrub(qtbot, window, 10)  # the event loop runs while the worker works
        assert window.frame == 10
        qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    assert window.message_label.text() == "Cancelled." and not window.foreground_jobs.busy
    assert window.project.motion is None and window.generate_button.isEnabled()


def test_errors_are_shown_as_sentences_never_a_crash(qtbot, window, tmp_path):
    qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
    assert window.error_label.text() == "Type what the person does first."

    broken = tmp_path / "broken.json"
    broken.write_text("{\"people\": [")
    window.load_pose(str(broken))
    assert "is not valid JSON" in window.error_label.text() and window.project.keys == []

    window.open_project(broken)
    assert window.error_label.text().startswith(f"Project file {broken} is not valid JSON")

    qtbot.keyClicks(window.prompt_edit, "a person jumps")
    window.add_key(20)
    window.add_key(21)  # the same 0.2 s token window
    with qtbot.waitSignal(window.jobs.worker.failed, timeout=GENERATION_TIMEOUT_MS):
        qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
    assert "same 0.2 s token window" in window.error_label.text() and not window.foreground_jobs.busy

    window.foreground_jobs.export_to(tmp_path / "x.bvh")
    assert "Generate a motion first" in window.error_label.text()


# ---- key poses from files, photos and text ----------------------------------------------------------

def drop_file(widget, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    for event in (QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                                  Qt.KeyboardModifier.NoModifier),
                  QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                             Qt.KeyboardModifier.NoModifier)):
        QApplication.sendEvent(widget, event)


def test_a_photo_dropped_on_the_canvas_becomes_a_key_pose(qtbot, window):
    scrub(qtbot, window, 16)
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=60_000):
        drop_file(window.canvas, PHOTO)
    assert not window.error_label.isVisible(), window.error_label.text()
    assert len(window.project.keys) == 1 and window.project.keys[0].frame() == 16
    key = window.project.keys[0]
    assert key.pose2d.canvas == (320, 480) and key.pose2d.present.sum() >= 14
    assert window.canvas.pose().canvas == (320, 480) and window.lifted_view.pose() is key.pose3d
    # With the key selected, a second photo replaces its pose: one undo step.
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=60_000):
        window.foreground_jobs.pose_from_photo(str(PHOTO))
    assert len(window.project.keys) == 1 and window.stack.undoText() == "Pose from photo"


def test_pose_files_mirror_and_reset(qtbot, window, tmp_path):
    pose = default_pose((400, 600))
    pose.keypoints[RIGHT_WRIST] = (60.0, 40.0)
    write_pose2d(tmp_path / "raised.json", pose)
    drop_file(window.canvas, tmp_path / "raised.json")  # no key selected: a key at the playhead
    assert len(window.project.keys) == 1 and window.selected_key == 0
    np.testing.assert_allclose(window.project.keys[0].pose2d.keypoints[RIGHT_WRIST], [60.0, 40.0])

    mirror_before = window.project.keys[0]
    qtbot.mouseClick(window.mirror_button, Qt.MouseButton.LeftButton)
    mirrored_key = window.project.keys[0]
    assert mirrored_key.pose2d.keypoints[7, 0] > 200 and window.stack.undoText() == "Mirror pose"  # left wrist
    qtbot.mouseClick(window.reset_button, Qt.MouseButton.LeftButton)
    np.testing.assert_allclose(window.project.keys[0].pose2d.keypoints, default_pose((400, 600)).keypoints)
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert window.project.keys[0] is mirror_before

    write_keypose3d(tmp_path / "pose3d.json", mirror_before.pose3d)
    window.load_pose(str(tmp_path / "pose3d.json"))
    assert window.project.keys[0].pose2d is None and "a 3D key" in window.key_label.text()
    np.testing.assert_allclose(window.project.keys[0].pose3d.joints, mirror_before.pose3d.joints, atol=1e-6)
    qtbot.mouseClick(window.delete_key_button, Qt.MouseButton.LeftButton)
    assert window.project.keys == [] and window.selected_key is None and window.timeline.keys == []


def test_imagined_poses_need_stable_diffusion_and_come_back_as_key_poses(qtbot, window, tmp_path, monkeypatch):
    assert not window.imagine_button.isEnabled()
    assert "Stable Diffusion weights were not found" in window.imagine_button.toolTip()

    from keymask.conditioning import imagine

    def imagined(prompt, **options):  # stands in for Stable Diffusion + OpenPose, which are tested elsewhere
        return imagine.ImaginedPose(pose=default_pose((512, 512)), image=np.zeros((512, 512, 3), np.uint8))

    monkeypatch.setattr(imagine, "imagine_pose", imagined)
    window.locations = WeightLocations(sd_dir=str(fake_stable_diffusion(tmp_path / "sd")))
    window.show_imagine_state()
    assert window.imagine_button.isEnabled()
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=60_000):
        window.foreground_jobs.imagine("a dancer in arabesque")
    assert len(window.project.keys) == 1 and window.message_label.text() == "Pose found."


def fake_stable_diffusion(folder: Path) -> Path:
    """A folder laid out as a diffusers Stable Diffusion 1.5 model (empty files)."""
    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        (folder / part).mkdir(parents=True)
    for part in ("unet", "vae", "text_encoder"):
        (folder / part / "diffusion_pytorch_model.safetensors").touch()
    (folder / "model_index.json").write_text("{}")
    return folder


def test_the_settings_dialog_says_what_is_available(qtbot, tmp_path):
    assert load_locations() == WeightLocations()
    dialog = SettingsDialog(WeightLocations())
    qtbot.addWidget(dialog)
    assert dialog.states["model"].text() == "The shipped default model."
    assert "Stable Diffusion weights were not found" in dialog.states["sd_dir"].text()
    assert "only official MoMask checkpoints need it" in dialog.states["clip_weights"].text()
    dialog.edits["sd_dir"].setText(str(fake_stable_diffusion(tmp_path / "sd")))
    assert dialog.states["sd_dir"].text().startswith("Stable Diffusion found")
    dialog.edits["model"].setText(str(tmp_path / "nowhere"))
    assert dialog.states["model"].text().endswith("does not exist.")
    dialog.edits["clip_weights"].setText(str(tmp_path))
    assert dialog.states["clip_weights"].text().endswith("is not a file.")
    save_locations(dialog.locations())
    assert load_locations() == dialog.locations()
    assert (tmp_path / "config" / "studio.ini").exists()


def test_the_settings_dialog_refuses_a_location_it_shows_as_unusable(qtbot, tmp_path):
    dialog = SettingsDialog(WeightLocations())
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.edits["model"].setText(str(tmp_path / "nowhere"))
    ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.refusal.text() == f"Not saved. Generation model: {tmp_path / 'nowhere'} does not exist."
    dialog.edits["model"].clear()  # back to the shipped model: saved
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible() and dialog.result() == QDialog.DialogCode.Accepted and not dialog.refusal.text()


def test_a_missing_model_is_a_readable_error(qtbot, window, tmp_path):
    window.jobs.worker.set_model(str(tmp_path / "no_model"), None)
    qtbot.keyClicks(window.prompt_edit, "a person waves")
    with qtbot.waitSignal(window.jobs.worker.failed, timeout=60_000):
        qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
    assert window.error_label.text() == f"The model folder does not exist: {tmp_path / 'no_model'}."


# ---- recovery --------------------------------------------------------------------------------------

def test_unsaved_edits_are_offered_back_on_the_next_start(qtbot, open_window, tmp_path):
    first = open_window(recover="no")
    qtbot.keyClicks(first.prompt_edit, "a person turns around")
    first.add_key(30)
    assert first.recovery_file.exists()
    edits = project_to_json(first.project)

    restored = open_window(recover="yes")
    assert project_to_json(restored.project) == edits and restored.isWindowModified()
    assert restored.message_label.text() == "Restored the unsaved edits."
    assert open_window(recover="no").project.prompt == ""


def test_unsaved_edits_of_a_saved_project_come_back_with_it(qtbot, open_window, tmp_path):
    path = tmp_path / "walk.keymask.json"
    first = open_window(recover="no")
    qtbot.keyClicks(first.prompt_edit, "a person walks")
    first.save_to(path)
    first.samples_spin.setValue(2)
    first.add_key(10)
    edits = project_to_json(first.project)
    assert first.recovery_file == recovery_path(path) and first.recovery_file.exists()

    restored = open_window(path, recover="yes")
    assert project_to_json(restored.project) == edits and restored.path == path
    assert restored.isWindowModified() and restored.windowTitle().startswith("walk.keymask.json")
    restored.save_to(path)
    assert not recovery_path(path).exists()
    assert open_window(path, recover="yes").message_label.text() == f"Opened {path}."


class Painted(QObject):
    """Records, in order, paints of `window`'s widgets and shows of message boxes (an application event filter)."""

    def __init__(self, window: MainWindow):
        super().__init__()
        self.window, self.events = window, []
        QApplication.instance().installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Paint and isinstance(watched, QWidget) and watched.window() is self.window:
            self.events.append("paint")
        elif event.type() == QEvent.Type.Show and isinstance(watched, QMessageBox):
            self.events.append("question")
        return False

    def stop(self) -> None:
        QApplication.instance().removeEventFilter(self)


@pytest.mark.parametrize("answer", ["Restore", "Discard"])
def test_the_studio_asks_before_restoring_over_the_drawn_window(qtbot, open_window, answer):
    first = open_window(recover="no")
    qtbot.keyClicks(first.prompt_edit, "a person bows")
    first.seconds_spin.setValue(3.5)
    first.estimate_box.setChecked(False)
    first.add_key(10)
    first.add_key(30)
    edited = datetime.fromtimestamp(first.recovery_file.stat().st_mtime)

    second = MainWindow()  # recover="ask": nothing is asked before the window is shown
    second.confirm_close = False
    qtbot.addWidget(second)
    assert second.recovery_dialog is None and second.project.prompt == ""
    painted = Painted(second)
    try:
        second.show()
        qtbot.waitUntil(lambda: second.recovery_dialog is not None and second.recovery_dialog.isVisible(),
                        timeout=5000)
    finally:
        painted.stop()
    assert "paint" in painted.events and painted.events.index("paint") < painted.events.index("question")
    dialog = second.recovery_dialog
    assert "Restore the unsaved edits?" in dialog.text()
    details = dialog.informativeText()
    assert f"Edited today at {edited:%H:%M}" in details
    assert '"a person bows", 2 key poses, 3.5 s, not generated yet' in details
    assert second.project.prompt == ""  # nothing restored until the answer
    button = next(b for b in dialog.buttons() if b.text() == answer)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    assert second.project.prompt == ("a person bows" if answer == "Restore" else "")
    assert len(second.project.keys) == (2 if answer == "Restore" else 0)
    assert first.recovery_file.exists() == (answer == "Restore")  # declined edits are not offered again
    second.close()


DRIVER = textwrap.dedent("""
    import json, sys
    from PyQt6.QtCore import QPoint, Qt, QTimer
    from PyQt6.QtTest import QTest
    from PyQt6.QtWidgets import QApplication, QMessageBox
    from keymask.studio.app import main
    from keymask.studio.project import project_to_json

    app = QApplication(sys.argv[:1])

    def edit():
        window = next(w for w in app.topLevelWidgets() if w.objectName() == "KeyMaskStudio")
        QTest.keyClicks(window.prompt_edit, "a person jumps over a puddle")
        window.seed_spin.setValue(7)
        window.samples_spin.setValue(2)
        window.set_frame(30)
        QTest.keyClick(window.timeline, Qt.Key.Key_K)
        start = window.canvas.joint_position(4).toPoint()
        QTest.mousePress(window.canvas, Qt.MouseButton.LeftButton, pos=start)
        for step in (1, 2, 3):
            QTest.mouseMove(window.canvas, start + QPoint(10 * step, -30 * step))
        QTest.mouseRelease(window.canvas, Qt.MouseButton.LeftButton, pos=start + QPoint(30, -90))
        print(json.dumps(project_to_json(window.project)), flush=True)

    QTimer.singleShot(0, edit)
    sys.exit(main(["--recover", "no"]))
""")


def test_a_killed_studio_loses_no_edit(qtbot, open_window, tmp_path):
    process = subprocess.Popen([sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=dict(os.environ))
    try:
        line = process.stdout.readline()
        assert line, process.stderr.read()[-3000:]
        edits = json.loads(line)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
    assert edits["prompt"] == "a person jumps over a puddle" and edits["seed"] == 7 and edits["samples"] == 2
    assert len(edits["keys"]) == 1 and edits["keys"][0]["time"] == 1.5
    assert recovery_path(None).exists()

    restored = open_window(recover="yes")
    assert project_to_json(restored.project) == edits
    moved = restored.project.keys[0].pose2d.keypoints[RIGHT_WRIST]
    assert moved[1] < default_pose((512, 512)).keypoints[RIGHT_WRIST][1] - 30  # the dragged wrist, raised
    assert restored.prompt_edit.toPlainText() == "a person jumps over a puddle" and restored.timeline.keys == [30]


# ---- keys ------------------------------------------------------------------------------------------

def test_blender_keys_work_from_any_panel_but_not_while_typing(qtbot, open_window, tmp_path):
    window = open_window(walking_project(tmp_path), recover="no")
    assert window.timeline.length == 60

    # From the timeline: I keys the figure's pose at the playhead.
    focus(qtbot, window, window.timeline)
    scrub(qtbot, window, 10)
    qtbot.keyClick(window.timeline, Qt.Key.Key_I)
    assert [k.frame() for k in window.project.keys] == [10]
    # From the pose canvas: Right/Left step frames.
    focus(qtbot, window, window.canvas)
    for key in (Qt.Key.Key_Right,) * 25 + (Qt.Key.Key_Left,) * 5:
        qtbot.keyClick(window.canvas, key)
    assert window.frame == 30 and window.timeline.frame == 30 and window.playback.frame == 30
    # From a focused button, K keys the pose (the button is not pressed).
    focus(qtbot, window, window.mirror_button)
    qtbot.keyClick(window.mirror_button, Qt.Key.Key_K)
    assert [k.frame() for k in window.project.keys] == [10, 30] and window.stack.undoText() == "Add key pose"
    # Up/Down jump to the next/previous key and select it; past the last key, nothing moves.
    focus(qtbot, window, window.timeline)
    qtbot.keyClick(window.timeline, Qt.Key.Key_Down)
    assert window.frame == 10 and window.selected_key == 0
    qtbot.keyClick(window.timeline, Qt.Key.Key_Up)
    assert window.frame == 30 and window.selected_key == 1
    qtbot.keyClick(window.timeline, Qt.Key.Key_Up)
    assert window.frame == 30
    qtbot.keyClick(window.timeline, Qt.Key.Key_Right)
    assert window.frame == 31

    # In the prompt, the keys type: letters, digits, spaces and arrows are text, nothing else happens.
    focus(qtbot, window, window.prompt_edit)
    window.prompt_edit.moveCursor(window.prompt_edit.textCursor().MoveOperation.End)
    before = (camera(window), window.frame, window.selected_key, len(window.project.keys))
    qtbot.keyClicks(window.prompt_edit, " ik f137")
    qtbot.keyClick(window.prompt_edit, Qt.Key.Key_3, Qt.KeyboardModifier.KeypadModifier)
    for key in (Qt.Key.Key_Left, Qt.Key.Key_Left, Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Right):
        qtbot.keyClick(window.prompt_edit, key)
    qtbot.keyClicks(window.prompt_edit, "x")
    assert window.prompt_edit.toPlainText() == "a person walks ik f137x3"  # the arrows moved the cursor
    assert (camera(window), window.frame, window.selected_key, len(window.project.keys)) == before
    assert not window.playback.is_playing

    # The views: 1, 3, 7 on the number row or the keypad, from a list box that is not a text field.
    focus(qtbot, window, window.layout_box)
    for key, modifier, view in ((Qt.Key.Key_1, Qt.KeyboardModifier.NoModifier, (0.0, -90.0)),
                                (Qt.Key.Key_3, Qt.KeyboardModifier.KeypadModifier, (0.0, 0.0)),
                                (Qt.Key.Key_7, Qt.KeyboardModifier.NoModifier, (90.0, -90.0)),
                                (Qt.Key.Key_3, Qt.KeyboardModifier.NoModifier, (0.0, 0.0)),
                                (Qt.Key.Key_1, Qt.KeyboardModifier.KeypadModifier, (0.0, -90.0))):
        qtbot.keyClick(window.layout_box, key, modifier)
        assert camera(window)[:2] == view
    assert window.layout_box.currentIndex() == 0
    # F frames the figure as it stands now: the centre on its middle, closer than the whole walk.
    distance = camera(window)[2]
    qtbot.keyClick(window.layout_box, Qt.Key.Key_F)
    joints = window.project.motion[31]
    middle = (joints.min(axis=0) + joints.max(axis=0)) / 2
    np.testing.assert_allclose(camera(window)[3], (middle[0], -middle[2], middle[1]), atol=1e-5)
    assert camera(window)[2] < distance and camera(window)[:2] == (0.0, -90.0)

    # Space plays and pauses from a panel that does not use it.
    focus(qtbot, window, window.canvas)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Space)
    assert window.playback.is_playing
    qtbot.keyClick(window.canvas, Qt.Key.Key_Space)
    assert not window.playback.is_playing


def test_space_on_a_focused_button_presses_that_button_only(qtbot, open_window, tmp_path):
    window = open_window(walking_project(tmp_path), recover="no")
    playing, pressed = [], []
    window.playback.playing_changed.connect(playing.append)
    window.playback.play_button.clicked.connect(pressed.append)
    # The play button: Space presses it, once (playback is not toggled twice, back to paused).
    focus(qtbot, window, window.playback.play_button)
    qtbot.keyClick(window.playback.play_button, Qt.Key.Key_Space)
    assert window.playback.is_playing and playing == [True] and pressed == [True]
    qtbot.keyClick(window.playback.play_button, Qt.Key.Key_Space)
    assert not window.playback.is_playing and playing == [True, False] and pressed == [True, False]
    # A combo box keeps Up and Down: they choose its items, the playhead stays.
    window.set_frame(5)
    focus(qtbot, window, window.layout_box)
    qtbot.keyClick(window.layout_box, Qt.Key.Key_Down)
    assert window.layout_box.currentIndex() == 1 and window.viewport.layout_mode == "overlay"
    assert window.frame == 5
    # The Generate button: Space generates, and playback is left alone.
    focus(qtbot, window, window.generate_button)
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=GENERATION_TIMEOUT_MS):
        qtbot.keyClick(window.generate_button, Qt.Key.Key_Space)
        assert window.foreground_jobs.busy
    assert not window.error_label.isVisible(), window.error_label.text()
    assert window.stack.undoText() == "Generate" and playing == [True, False] and not window.playback.is_playing


def test_the_focused_control_has_a_visible_focus_ring(qtbot, open_window, tmp_path):
    window = open_window(walking_project(tmp_path), recover="no")
    ring = QColor(FOCUS_COLOUR)
    rgb = (ring.red(), ring.green(), ring.blue())
    for widget in (window.generate_button, window.seed_spin, window.layout_box, window.timeline,
                   window.export_buttons["bvh"]):
        focus(qtbot, window, widget)
        qtbot.wait(20)
        focused = colour_pixels(widget.grab().toImage(), rgb)
        assert focused >= widget.width() + widget.height(), widget  # a line at least round most of it
        focus(qtbot, window, window.prompt_edit)
        qtbot.wait(20)
        assert colour_pixels(widget.grab().toImage(), rgb) < focused / 10, widget


# ---- the 3D view ---------------------------------------------------------------------------------------

def test_the_camera_follows_the_root_while_scrubbing(qtbot, open_window, tmp_path):
    window = open_window(walking_project(tmp_path, samples=2), recover="no")
    qtbot.mouseClick(window.viewport.follow_button, Qt.MouseButton.LeftButton)
    for frame in (12, 40, 59):
        scrub(qtbot, window, frame)
        root = window.viewport.drawn_joints(0)[0]
        np.testing.assert_allclose(camera(window)[3], (root[0], -root[2], root[1]), atol=1e-5)
    assert camera(window)[3][1] == pytest.approx(-window.project.motions[0][59, 0, 2], abs=1e-5)
    qtbot.mouseClick(window.viewport.follow_button, Qt.MouseButton.LeftButton)
    scrub(qtbot, window, 0)
    assert camera(window)[3][1] == pytest.approx(-window.project.motions[0][59, 0, 2], abs=1e-5)


def test_a_click_on_a_sample_in_the_3d_view_chooses_it(qtbot, open_window, tmp_path):
    window = open_window(walking_project(tmp_path, samples=3), recover="no")
    focus(qtbot, window, window.timeline)
    qtbot.keyClick(window.timeline, Qt.Key.Key_1)  # front view: the samples side by side, left to right
    view = window.viewport.view

    def chest(index: int) -> QPoint:
        point = window.viewport.widget_points(window.viewport.drawn_joints(index))[9] - [view.x(), view.y()]
        return QPoint(*np.round(point).astype(int))

    assert chest(0).x() < chest(1).x() < chest(2).x()
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=chest(2))
    assert window.project.chosen_sample == 2 and window.sample_box.currentIndex() == 2
    assert window.viewport.selected == 2 and window.stack.undoText() == "Choose sample 3"
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=chest(0))
    assert window.project.chosen_sample == 0
    window.undo_action.trigger()
    assert window.project.chosen_sample == 2 and window.viewport.selected == 2


# ---- the command line ----------------------------------------------------------------------------------

def test_keymask_studio_opens_a_project_with_a_recovery_choice(monkeypatch):
    import argparse

    from keymask.cli import studio
    from keymask.studio import app

    parser = argparse.ArgumentParser(prog="keymask")
    studio.add_parser(parser.add_subparsers())
    opened = []
    monkeypatch.setattr(app, "run_studio", lambda project, recover: opened.append((project, recover)) or 0)
    args = parser.parse_args(["studio", "walk.keymask.json", "--recover", "yes"])
    assert args.run(args) == 0 and opened == [(Path("walk.keymask.json"), "yes")]
    args = parser.parse_args(["studio"])
    args.run(args)
    assert opened[-1] == (None, "ask")
    assert app.build_parser().parse_args(["--recover", "no"]).recover == "no"


def test_the_studio_deletes_its_window_before_the_application_on_quit(monkeypatch, qapp):
    """Left to Python's shutdown, the window (and its OpenGL views) could be freed after the
    QApplication, which can crash the process on its way out."""
    from PyQt6 import sip

    from keymask.studio import app

    seen = []

    def quit_at_once(self) -> int:
        window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))
        window.confirm_close = False
        window.close()
        seen.append((window, window.jobs.thread))
        return 3

    monkeypatch.setattr(QApplication, "exec", quit_at_once)
    hook = sys.excepthook
    assert app.run_studio(recover="no") == 3
    window, thread = seen[0]
    assert sip.isdeleted(window) and sip.isdeleted(thread)
    assert sys.excepthook is hook

# ---- screenshots ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_screenshot_script_draws_the_real_window(tmp_path):
    result = subprocess.run([sys.executable, "-m", "keymask.studio.screenshots", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert result.returncode == 0, result.stdout[-1000:] + result.stderr[-3000:]  # the files written, then the trace
    from PIL import Image

    for name in ("studio_main.png", "studio_pose_canvas.png", "studio_samples.png", "studio_first_launch.png",
                 "studio_posing.png"):
        image = np.asarray(Image.open(tmp_path / name).convert("RGB"))
        assert image.shape[0] > 200 and image.shape[1] > 300
        assert image.std() > 10  # a drawn window, not a blank one
    strip = np.asarray(Image.open(tmp_path / "studio_dope_sheet.png").convert("RGB"))
    assert strip.shape[1] > 600 and strip.std() > 10  # the dope sheet alone: a wide, drawn strip
    with Image.open(tmp_path / "studio_posing.gif") as gif:
        assert gif.n_frames > 10  # the posing recording, frame by frame


def test_typing_goes_to_the_prompt_tab_leaves_it_and_ctrl_enter_generates(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None, timeout=5000)
    assert QApplication.focusWidget() is window.prompt_edit
    qtbot.keyClicks(QApplication.focusWidget(), "a person waves")
    assert window.prompt_edit.toPlainText() == "a person waves" and not window.playback.is_playing
    qtbot.keyClick(window.prompt_edit, Qt.Key.Key_Tab)
    assert "\t" not in window.prompt_edit.toPlainText() and QApplication.focusWidget() is not window.prompt_edit
    window.prompt_edit.setFocus()
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=GENERATION_TIMEOUT_MS):
        qtbot.keyClick(window.prompt_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.project.motions and window.prompt_edit.toPlainText() == "a person waves"


# ---- your motions in -----------------------------------------------------------------------------

MIXAMO_RIG = Path(__file__).parent / "data" / "mixamo_walk_fragment.bvh"


def waving_walk(frames: int) -> np.ndarray:
    """(T, 22, 3) the target skeleton walking forward (+Z) while raising its right arm sideways."""
    motion = walk(frames, sway=0.2).astype(np.float64)
    index = HUMANML3D_SKELETON.index
    shoulder, arm = index("right_shoulder"), [index("right_elbow"), index("right_wrist")]
    for t in range(frames):
        angle = 1.4 * t / (frames - 1)  # radians, about the forward axis: the arm rises to the right
        c, s = np.cos(angle), np.sin(angle)
        turn = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
        motion[t, arm] = (motion[t, arm] - motion[t, shoulder]) @ turn.T + motion[t, shoulder]
    return motion


@pytest.fixture
def mixamo_clip(tmp_path) -> tuple[Path, np.ndarray]:
    """A 3 s BVH on the Mixamo rig of tests/data (written by the project's own rig export and BVH
    writer, at 20 fps), and our 22 joints as that rig shows them."""
    from keymask.core.animation import animate
    from keymask.core.bvh.writer import write_bvh
    from keymask.core.mocap.rig_export import motion_onto_rig, read_rig

    rig = read_rig(MIXAMO_RIG)
    animation = animate(waving_walk(60))
    path = tmp_path / "mixamo_clip.bvh"
    write_bvh(path, motion_onto_rig(animation, rig, fps=20))
    return path, animation.on_body(rig.body).joints()


def open_motion_with_keys(qtbot, window: MainWindow, monkeypatch, path: Path, *, finishes: bool = True) -> None:
    """File > Open motion... by its shortcut (Ctrl+Shift+O), the file dialog answering `path`."""
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *args, **kwargs: (asked.append(args), (str(path), ""))[1])
    focus(qtbot, window, window.timeline)
    signal = window.jobs.worker.finished if finishes else window.jobs.worker.failed
    with qtbot.waitSignal(signal, timeout=60_000):
        qtbot.keyClick(window.timeline, Qt.Key.Key_O,
                       Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert asked and "*.bvh" in asked[0][3] and "*.npy" in asked[0][3]


def test_a_mixamo_bvh_opens_is_edited_like_a_generated_motion_and_exports_onto_its_rig(
        qtbot, window, monkeypatch, mixamo_clip, tmp_path):
    path, shown_by_rig = mixamo_clip
    menu = [a.text() for a in window.menuBar().actions()[0].menu().actions()]
    assert "Open &motion…" in menu
    window.show_credit(("HDM05",), "made from motion capture clips of HDM05 (Universitaet Bonn), CC BY-SA 3.0")
    assert window.credit_label.text() == "Made from clips of HDM05 (hover: licence)"
    open_motion_with_keys(qtbot, window, monkeypatch, path)
    assert window.credit_label.text() == "" and window.credit_label.toolTip() == ""  # the opened motion is the file's
    motion = window.project.motion
    assert motion.shape == (60, 22, 3) and window.timeline.length == 60 and window.viewport.frame_count == 60
    np.testing.assert_allclose(motion, shown_by_rig, atol=0.01)  # the file's joints, mapped onto ours
    np.testing.assert_array_equal(motion, bvh_file_to_joints(path).astype(np.float32))
    assert window.seconds_spin.value() == 3.0 and "Opened mixamo_clip.bvh: 60 frames" in window.message_label.text()
    assert window.stack.undoText() == "Open motion mixamo_clip.bvh"
    assert window.rig_box.isVisible() and window.rig_box.isChecked() and "mixamo_clip" in window.rig_box.text()

    # Keep the first second, regenerate the rest from text: exactly as with a generated motion.
    keep_first_second(qtbot, window)
    qtbot.keyClicks(window.prompt_edit, "a person waves")
    generate(qtbot, window)
    edited = window.project.motion
    assert edited.shape == (60, 22, 3)
    np.testing.assert_array_equal(edited[:20], motion[:20])
    assert not np.allclose(edited[30:], motion[30:], atol=1e-3)

    # Export onto the opened rig: its joint names and hierarchy, the motion as the rig shows it.
    out = tmp_path / "back_on_the_rig.bvh"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(out), ""))
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=60_000):
        qtbot.mouseClick(window.export_buttons["bvh"], Qt.MouseButton.LeftButton)
    written = read_bvh(out)
    assert written.skeleton.names == read_bvh(path).skeleton.names and written.n_frames == 60
    np.testing.assert_allclose(bvh_file_to_joints(out)[:20], shown_by_rig[:20], atol=0.01)

    # Unticked, the BVH is our own skeleton again.
    qtbot.mouseClick(window.rig_box, Qt.MouseButton.LeftButton, pos=QPoint(5, window.rig_box.height() // 2))
    assert not window.project.export.use_rig
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=60_000):
        qtbot.mouseClick(window.export_buttons["bvh"], Qt.MouseButton.LeftButton)
    assert set(HUMANML3D_SKELETON.joint_names) <= set(read_bvh(out).skeleton.names)


def test_a_joints_npy_opens_and_bad_files_are_one_sentence_and_lose_nothing(
        qtbot, window, monkeypatch, tmp_path):
    good = tmp_path / "walk.npy"
    np.save(good, walk(50))
    open_motion_with_keys(qtbot, window, monkeypatch, good)
    np.testing.assert_array_equal(window.project.motion, walk(50))
    assert window.timeline.length == 50 and not window.rig_box.isVisible()
    before, steps = window.project.motion.copy(), window.stack.count()

    np.save(tmp_path / "wrong.npy", np.zeros((30, 24, 3)))
    (tmp_path / "text.npy").write_text("not an array")
    (tmp_path / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n}\n")
    from bvh_samples import SMALL_BVH
    (tmp_path / "unknown_rig.bvh").write_text(SMALL_BVH)
    (tmp_path / "notes.txt").write_text("hello")
    for name, said in (("wrong.npy", "expected (frames, 22, 3)"), ("text.npy", "is not a NumPy .npy file"),
                       ("broken.bvh", "line 5"), ("unknown_rig.bvh", "No known rig"),
                       ("notes.txt", "is not a motion file")):
        open_motion_with_keys(qtbot, window, monkeypatch, tmp_path / name, finishes=False)
        box = window.message_box
        assert box is not None and box.isVisible() and said in box.text() and name in box.text()
        assert "Traceback" not in box.text() and "Something went wrong" not in box.text()
        qtbot.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.message_box is None)
        np.testing.assert_array_equal(window.project.motion, before)  # the project lost nothing
        assert window.stack.count() == steps and window.timeline.length == 50


# ---- local re-solves -----------------------------------------------------------------------------

def spy_on_stale_marks(window: MainWindow, monkeypatch) -> list[tuple[list, int]]:
    """Every stale marking the window gives the timeline: (spans, how many pixels the timeline then
    draws in the stale colour)."""
    from keymask.studio.timeline import STALE_COLOUR

    seen = []
    show = window.timeline.set_stale_spans

    def spy(spans):
        show(spans)
        drawn = colour_pixels(window.timeline.grab().toImage(), STALE_COLOUR.getRgb()[:3], tolerance=0)
        seen.append((window.timeline.stale_spans, drawn))

    monkeypatch.setattr(window.timeline, "set_stale_spans", spy)
    return seen


def marked_then_cleared(seen: list, stretch: tuple[int, int]) -> bool:
    """The stretch was drawn stale at some point, and the last marking is none, drawing nothing stale."""
    return any(stretch in spans and drawn > 0 for spans, drawn in seen) and seen[-1] == ([], 0)


def test_a_key_edit_re_solves_only_its_stretch_in_the_background(qtbot, open_window, monkeypatch, tmp_path):
    path = tmp_path / "wave.keymask.json"
    save_project(path, Project(prompt="a person walks and raises an arm", seconds=4.0,
                               motions=[waving_walk(80).astype(np.float32)]))
    window = open_window(path, recover="no")
    keep_first_second(qtbot, window)
    seen = spy_on_stale_marks(window, monkeypatch)
    resolved = window.resolver.worker.finished

    # Shift+K adds the drawing as a key at 1.5 s: from the kept second's end to a second past the key is
    # re-solved.
    source = window.project.motion.copy()
    with qtbot.waitSignal(resolved, timeout=30_000):
        add_drawing_with_shift_k(qtbot, window, 30)
    qtbot.waitUntil(lambda: not window.timeline.stale_spans)
    keyed = window.project.motion.copy()
    assert marked_then_cleared(seen, (20, 51))
    np.testing.assert_array_equal(keyed[:20], source[:20])
    np.testing.assert_array_equal(keyed[51:], source[51:])
    assert bone_direction_error(keyed[30], window.project.keys[0].pose3d.joints) < 3

    # The key's right wrist dragged up on the canvas: the same stretch again, through the new pose.
    seen.clear()
    with qtbot.waitSignal(resolved, timeout=30_000):
        drag_joint(qtbot, window, RIGHT_WRIST, QPoint(40, -200))
    qtbot.waitUntil(lambda: not window.timeline.stale_spans)
    posed = window.project.motion.copy()
    key = window.project.keys[0]
    assert marked_then_cleared(seen, (20, 51)) and window.stack.undoText() == "Move right wrist"
    np.testing.assert_array_equal(posed[:20], keyed[:20])
    np.testing.assert_array_equal(posed[51:], keyed[51:])
    assert bone_direction_error(keyed[30], key.pose3d.joints) > 10  # the pose changed...
    assert bone_direction_error(posed[30], key.pose3d.joints) < 3  # ...and the motion shows it
    # No pop where the stretch meets the frames that stayed: the step into it changes by a small part of
    # what the steps inside change by (a pop would put most of the change into that one step; the cos^2
    # ease over the 10 frames before this key puts 0.14 of it there).
    change = np.linalg.norm(np.diff(posed, axis=0) - np.diff(keyed, axis=0), axis=-1).max(axis=1)  # (T-1,) m/frame
    assert change[19] < 0.25 * change[20:50].max() and change[50] < 0.25 * change[20:50].max()

    # A second key at 3.5 s; then the first key's marker dragged from 1.5 s to 2 s on the timeline:
    # the stretch runs from the kept second to a second past the key's new time.
    with qtbot.waitSignal(resolved, timeout=30_000):
        add_drawing_with_shift_k(qtbot, window, 70)
    qtbot.waitUntil(lambda: not window.timeline.stale_spans)
    before_move = window.project.motion.copy()
    seen.clear()
    centre = window.timeline.marker_centre(0)
    with qtbot.waitSignal(resolved, timeout=30_000):
        drag(qtbot, window.timeline, centre.toPoint(), QPoint(round(window.timeline.x_of(40)), round(centre.y())))
    qtbot.waitUntil(lambda: not window.timeline.stale_spans)
    moved = window.project.motion.copy()
    assert window.project.keys[0].frame() == 40 and marked_then_cleared(seen, (20, 61))
    np.testing.assert_array_equal(moved[:20], before_move[:20])
    np.testing.assert_array_equal(moved[61:], before_move[61:])  # the second key's frame too
    assert bone_direction_error(moved[40], key.pose3d.joints) < 3
    assert bone_direction_error(moved[70], window.project.keys[1].pose3d.joints) < 3

    # One undo takes back the move and its re-solved motion; redo brings both again.
    focus(qtbot, window, window.timeline)
    qtbot.keyClick(window.timeline, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.project.keys[0].frame() == 30
    np.testing.assert_array_equal(window.project.motion, before_move)
    qtbot.keyClick(window.timeline, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.project.keys[0].frame() == 40
    np.testing.assert_array_equal(window.project.motion, moved)
    assert window.generate_button.text() == "Regenerate outside kept spans"  # the full regenerate stays
