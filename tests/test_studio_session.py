"""One studio session from start to end, driven as an animator drives it: the window opened by the entry
`keymask studio` runs (keymask.studio.app.main, with its Qt event loop and the shipped default model),
then keys and mouse only: type a prompt, Ctrl+Enter, pose a wrist in 3D with P and a handle drag (the
local re-solve), open a Mixamo-rig BVH with Ctrl+Shift+O, keep its first second with a Shift+drag on the
timeline, regenerate the rest, export onto the rig, save and quit. Only the file dialogs are patched, to
answer paths. Every step checks what it shows, so the test fails at the step that broke. Under Xvfb
(pytest-xvfb), as the other studio tests."""

import sys
import traceback

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt, QTimer
from PyQt6.QtWidgets import QApplication, QFileDialog, QMessageBox

from keymask.conditioning.ik import bone_lengths
from keymask.core.bvh.convert import bvh_file_to_joints
from keymask.core.bvh.reader import read_bvh
from keymask.core.skeleton import HUMANML3D_SKELETON
from keymask.studio import app
from keymask.studio.project import load_project
from keymask.studio.timeline import STALE_COLOUR
from keymask.studio.viewport import VIEWS
from test_studio_app import (GENERATION_TIMEOUT_MS, colour_pixels, drag, keep_first_second,  # noqa: F401
                             mixamo_clip, scrub, studio_folders)
from test_studio_posing import handle

RIGHT_WRIST = HUMANML3D_SKELETON.index("right_wrist")
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
POSE_FRAME = 40  # the playhead for the posed key: 2 s into a 4 s motion


def studio_window():
    return next(w for w in QApplication.topLevelWidgets() if w.objectName() == "KeyMaskStudio" and w.isVisible())


def click_into(qtbot, widget) -> None:
    """A click in the middle of a text field or spin box: the keyboard is then there."""
    target = widget.viewport() if hasattr(widget, "viewport") else widget
    qtbot.mouseClick(target, Qt.MouseButton.LeftButton, pos=target.rect().center())
    qtbot.waitUntil(lambda: QApplication.focusWidget() in (widget, widget.focusProxy()), timeout=5000)


class Watchdog:
    """Closes any message box nobody asked for (the studio's "Something went wrong" for a bug in a slot is
    modal and would hold the session forever) and remembers what it said, so the test fails with it."""

    def __init__(self):
        self.said: list[str] = []
        self.timer = QTimer()
        self.timer.timeout.connect(self.check)
        self.timer.start(250)

    def check(self) -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            self.said.append(f"{box.text()} {box.informativeText()}")
            box.reject()


