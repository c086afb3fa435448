"""The studio on a small screen (pytest-qt under Xvfb, real resizes of the real window): at 1024 x 700 the
window takes that size, the side panel keeps to about a third of it, and every control is in view."""

from PyQt6.QtCore import QPoint, QRect, QSize

from test_studio_app import open_window, studio_folders, window  # noqa: F401


def in_window(widget) -> QRect:
    """The widget's rectangle in its window's coordinates."""
    return QRect(widget.mapTo(widget.window(), QPoint(0, 0)), widget.size())


def test_the_window_resizes_to_1024_by_700_with_every_control_in_view(qtbot, window):
    for width, height in ((1280, 720), (1024, 700)):
        window.resize(width, height)
        qtbot.waitUntil(lambda: window.size() == QSize(width, height), timeout=5000)
        qtbot.wait(50)
        assert window.width() == width
        assert window.side_panel.width() <= 0.36 * width  # the 3D view keeps most of the window
        for button in window.export_buttons.values():
            assert button.isVisible() and window.rect().contains(in_window(button)), (button.text(), width)
            assert button.visibleRegion().boundingRect() == button.rect(), button.text()
        # The key pose buttons fit the narrow panel whole, without a scroll.
        scroll = window.side_panel.scroll
        assert not scroll.verticalScrollBar().isVisible()
        viewport = QRect(scroll.viewport().mapTo(window, QPoint(0, 0)), scroll.viewport().size())
        assert viewport.contains(in_window(window.constrain_box))
        for button in (window.add_key_button, window.delete_key_button, window.mirror_button, window.reset_button,
                       window.load_pose_button, window.photo_button, window.imagine_button):
            assert viewport.contains(in_window(button)), (button.text(), width)
            assert button.width() > button.fontMetrics().horizontalAdvance(button.text()) + 8, button.text()
