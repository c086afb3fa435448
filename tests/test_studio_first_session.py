"""What a new animator met in a first session with the studio at 1280 x 720, each checked with real keys and
mouse events on the real window (pytest-qt under Xvfb, the shipped model): the side panel stays put when the
first messages come, Ctrl+Enter in the prompt hands the keys to the dope sheet, a job gives the keyboard focus
back to the button that started it, a focused tool button keeps its text, draw-path mode says it is on and
what a stroke did, and the status bar is there before the first message."""

import numpy as np
from PyQt6.QtCore import QPoint, QRect, Qt
from PyQt6.QtGui import QColor, QImage
from PyQt6.QtWidgets import QApplication, QFileDialog, QStyle, QStyleOptionComboBox

from test_studio_app import (GENERATION_TIMEOUT_MS, focus, open_window, studio_folders,  # noqa: F401
                             walking_project)
from test_studio_root_path import view_point

CTRL = Qt.KeyboardModifier.ControlModifier
SMALL_SCREEN = (1280, 720)
PROMPT = "a person walks forward and waves with the right hand"


def small_window(open_window, *args):
    window = open_window(*args, recover="no")
    window.resize(*SMALL_SCREEN)
    QApplication.processEvents()
    return window


def in_window(widget) -> QRect:
    """The widget's rectangle in its window's coordinates."""
    return QRect(widget.mapTo(widget.window(), QPoint(0, 0)), widget.size())


def type_prompt_and_generate(qtbot, window, prompt: str = PROMPT) -> None:
    focus(qtbot, window, window.prompt_edit)
    qtbot.keyClicks(window.prompt_edit, prompt)
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=GENERATION_TIMEOUT_MS):
        qtbot.keyClick(window.prompt_edit, Qt.Key.Key_Return, CTRL)
    assert not window.error_label.isVisible(), window.error_label.text()


def text_pixels(image: QImage) -> int:
    """Dark pixels (the text of a light button) in an image."""
    image = image.convertToFormat(QImage.Format.Format_Grayscale8)
    rows = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8)
    return int((rows.reshape(image.height(), image.bytesPerLine())[:, :image.width()] < 90).sum())


def test_the_side_panel_stays_put_when_the_first_messages_come(qtbot, open_window):
    window = small_window(open_window)
    scroll = window.side_panel.scroll
    key_buttons = (window.add_key_button, window.delete_key_button, window.load_pose_button, window.photo_button)
    before = [in_window(b) for b in key_buttons], window.canvas.height()
    assert not scroll.verticalScrollBar().isVisible()

    # "Working…", then the result's sentence: a word-wrapped label with text must not turn the side panel
    # into a scrolled one with the 2D canvas at its preferred size and the key buttons below the fold.
    type_prompt_and_generate(qtbot, window)
    qtbot.wait(50)
    assert "1 motion(s) of" in window.message_label.text()
    # made from training clips: the status bar names their sources, its tooltip their licences as the command line
    assert window.credit_label.text().startswith("Made from clips of ") and window.credit_label.isVisible()
    assert "CC BY" in window.credit_label.toolTip() and "Cite:" in window.credit_label.toolTip()
    assert not scroll.verticalScrollBar().isVisible()
    assert ([in_window(b) for b in key_buttons], window.canvas.height()) == before
    viewport = QRect(scroll.viewport().mapTo(window, QPoint(0, 0)), scroll.viewport().size())
    for button in key_buttons:
        assert viewport.contains(in_window(button)), button.text()

    # The Export group lines up with the groups above it.
    assert (in_window(window.export_group).left(), in_window(window.export_group).right()) == \
        (in_window(window.motion_group).left(), in_window(window.motion_group).right())

    # A message of three lines takes three lines: the prompt and Generate stay whole above it.
    window.message_label.setText("Opened a_mixamo_walk_cycle_with_a_long_name.bvh: 60 frames (3.0 s at 20 fps). BVH "
                                 "exports go onto its rig at 30 fps (untick \"onto its rig\" for ours).")
    qtbot.wait(50)
    assert window.message_label.height() >= 3 * window.message_label.fontMetrics().height()
    assert in_window(window.prompt_edit).bottom() < in_window(window.seconds_spin).top()
    assert in_window(window.generate_button).bottom() < in_window(window.message_label).top()

    # The sample to use shows its whole name.
    box = window.sample_box
    assert box.currentText() == "sample 1"
    option = QStyleOptionComboBox()
    box.initStyleOption(option)
    field = box.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                       QStyle.SubControl.SC_ComboBoxEditField, box)
    assert field.width() >= box.fontMetrics().horizontalAdvance("sample 1")


