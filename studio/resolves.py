"""Local re-solves: after a key edit only the stretch of motion it touches is solved again, in the background.

Adding a key, moving it on the timeline, changing its pose, hold or ease, or deleting it marks the
stretch it touches stale on the timeline (conditioning/resolve.py's stale_stretch: to the
neighbouring key or kept span, at most a second either side, or the key's ease where that is
longer) and re-solves only that stretch in a worker thread of its own, so it never waits behind a
generation. A deleted key's stretch lets go of its pose (resolve.py's release_stretch); a key whose
hold or ease changed is let go of as it was and then solved through as it is, so the new timing
shows at once. The result is attached to the key's own undo command (one undo takes back both);
frames outside the stretch stay exactly as they were. Edits are re-solved in turn, each on the
motions as they are when its turn comes; an edit undone meanwhile, merged into by a later one (arrow
turns of a joint), or whose motions were replaced (generated or opened: a generation already passes
the keys) is dropped.
"""

from dataclasses import dataclass

import numpy as np
from PyQt6.QtCore import QObject

from keymask.conditioning.resolve import RESOLVE_WINDOW, StretchKey, stale_stretch
from keymask.core.spec import HUMANML3D
from keymask.studio import commands
from keymask.studio.project import KeyPose
from keymask.studio.worker import ResolveJob, WorkerThread

FPS = HUMANML3D.fps


def _stretch_key(key: KeyPose) -> StretchKey:
    return StretchKey(key.pose3d, key.frame(FPS), key.constrain, key.hold_frames(FPS), key.ease_frames(FPS))


@dataclass(frozen=True, eq=False)
class _Waiting:
    edit: commands.KeyEdit
    key: KeyPose | None  # the key as the edit made it when asked (a merge makes another)
    stretch: tuple[int, int]  # [first, end) frames
    moved: tuple[int, int] | None  # (old frame, new frame) of a key moved in time
    released: StretchKey | None  # the key as it was, let go of first (deleted, or its timing changed)
    epoch: int  # the motions it was asked for (LocalResolves.epoch then)

    @property
    def current(self) -> bool:
        """Whether the edit still stands as it was asked for."""
        return self.edit.applied and self.key is self.edit.new


class LocalResolves(QObject):
    """The re-solves of `window` (studio/main_window.py): its project, undo stack, timeline, recovery
    file and `show_error`."""

    def __init__(self, window, thread: WorkerThread):
        super().__init__(window)
        self.window, self.thread = window, thread
        self.epoch = 0  # changes whenever the motions change other than by a re-solve
        self._waiting: list[_Waiting] = []
        self._running: ResolveJob | None = None  # its `edit` is the _Waiting it answers
        self._stack_index = 0

        thread.worker.finished.connect(self._finished)
        thread.worker.failed.connect(self._failed)

    def motions_replaced(self) -> None:
        """The motions changed other than by a re-solve: re-solves asked for the old ones are dropped."""
        self.epoch += 1

    def clear(self) -> None:
        """The project was replaced: nothing it asked for is re-solved."""
        self._waiting.clear()
        self._running = None
        self._stack_index = 0

    def stack_index_changed(self, index: int) -> None:
        """A key edit pushed, merged into (the index stays) or redone without its re-solve is re-solved;
        undone edits are not stale."""
        forward, self._stack_index = index >= self._stack_index, index
        top = self.window.stack.command(index - 1) if index > 0 else None
        asked = self._waiting + ([self._running.edit] if self._running else [])
        if (forward and isinstance(top, commands.KeyEdit) and top.applied and top.needs_resolve
                and not any(entry.edit is top and entry.current for entry in asked)):
            self._queue(top)
        self._show_stale()

    def _queue(self, edit: commands.KeyEdit) -> None:
        """Mark the stretch a key edit changes stale and ask for its re-solve."""
        project = self.window.project
        motion = project.motion
        if motion is None:
            return
        keys = [key for key in (edit.old, edit.new) if key is not None]
        edited = [key.frame(FPS) for key in keys]
        held = [key.frame(FPS) + key.hold_frames(FPS) for key in keys]
        others = project.keys if isinstance(edit, commands.DeleteKey) else [
            key for i, key in enumerate(project.keys) if i != edit.index]
        kept = [(int(round(a * FPS)), int(round(b * FPS))) for a, b in project.keep_spans]
        window = max([RESOLVE_WINDOW] + [key.ease_frames(FPS) for key in keys])  # the whole ease, where longer
        stretch = stale_stretch(len(motion), [f for f in edited + held if f < len(motion)],
                                [key.frame(FPS) for key in others], kept, window)
        if stretch is None:
            return
        moved = (edited[0], edited[1]) if len(edited) == 2 and edited[0] != edited[1] else None
        let_go = isinstance(edit, (commands.DeleteKey, commands.SetKeyTiming))
        released = _stretch_key(edit.old) if let_go else None
        self._waiting.append(_Waiting(edit, edit.new, stretch, moved, released, self.epoch))
        self._next()

    def _next(self) -> None:
        """Start the next waiting re-solve whose edit still stands, on the motions as they are now."""
        project = self.window.project
        while self._running is None and self._waiting:
            entry = self._waiting.pop(0)
            if not entry.current or entry.epoch != self.epoch or project.motion is None:
                continue
            keys = tuple(_stretch_key(k) for k in project.keys)
            self._running = ResolveJob(tuple(project.motions), keys, entry.stretch, entry.moved, edit=entry,
                                       released=entry.released)
            self.thread.submit(self._running)
        self._show_stale()

    def _finished(self, job: ResolveJob, motions) -> None:
        if job is not self._running:
            return  # asked for a project that has since been replaced
        self._running = None
        entry, now = job.edit, self.window.project.motions
        if entry.edit.applied and len(now) == len(job.motions) and all(a is b for a, b in zip(now, job.motions)):
            entry.edit.attach_resolved(list(job.motions), [np.asarray(m, dtype=np.float32) for m in motions], entry.key)
            self.window.recovery.autosave()
        self._next()

    def _failed(self, job: ResolveJob, message: str) -> None:
        if job is self._running:
            self._running = None
            self.window.show_error(f"The motion around the key pose could not be re-solved: {message}")
            self._next()

    def _show_stale(self) -> None:
        entries = self._waiting + ([self._running.edit] if self._running else [])
        self.window.timeline.set_stale_spans([entry.stretch for entry in entries if entry.edit.applied])
