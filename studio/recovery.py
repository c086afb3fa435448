"""Crash recovery: unsaved edits are written to a recovery file, which the next start offers to restore.

A recovery file exists exactly while the open project has unsaved edits: after every change of the
undo stack (and every local re-solve) the project is written to it (project.py's write_recovery,
atomically), and it is removed when the project is saved, replaced or closed. On start the window
restores the newest one (recover="yes"), or asks with a window-modal question once the window is on
the screen and drawn (recover="ask"), saying when the edits were made and what they hold; declined
edits are removed, so they are not offered again.
"""

from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from PyQt6.QtCore import QObject, QTimer
from PyQt6.QtWidgets import QMessageBox

from keymask.core.spec import HUMANML3D
from keymask.studio.project import (
    Project,
    read_recovery,
    recovery_dir,
    recovery_is_newer,
    recovery_path,
    summary,
    write_recovery,
)
from keymask.studio.worker import readable


class CrashRecovery(QObject):
    """The recovery file of `window` (studio/main_window.py): its project, path and undo stack; it
    restores through `replace_project` and speaks through `show_error` and the message line."""

    def __init__(self, window, *, ask_when_shown: bool):
        super().__init__(window)
        self.window = window
        self.dialog: QMessageBox | None = None  # the question, while it is open
        self._ask_when_shown = ask_when_shown  # the question waits for the window to be drawn
        self._paused = False

    @property
    def file(self) -> Path:
        return recovery_path(self.window.path)

    @contextmanager
    def paused(self):
        """Changes of the undo stack here are no edits (a project replaced): the file stays as it is."""
        self._paused = True
        try:
            yield
        finally:
            self._paused = False

    def autosave(self) -> None:
        """A recovery file exactly while there are unsaved edits."""
        if self._paused:
            return
        w = self.window
        try:
            if w.stack.isClean():
                self.forget()
            else:
                write_recovery(self.file, w.project, w.path)
        except Exception as error:
            w.show_error(f"The recovery file could not be written: {readable(error)}")
        w.show_title()

    def forget(self) -> None:
        self.file.unlink(missing_ok=True)

    def offer(self, recover: str) -> None:
        """Unsaved edits a killed studio left behind: restored ("yes"), or asked about first ("ask")."""
        found = self._newest()
        if found is None or recover == "no":
            return
        if recover == "yes":
            self._restore(*found)
        else:
            self._ask_to_restore(*found)

    def window_shown(self) -> None:
        if self._ask_when_shown:
            self._ask_when_shown = False
            QTimer.singleShot(0, self._ask_when_painted)

    def _ask_when_painted(self) -> None:
        """The recovery question, once the window is on the screen and drawn (not over a black window)."""
        w = self.window
        if not w.isVisible():
            self._ask_when_shown = True  # hidden again before it was drawn: ask on the next show
        elif w.windowHandle() is None or not w.windowHandle().isExposed():
            QTimer.singleShot(20, self._ask_when_painted)
        else:
            w.repaint()
            self.offer("ask")

    def _ask_to_restore(self, file: Path, project: Project, belongs: Path | None) -> None:
        """A window-modal question that says when the edits were made and what they hold."""
        edited = datetime.fromtimestamp(file.stat().st_mtime)
        day = "today" if edited.date() == datetime.now().date() else f"on {edited:%a %d %b %Y}"
        box = QMessageBox(QMessageBox.Icon.Question, "Restore unsaved edits?",
                          f"KeyMask Studio was closed before {belongs.name if belongs else 'an untitled project'} "
                          "was saved. Restore the unsaved edits?", parent=self.window)
        box.setInformativeText(f"Edited {day} at {edited:%H:%M}: {summary(project, HUMANML3D.fps)}.")
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.button(QMessageBox.StandardButton.Yes).setText("Restore")
        box.button(QMessageBox.StandardButton.No).setText("Discard")
        box.setDefaultButton(QMessageBox.StandardButton.Yes)

        def answered() -> None:
            self.dialog = None
            if box.clickedButton() is box.button(QMessageBox.StandardButton.Yes):
                self._restore(file, project, belongs)
            else:
                file.unlink(missing_ok=True)  # declined: not offered again

        box.finished.connect(answered)
        self.dialog = box
        box.open()

    def _restore(self, file: Path, project: Project, belongs: Path | None) -> None:
        w = self.window
        w.replace_project(project, belongs)
        w.stack.resetClean()  # restored edits are not saved yet
        self.autosave()
        w.message_label.setText("Restored the unsaved edits.")

    def _newest(self) -> tuple[Path, Project, Path | None] | None:
        """The recovery of the open project, or with none open, the newest recovery of any project."""
        files = [self.file] if self.window.path else sorted(recovery_dir().glob("*.recovery.json"),
                                                            key=lambda f: f.stat().st_mtime_ns, reverse=True)
        for file in files:
            try:
                project, belongs = read_recovery(file)
            except Exception as error:
                if file.exists():
                    self.window.show_error(f"A recovery file could not be read: {readable(error)}")
                continue
            if recovery_is_newer(file, belongs):
                return file, project, belongs
        return None
