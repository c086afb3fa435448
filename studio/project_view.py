"""Project -> widgets: the window's widgets made to show the project they edit.

Every edit goes through a command on the window's undo stack (commands.py), which changes the project
and says which part changed ("settings", "keys", "motions", ...); `ProjectView.show(part)` then puts
that part into the widgets. It does so `quietly`: while it sets them, the widgets' own change signals
(a spin box's valueChanged, the sample list's currentIndexChanged) are not edits, which the window's
slots see in `quiet`. It never changes the project.
"""

from contextlib import contextmanager

from PyQt6.QtCore import QObject

from keymask.core.spec import HUMANML3D
from keymask.studio.posing import key_figure

FPS = HUMANML3D.fps
PARTS = ("settings", "motions", "keys", "spans", "pins", "root path")  # everything, in the order shown


class ProjectView(QObject):
    """Shows the project of `window` (studio/main_window.py) in its widgets: its project, selected key,
    playhead (`frame`, `set_frame`), local re-solves, title and imagine button."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.quiet = False  # True while the widgets are set from the project

    @contextmanager
    def quietly(self):
        """Widgets set from the project here do not send their changes back as edits."""
        quiet, self.quiet = self.quiet, True
        try:
            yield
        finally:
            self.quiet = quiet

    def show(self, part: str) -> None:
        """Put one changed part of the project into the widgets."""
        with self.quietly():
            {"settings": self._settings, "export": self._settings, "keys": self._keys, "spans": self._spans,
             "motions": self._motions, "sample": self._sample, "resolved": self._resolved,
             "pins": lambda: self.window.viewport.set_pins(self.window.project.pins),
             "root path": self._root_path}[part]()

    def show_everything(self) -> None:
        for part in PARTS:
            self.show(part)
        self.window.show_title()
        self.window.show_imagine_state()

    def show_key(self) -> None:
        """The selected key on the timeline, the canvas, the lifted view and the key buttons."""
        w = self.window
        w.timeline.set_selected_key(w.selected_key)
        index = w.selected_key
        w.pose_group.show_key(None if index is None else w.project.keys[index], index, len(w.project.keys))

    # ---- the parts -----------------------------------------------------------------------------

    def _settings(self) -> None:
        w = self.window
        w.motion_group.show_settings(w.project)
        w.export_group.show_export(w.project.export)
        self._length()

    def _length(self) -> None:
        w = self.window
        motion = w.project.motion
        if motion is not None:
            frames = len(motion)
        elif w.project.seconds is not None:
            frames = int(round(w.project.seconds * FPS))
        else:
            frames = HUMANML3D.max_frames
        w.timeline.set_length(frames, FPS)
        w.playback.set_length(frames, FPS)
        w.set_frame(min(w.frame, frames - 1))

    def _keys(self) -> None:
        w = self.window
        w.timeline.set_keys([k.frame(FPS) for k in w.project.keys],
                            [(k.hold_frames(FPS), k.ease_frames(FPS)) for k in w.project.keys])
        if w.selected_key is not None and w.selected_key >= len(w.project.keys):
            w.selected_key = None
        self.show_key()
        self._ghosts()

    def _ghosts(self) -> None:
        w = self.window
        keys, motion = w.project.keys, w.project.motion
        w.viewport.set_key_ghosts([key_figure(k, motion, FPS) for k in keys], [k.frame(FPS) for k in keys])
        w.viewport.refresh_pose()  # pose mode poses the key at the playhead as its ghost shows it

    def _root_path(self) -> None:
        path = self.window.project.root_path
        self.window.viewport.set_root_path(None if path is None else path.points)

    def _spans(self) -> None:
        w = self.window
        w.timeline.set_keep_spans([(int(round(a * FPS)), int(round(b * FPS))) for a, b in w.project.keep_spans])
        editing = bool(w.project.keep_spans) and w.project.motion is not None
        w.generate_button.setText("Regenerate outside kept spans" if editing else "Generate")

    def _resolved(self) -> None:
        """Motions re-solved around a key: same length and samples, the camera left where it is."""
        motions = self.window.project.motions
        self.window.viewport.set_motions(motions, [f"sample {i + 1}" for i in range(len(motions))], frame_camera=False)
        self._ghosts()

    def _motions(self) -> None:
        w = self.window
        w.resolves.motions_replaced()
        motions = w.project.motions
        w.viewport.set_motions(motions, [f"sample {i + 1}" for i in range(len(motions))])
        w.sample_box.clear()
        w.sample_box.addItems([f"sample {i + 1}" for i in range(len(motions))])
        self._sample()
        w.motion_group.show_length(w.project)
        self._length()
        self._spans()

    def _sample(self) -> None:
        w = self.window
        w.sample_box.setCurrentIndex(w.project.chosen_sample if w.project.motions else -1)
        w.viewport.set_selected(w.project.chosen_sample)
        self._ghosts()