def test_ctrl_enter_in_the_prompt_hands_the_keys_to_the_dope_sheet(qtbot, open_window):
    window = small_window(open_window)
    # An empty prompt: the sentence says why, and the keyboard stays in the prompt to type one.
    focus(qtbot, window, window.prompt_edit)
    qtbot.keyClick(window.prompt_edit, Qt.Key.Key_Return, CTRL)
    assert window.error_label.text() == "Type what the person does first."
    assert QApplication.focusWidget() is window.prompt_edit

    type_prompt_and_generate(qtbot, window)
    assert QApplication.focusWidget() is window.timeline
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)  # plays, and types nothing into the prompt
    assert window.playback.is_playing
    qtbot.waitUntil(lambda: window.frame > 3, timeout=5000)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert not window.playback.is_playing
    frame = window.frame
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Right)
    assert window.frame == frame + 1
    assert window.prompt_edit.toPlainText() == PROMPT and window.project.prompt == PROMPT


def test_a_job_gives_the_keyboard_focus_back_to_the_button_that_started_it(qtbot, open_window, tmp_path,
                                                                             monkeypatch):
    window = small_window(open_window, walking_project(tmp_path))
    out = tmp_path / "walk.bvh"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(out), ""))
    bvh = window.export_buttons["bvh"]
    focus(qtbot, window, bvh)
    during = []
    window.jobs.worker.progress.connect(lambda *args: during.append(QApplication.focusWidget()))
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=60_000):
        qtbot.keyClick(bvh, Qt.Key.Key_Space)  # Space on the focused button exports
        assert QApplication.focusWidget() is window.cancel_button  # Space there now would cancel
    assert out.exists() and "Wrote" in window.message_label.text()
    assert QApplication.focusWidget() is bvh and not window.viewport.posing
    out.unlink()
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=60_000):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)  # the same key does the same again
    assert out.exists() and not window.viewport.posing and QApplication.focusWidget() is bvh

    # Generate clicked: the focus comes back to Generate, and the side panel has not scrolled to another control.
    qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
    assert QApplication.focusWidget() is window.cancel_button
    qtbot.waitUntil(lambda: not window.foreground_jobs.busy, timeout=GENERATION_TIMEOUT_MS)
    assert QApplication.focusWidget() is window.generate_button
    assert window.side_panel.scroll.verticalScrollBar().value() == 0


def test_a_focused_tool_button_keeps_its_text(qtbot, open_window):
    window = small_window(open_window)
    ring = QColor("#3d9df3")
    for button in (window.viewport.pose_button, window.viewport.follow_button):
        focus(qtbot, window, window.prompt_edit)
        qtbot.wait(20)
        plain = text_pixels(button.grab().toImage())
        focus(qtbot, window, button)
        qtbot.wait(20)
        image = button.grab().toImage()
        assert image.pixelColor(button.width() // 2, 0).name() == ring.name()  # the focus ring is drawn
        assert text_pixels(image) >= 0.8 * plain > 0, button.text()  # "Pose", not "..."


def test_draw_path_mode_says_it_is_on_and_what_a_stroke_did(qtbot, open_window, tmp_path):
    window = small_window(open_window, walking_project(tmp_path, frames=80))
    viewport, view = window.viewport, window.viewport.view
    assert not viewport.path_hint.isVisible()
    focus(qtbot, window, view)
    qtbot.keyClick(view, Qt.Key.Key_7)
    qtbot.keyClick(view, Qt.Key.Key_D)
    assert viewport.drawing_path and viewport.path_hint.isVisible() and "Esc" in viewport.path_hint.text()
    assert view.cursor().shape() == Qt.CursorShape.CrossCursor

    walk = window.project.motion
    points = [view_point(viewport, walk[0, 0, [0, 2]] + [0.3 * np.sin(s * np.pi), 0.5 + 2.5 * s])
              for s in np.linspace(0.0, 1.0, 20)]  # 2.5 m along the walk, bending 0.3 m aside
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=points[0])
    for point in points[1:]:
        qtbot.mouseMove(view, point)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=points[-1])
    assert window.project.root_path is not None
    text = window.message_label.text()
    assert text.startswith("Root path drawn: 2.6 m,") and "frames 0 to 79" in text and "Generate follows it" in text

    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert not viewport.drawing_path and not viewport.path_hint.isVisible()
    assert view.cursor().shape() == Qt.CursorShape.ArrowCursor
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=GENERATION_TIMEOUT_MS):
        qtbot.keyClick(view, Qt.Key.Key_Return, CTRL)
    assert window.message_label.text().endswith("; the pelvis follows the root path.")


def test_the_status_bar_is_there_before_the_first_message(qtbot, open_window):
    window = small_window(open_window)
    assert window.statusBar().isVisible()
    area = in_window(window.motion_area)
    focus(qtbot, window, window.prompt_edit)
    qtbot.keyClick(window.prompt_edit, Qt.Key.Key_Return, CTRL)  # no prompt: an error, in the status bar too
    qtbot.wait(50)
    assert window.statusBar().currentMessage() == "Type what the person does first."
    assert in_window(window.motion_area) == area  # the 3D view and the dope sheet did not shrink
