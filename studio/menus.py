"""The studio window's menu bar, its window-wide keys, and the dialogs that menus and buttons open.

Keys (window-wide, as in Blender where it has one; each is also a menu entry, which shows it):
I or K key the pose the 3D figure shows at the playhead (a 3D key; without a motion yet, the 2D
drawing, as the status line says; a frame with a key already selects it), Shift+I or Shift+K add
the 2D canvas's drawing as a key there, Space plays/pauses, Left/Right step a frame, Up/Down jump
to the next/previous key, F frames the figure, 1/3/7 (or the keypad's) look from the front/side/top,
O shows onion skins, D draws a root path on the floor and Shift+D clears it, Ctrl+Enter generates
(typed in the prompt, it leaves the prompt for the dope sheet, where Space plays); the Pose menu's
keys are the 3D view's (pose_mode.py).
A focused text field keeps the keys it types (Qt's own rule: it takes the shortcut override), and a
focused button or list keeps the keys it uses itself (`OwnKeys`): Space on a focused button
presses that button and does not also play. A number field (a spin box, where Tab from the prompt
goes) cannot type letters, so it hands them to the window's keys (`NumberFieldLetters`): I there keys
the pose as anywhere else.

A dialog asks for a file or a text and hands it to the window's own method (open_project, save_to,
load_pose, and its jobs' open_motion, pose_from_photo, imagine, export_to); cancelled, it does nothing.
"""

from pathlib import Path

from PyQt6.QtCore import QEvent, QObject, Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFileDialog,
    QInputDialog,
)

from keymask.studio.project import SUFFIX

MOTION_FILES = "Motions (*.bvh *.npy);;BVH motion (*.bvh);;Joint positions at 20 fps (*.npy)"
EXPORT_KINDS = {"bvh": "BVH motion (*.bvh)", "npy": "Joint positions (*.npy)", "gif": "GIF preview (*.gif)"}


class OwnKeys(QObject):
    """An event filter that lets a focused button or list keep the keys it uses itself, which the
    window's shortcuts would otherwise take first: it accepts their shortcut override."""

    KEYS = ((QAbstractButton, {Qt.Key.Key_Space}), (QComboBox, {Qt.Key.Key_Space, Qt.Key.Key_Up, Qt.Key.Key_Down}))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            if any(isinstance(watched, kind) and event.key() in keys for kind, keys in self.KEYS):
                event.accept()
                return True
        return False