def session(qtbot, monkeypatch, clip, tmp_path) -> None:
    window = studio_window()
    qtbot.waitExposed(window)
    steps = window.stack.count()

    # 1. Typing starts in the prompt; the length is typed into its box; Ctrl+Enter generates.
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.prompt_edit, timeout=5000)
    qtbot.keyClicks(window.prompt_edit, "a person walks forward")
    assert window.prompt_edit.toPlainText() == "a person walks forward"
    assert window.project.prompt == "a person walks forward" and window.project.motion is None
    qtbot.mouseClick(window.estimate_box, Qt.MouseButton.LeftButton, pos=QPoint(6, window.estimate_box.height() // 2))
    assert not window.estimate_box.isChecked() and window.seconds_spin.isEnabled()
    click_into(qtbot, window.seconds_spin)
    qtbot.keyClick(window.seconds_spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(window.seconds_spin, "4")
    qtbot.keyClick(window.seconds_spin, Qt.Key.Key_Tab)
    assert window.project.seconds == 4.0
    click_into(qtbot, window.prompt_edit)
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=GENERATION_TIMEOUT_MS):
        qtbot.keyClick(window.prompt_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert not window.error_label.isVisible(), window.error_label.text()
    assert window.project.motion.shape == (80, 22, 3) and window.timeline.length == 80
    assert window.viewport.motion_count == 1 and "seed 0" in window.message_label.text()
    assert window.generate_button.text() == "Generate" and window.stack.count() > steps
    generated = window.project.motion.copy()

    # 2. The playhead to 2 s by a click on the ruler; 1 looks from the front; P enters pose mode.
    scrub(qtbot, window, POSE_FRAME)  # the click also gives the timeline the keyboard
    assert window.frame == POSE_FRAME and window.viewport.frame == POSE_FRAME
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.timeline, timeout=5000)
    qtbot.keyClick(window.timeline, Qt.Key.Key_1)
    assert (window.viewport.view.opts["elevation"], window.viewport.view.opts["azimuth"]) == VIEWS["front"]
    qtbot.keyClick(window.timeline, Qt.Key.Key_P)
    assert window.viewport.posing and window.viewport.pose_button.isChecked()
    np.testing.assert_allclose(window.viewport.editor.pose, generated[POSE_FRAME], atol=1e-5)  # the figure there

    # 3. Drag the right wrist's handle up: a new key at the playhead, its stretch hatched stale on the
    # timeline while it is re-solved in the background, then the motion shows the wrist where it was posed.
    posed = []
    window.viewport.pose_edited.connect(lambda joints, text, holds: posed.append(np.array(joints)))
    start = handle(window.viewport, RIGHT_WRIST)
    with qtbot.waitSignal(window.resolver.worker.finished, timeout=30_000):
        drag(qtbot, window.viewport.view, start, start + QPoint(-20, -70), steps=6)
        stale = list(window.timeline.stale_spans)
        hatched = colour_pixels(window.timeline.grab().toImage(), STALE_COLOUR.getRgb()[:3], tolerance=0)
    assert len(posed) == 1 and window.stack.undoText() == "Pose right wrist in 3D (new key pose)"
    assert [k.frame() for k in window.project.keys] == [POSE_FRAME] and window.timeline.keys == [POSE_FRAME]
    assert len(stale) == 1 and hatched > 0, (stale, hatched)
    first, last = stale[0]
    assert first < POSE_FRAME < last and first > 0 and last < 80  # at most a second either side
    qtbot.waitUntil(lambda: not window.timeline.stale_spans, timeout=10_000)
    assert colour_pixels(window.timeline.grab().toImage(), STALE_COLOUR.getRgb()[:3], tolerance=0) == 0
    wrist = posed[0][RIGHT_WRIST]
    assert wrist[1] > generated[POSE_FRAME, RIGHT_WRIST, 1] + 0.15  # raised
    np.testing.assert_allclose(bone_lengths(posed[0]), bone_lengths(generated[POSE_FRAME]), atol=1e-5)
    resolved = window.project.motion
    assert np.linalg.norm(resolved[POSE_FRAME, RIGHT_WRIST] - wrist) < 0.04  # within 4 cm of the posed wrist
    np.testing.assert_array_equal(resolved[:first], generated[:first])  # outside the stretch: untouched
    np.testing.assert_array_equal(resolved[last:], generated[last:])
    assert not np.allclose(resolved[first:last], generated[first:last], atol=1e-3)
    np.testing.assert_allclose(window.viewport.drawn_joints(0)[RIGHT_WRIST] - window.viewport.drawn_joints(0)[0],
                               resolved[POSE_FRAME, RIGHT_WRIST] - resolved[POSE_FRAME, 0], atol=1e-5)  # drawn so
    qtbot.keyClick(window.viewport.view, Qt.Key.Key_P)  # out of pose mode
    assert not window.viewport.posing

    # 4. Ctrl+Shift+O opens a BVH of a Mixamo rig: its 3 s become the project's motion.
    path, shown_by_rig = clip
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *args, **kwargs: (asked.append(args), (str(path), ""))[1])
    scrub(qtbot, window, window.frame)  # a click on the ruler at the playhead: the keys go to the timeline
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.timeline, timeout=5000)
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=60_000):
        qtbot.keyClick(window.timeline, Qt.Key.Key_O, CTRL_SHIFT)
    assert asked and "*.bvh" in asked[0][3]
    opened = window.project.motion.copy()
    assert opened.shape == (60, 22, 3) and window.timeline.length == 60 and window.viewport.frame_count == 60
    np.testing.assert_allclose(opened, shown_by_rig, atol=0.01)
    assert f"Opened {path.name}: 60 frames" in window.message_label.text()
    assert window.rig_box.isVisible() and window.rig_box.isChecked() and path.stem in window.rig_box.text()

    # 5. Shift+drag over the first second of the timeline keeps it; Generate turns into Regenerate.
    keep_first_second(qtbot, window)
    assert window.timeline.keep_spans == [(0, 20)]
    assert window.generate_button.text() == "Regenerate outside kept spans"

    # 6. A new prompt typed over the old (Ctrl+A), Ctrl+Enter: the rest regenerated, the kept second exact.
    click_into(qtbot, window.prompt_edit)
    qtbot.keyClick(window.prompt_edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(window.prompt_edit, "a person waves")
    assert window.project.prompt == "a person waves"
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=GENERATION_TIMEOUT_MS):
        qtbot.keyClick(window.prompt_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert not window.error_label.isVisible(), window.error_label.text()
    edited = window.project.motion.copy()
    assert edited.shape == (60, 22, 3) and window.timeline.length == 60
    np.testing.assert_array_equal(edited[:20], opened[:20])
    assert not np.allclose(edited[30:], opened[30:], atol=1e-3)
    assert window.stack.undoText() == "Regenerate outside kept spans"

    # 7. Export BVH by its button, onto the opened rig.
    out = tmp_path / "session_on_the_rig.bvh"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(out), ""))
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=60_000):
        qtbot.mouseClick(window.export_buttons["bvh"], Qt.MouseButton.LeftButton)
    assert out.exists() and str(out) in window.message_label.text()
    written, source = read_bvh(out), read_bvh(path)
    assert written.skeleton.names == source.skeleton.names  # the rig's joints, Mixamo's names
    assert any(name.startswith("mixamorig") for name in written.skeleton.names)
    assert written.n_frames == len(window.project.motion) == 60
    np.testing.assert_allclose(bvh_file_to_joints(out)[:20], bvh_file_to_joints(path)[:20], atol=0.01)

    # 8. Ctrl+S saves the project (the dialog answering a path), Ctrl+Q closes the window without asking.
    project_path = tmp_path / "session.keymask.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(project_path), ""))
    scrub(qtbot, window, window.frame)  # a click on the ruler at the playhead: the keys go to the timeline
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.timeline, timeout=5000)
    qtbot.keyClick(window.timeline, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert project_path.exists() and window.stack.isClean() and window.windowTitle().startswith("session")
    saved = load_project(project_path)
    assert saved.prompt == "a person waves" and saved.keep_spans == [(0.0, 1.0)]
    np.testing.assert_array_equal(saved.motion, edited)
    qtbot.keyClick(window.timeline, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)


def test_a_whole_session_from_keymask_studio_to_the_export(qtbot, monkeypatch, mixamo_clip, tmp_path):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # run_studio sets its own; put it back afterwards
    failures: list[str] = []
    watchdog = Watchdog()

    def drive() -> None:
        try:
            session(qtbot, monkeypatch, mixamo_clip, tmp_path)
        except BaseException:  # noqa: BLE001 - carried out of the event loop and raised below
            failures.append(traceback.format_exc())
        finally:
            for window in QApplication.topLevelWidgets():
                if window.objectName() == "KeyMaskStudio" and window.isVisible():
                    window.confirm_close = False
                    window.close()
            QTimer.singleShot(0, QApplication.quit)

    QTimer.singleShot(0, drive)
    code = app.main(["--recover", "no"])  # what `keymask studio --recover no` runs; returns when the window closes
    watchdog.timer.stop()
    if failures:
        pytest.fail(failures[0], pytrace=False)
    assert not watchdog.said, watchdog.said
    assert code == 0
