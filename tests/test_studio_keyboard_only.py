"""The acceptance audit of issue 14 with the keyboard only, at 1280 x 720 (pytest-qt under Xvfb, the shipped
model): every Tab stop shows the focus ring, the GIF export is big enough to see, keying a pose moves nothing in
the side panel, a focused Regenerate button shows its whole text, and a whole session from launch to export
needs no mouse."""

import numpy as np
from PIL import Image
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor, QImage
from PyQt6.QtWidgets import QApplication, QFileDialog

from keymask.core.bvh.reader import read_bvh
from keymask.studio.main_window import FOCUS_COLOUR
from keymask.studio.worker import GIF_PANEL
from test_studio_app import (GENERATION_TIMEOUT_MS, colour_pixels, focus, keep_first_second,  # noqa: F401
                             open_window, studio_folders, walking_project)
from test_studio_first_session import in_window, small_window

CTRL = Qt.KeyboardModifier.ControlModifier


def tab_stops(qtbot, window) -> list:
    """The widgets Tab visits from the prompt until it comes back to it."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.prompt_edit, timeout=5000)
    stops = []
    while True:
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        widget = QApplication.focusWidget()
        if widget is window.prompt_edit or widget in stops:
            return stops
        stops.append(widget)


def test_every_tab_stop_shows_the_focus_ring(qtbot, open_window):
    window = small_window(open_window)
    ring = QColor(FOCUS_COLOUR)
    stops = tab_stops(qtbot, window)
    assert window.timeline in stops and window.export_buttons["bvh"] in stops
    for widget in stops:
        widget.setFocus()
        qtbot.wait(10)
        ringed = colour_pixels(widget.grab().toImage(), (ring.red(), ring.green(), ring.blue()))
        assert ringed >= widget.width() + widget.height(), f"{type(widget).__name__} has no visible focus ring"


def test_the_gif_export_is_big_enough_to_see(qtbot, open_window, monkeypatch, tmp_path):
    window = small_window(open_window, walking_project(tmp_path))
    out = tmp_path / "walk.gif"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(out), ""))
    focus(qtbot, window, window.export_buttons["gif"])
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=60_000):
        qtbot.keyClick(window.export_buttons["gif"], Qt.Key.Key_Space)
    with Image.open(out) as gif:
        assert gif.width >= GIF_PANEL >= 480 and gif.height >= GIF_PANEL


def test_keying_the_pose_moves_nothing_in_the_side_panel(qtbot, open_window, tmp_path):
    window = small_window(open_window, walking_project(tmp_path))
    groups = [window.motion_group, window.pose_group, window.export_group]
    before = [in_window(group) for group in groups]
    focus(qtbot, window, window.timeline)
    qtbot.keyClick(window.timeline, Qt.Key.Key_Right)
    qtbot.keyClick(window.timeline, Qt.Key.Key_K)  # a 3D key, selected: three lines say what it is
    qtbot.wait(50)
    assert window.selected_key == 0 and "3D key" in window.pose_group.key_label.text()
    assert not window.side_panel.scroll.verticalScrollBar().isVisible()
    assert [in_window(group) for group in groups] == before
    for button in (window.delete_key_button, window.constrain_box):
        assert window.side_panel.scroll.viewport().rect().contains(
            button.mapTo(window.side_panel.scroll.viewport(), button.rect().bottomRight()))


def tab_to(qtbot, widget, backwards: bool = False) -> None:
    """Tab (or Shift+Tab) until the keyboard focus is on `widget`, as a keyboard user does."""
    key = Qt.Key.Key_Backtab if backwards else Qt.Key.Key_Tab
    for _ in range(40):
        if QApplication.focusWidget() is widget:
            return
        qtbot.keyClick(QApplication.focusWidget(), key)
    raise AssertionError(f"Tab never reaches {type(widget).__name__}")


def test_a_keyboard_only_session_from_launch_to_export(qtbot, open_window, monkeypatch, tmp_path):
    window = small_window(open_window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.prompt_edit, timeout=5000)
    qtbot.keyClicks(window.prompt_edit, "a person walks forward")
    # Tab to "estimate from text", Space unticks it, Tab to the length, typed over.
    tab_to(qtbot, window.estimate_box)
    qtbot.keyClick(window.estimate_box, Qt.Key.Key_Space)
    assert not window.estimate_box.isChecked()
    qtbot.keyClick(window.estimate_box, Qt.Key.Key_Backtab)
    assert QApplication.focusWidget() is window.seconds_spin
    qtbot.keyClick(window.seconds_spin, Qt.Key.Key_A, CTRL)
    qtbot.keyClicks(window.seconds_spin, "3")
    # Ctrl+Enter from the length box generates 3 s; the keys then go to the dope sheet.
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=GENERATION_TIMEOUT_MS):
        qtbot.keyClick(window.seconds_spin, Qt.Key.Key_Return, CTRL)
    assert window.prompt_edit.toPlainText() == "a person walks forward" and window.project.seconds == 3.0
    assert window.project.motion.shape == (60, 22, 3)
    focused = QApplication.focusWidget()
    # Space plays and pauses, Right steps, K keys the pose at the playhead, Up/Down jump between keys.
    qtbot.keyClick(focused, Qt.Key.Key_Space)
    assert window.playback.is_playing
    qtbot.keyClick(focused, Qt.Key.Key_Space)
    assert not window.playback.is_playing
    window_frame = window.frame
    for _ in range(10):
        qtbot.keyClick(focused, Qt.Key.Key_Right)
    assert window.frame == window_frame + 10
    qtbot.keyClick(focused, Qt.Key.Key_K)
    keyed = window.frame
    assert [k.frame() for k in window.project.keys] == [keyed]
    qtbot.waitUntil(lambda: not window.timeline.stale_spans, timeout=30_000)
    for _ in range(5):
        qtbot.keyClick(focused, Qt.Key.Key_Left)
    qtbot.keyClick(focused, Qt.Key.Key_Up)
    assert window.frame == keyed and window.selected_key == 0
    # Tab to the BVH export button and press it with Space: the file is written.
    out = tmp_path / "walk.bvh"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(out), ""))
    tab_to(qtbot, window.export_buttons["bvh"])
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=60_000):
        qtbot.keyClick(window.export_buttons["bvh"], Qt.Key.Key_Space)
    assert read_bvh(out).n_frames == 60 and str(out) in window.message_label.text()
    assert QApplication.focusWidget() is window.export_buttons["bvh"]
    # Ctrl+S saves the project from there.
    project = tmp_path / "walk.keymask.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(project), ""))
    qtbot.keyClick(window.export_buttons["bvh"], Qt.Key.Key_S, CTRL)
    assert project.exists() and window.stack.isClean()


def test_a_focused_regenerate_button_shows_its_whole_text(qtbot, open_window, tmp_path):
    window = small_window(open_window, walking_project(tmp_path))
    keep_first_second(qtbot, window)
    button = window.generate_button
    assert button.text() == "Regenerate outside kept spans"
    focus(qtbot, window, window.timeline)
    tab_to(qtbot, button, backwards=True)
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=GENERATION_TIMEOUT_MS):
        qtbot.keyClick(button, Qt.Key.Key_Space)
    assert QApplication.focusWidget() is button
    qtbot.wait(20)
    image = button.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    rows = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8)
    dark = rows.reshape(image.height(), image.bytesPerLine())[:, :image.width()] < 90
    columns = np.nonzero(dark[4:-4].any(axis=0))[0]  # the text's columns, inside the focus ring
    drawn, whole = columns.max() - columns.min() + 1, button.fontMetrics().horizontalAdvance(button.text())
    assert drawn >= whole - 4, (drawn, whole)  # not cut off at either end