class NumberFieldLetters(QObject):
    """An event filter that hands a letter typed in a focused spin box (which cannot type it) to the
    window's keys: it refuses the shortcut override Qt's line edit takes for any printable key. A
    letter that is no window key still reaches the spin box."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.ShortcutOverride and isinstance(watched, QAbstractSpinBox)
                and event.text().isalpha() and event.modifiers() in (Qt.KeyboardModifier.NoModifier,
                                                                     Qt.KeyboardModifier.ShiftModifier)):
            event.ignore()
            return True
        return False


def build_menus(window) -> None:
    """File and Edit menus (the window's `undo_action` and `redo_action`), and Ctrl+Enter for Generate."""
    files = window.menuBar().addMenu("&File")
    for text, shortcut, slot in (("&New", QKeySequence.StandardKey.New, window.new_project),
                                 ("&Open…", QKeySequence.StandardKey.Open, lambda: open_project_dialog(window)),
                                 ("Open &motion…", QKeySequence("Ctrl+Shift+O"), lambda: open_motion_dialog(window)),
                                 ("&Save", QKeySequence.StandardKey.Save, window.save),
                                 ("Save &as…", QKeySequence.StandardKey.SaveAs, lambda: save_as_dialog(window)),
                                 ("&Weight locations…", None, window.edit_settings),
                                 ("&Quit", QKeySequence.StandardKey.Quit, window.close)):
        action = files.addAction(text)
        action.triggered.connect(lambda _=False, s=slot: s())
        if shortcut is not None:
            action.setShortcut(shortcut)
    edit = window.menuBar().addMenu("&Edit")
    window.undo_action = window.stack.createUndoAction(window, "&Undo")
    window.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
    window.redo_action = window.stack.createRedoAction(window, "&Redo")
    window.redo_action.setShortcut(QKeySequence.StandardKey.Redo)
    edit.addActions([window.undo_action, window.redo_action])
    generate = QAction("Generate", window)
    generate.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
    generate.triggered.connect(lambda: generate_by_keys(window))
    window.addAction(generate)


def generate_by_keys(window) -> None:
    """Ctrl+Enter: Generate. Typed in the prompt or a number field (the length, the seed), it also leaves
    the field for the dope sheet, as Enter leaves a text field in Blender: Space then plays the motion and
    the arrows step it, where in the field they would type into it. (An empty prompt keeps the focus, to
    type one.)"""
    if not window.generate_button.isEnabled():
        return
    focused = QApplication.focusWidget()
    in_a_field = focused is window.prompt_edit or isinstance(focused, QAbstractSpinBox)
    if in_a_field and window.project.prompt.strip():
        window.timeline.setFocus(Qt.FocusReason.ShortcutFocusReason)
    window.foreground_jobs.generate()


def build_keys(window) -> dict[str, QAction]:
    """The Animation, View and Pose menus with the window-wide keys, by name; and the filters that let a
    focused button or list keep its own keys and a spin box hand on the letters it cannot type."""
    viewport = window.viewport
    key_actions: dict[str, QAction] = {}
    menus = {"animation": window.menuBar().addMenu("&Animation"), "view": window.menuBar().addMenu("&View")}
    for menu, name, text, keys, slot in (
            ("animation", "play", "Play/pause", ["Space"], window.playback.toggle),
            ("animation", "key_pose", "Key the current pose", ["I", "K"],
             lambda: window.key_current_pose(window.frame)),
            ("animation", "add_drawing", "Add the 2D drawing as a key", ["Shift+I", "Shift+K"],
             lambda: window.add_key(window.frame)),
            ("animation", "previous_frame", "Previous frame", ["Left"], lambda: window.step_frames(-1)),
            ("animation", "next_frame", "Next frame", ["Right"], lambda: window.step_frames(1)),
            ("animation", "next_key", "Next key", ["Up"], lambda: window.jump_to_key(1)),
            ("animation", "previous_key", "Previous key", ["Down"], lambda: window.jump_to_key(-1)),
            ("animation", "clear_path", "Clear root path", ["Shift+D"], window.clear_root_path),
            ("view", "frame", "Frame the figure", ["F"], viewport.frame_figure),
            ("view", "front", "Front view", ["1", "Num+1"], lambda: viewport.set_view("front")),
            ("view", "side", "Side view", ["3", "Num+3"], lambda: viewport.set_view("side")),
            ("view", "top", "Top view", ["7", "Num+7"], lambda: viewport.set_view("top"))):
        action = menus[menu].addAction(text)
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _=False, s=slot: s())
        key_actions[name] = action
    menus["animation"].insertAction(key_actions["clear_path"], viewport.draw_path_action)  # D; viewport.py
    menus["view"].addSeparator()
    menus["view"].addAction(viewport.onion_action)  # O; viewport.py
    window.menuBar().addMenu("&Pose").addActions(list(viewport.pose_actions.values()))  # keys: pose_mode.py
    own_keys, letters = OwnKeys(window), NumberFieldLetters(window)
    for widget in window.findChildren(QAbstractButton) + window.findChildren(QComboBox):
        widget.installEventFilter(own_keys)
    for spin_box in window.findChildren(QAbstractSpinBox):
        spin_box.installEventFilter(letters)
    return key_actions


# ---- dialogs ---------------------------------------------------------------------------------------

def open_project_dialog(window) -> None:
    if window.may_discard():
        path, _ = QFileDialog.getOpenFileName(window, "Open project", "", f"KeyMask projects (*{SUFFIX} *.json)")
        if path:
            window.recovery.forget()
            window.open_project(path)
            window.recovery.offer("ask")


def save_as_dialog(window) -> bool:
    """True when the project was saved."""
    path, _ = QFileDialog.getSaveFileName(window, "Save project", str(window.path or "untitled" + SUFFIX),
                                          f"KeyMask projects (*{SUFFIX})")
    if not path:
        return False
    window.save_to(path if path.endswith(".json") else path + SUFFIX)
    return window.stack.isClean()


def open_motion_dialog(window) -> None:
    path, _ = QFileDialog.getOpenFileName(window, "Open a motion", "", MOTION_FILES)
    if path:
        window.foreground_jobs.open_motion(path)


def load_pose_dialog(window) -> None:
    path, _ = QFileDialog.getOpenFileName(window, "Load a pose", "", "Pose files (*.json)")
    if path:
        window.load_pose(path)


def photo_dialog(window) -> None:
    path, _ = QFileDialog.getOpenFileName(window, "Pose from a photo", "", "Images (*.jpg *.jpeg *.png *.bmp *.webp)")
    if path:
        window.foreground_jobs.pose_from_photo(path)


def imagine_dialog(window) -> None:
    prompt, ok = QInputDialog.getText(window, "Imagine a pose", "Describe the pose:")
    if ok and prompt.strip():
        window.foreground_jobs.imagine(prompt.strip())


def export_dialog(window, kind: str) -> None:
    suggested = (window.path.with_suffix("").with_suffix("") if window.path else Path("motion")).with_suffix("." + kind)
    path, _ = QFileDialog.getSaveFileName(window, "Export", str(suggested), EXPORT_KINDS[kind])
    if path:
        window.foreground_jobs.export_to(path if path.lower().endswith("." + kind) else path + "." + kind, kind)
