"""Conventions animators know (issue 14), driven with real keys and mouse events on the real window (pytest-qt
under Xvfb): the progress bar is hidden while no job runs, its place kept."""

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QFileDialog

from test_studio_app import open_window, studio_folders, walking_project  # noqa: F401
from test_studio_first_session import in_window


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
