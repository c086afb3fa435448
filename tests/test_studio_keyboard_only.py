"""The acceptance audit of issue 14 with the keyboard only, at 1280 x 720 (pytest-qt under Xvfb, the shipped
model): every Tab stop shows the focus ring, the GIF export is big enough to see, and a whole session from launch to export needs no mouse."""

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor
from PIL import Image
from PyQt6.QtWidgets import QApplication, QFileDialog

from keymask.studio.main_window import FOCUS_COLOUR
from keymask.studio.worker import GIF_PANEL
from test_studio_app import colour_pixels, focus, open_window, studio_folders, walking_project  # noqa: F401
from test_studio_first_session import in_window, small_window


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
