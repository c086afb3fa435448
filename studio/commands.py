"""Every edit of a project as a QUndoCommand, so the studio's undo stack can take it back.

A command changes the `Project` it was given and then calls `notify(part)` with the part that
changed ("settings", "keys", "spans", "motions", "sample", "export", "pins", "root path", or
"resolved": motions re-solved around a key edit, the same length and view), which is how the
window learns what to redraw. Commands work on a bare Project: no window is needed to push, undo or redo
them. Key poses are frozen values; a command keeps the key as it was and as it becomes, so undo
and redo only swap values. A 2D pose edit is lifted to 3D once, when the command is made, so an
unliftable pose raises (LiftingError) before anything is pushed.
"""

from collections.abc import Callable
from dataclasses import replace

import numpy as np
from PyQt6.QtGui import QUndoCommand

from keymask.conditioning.lifting.lift import lift_pose
from keymask.conditioning.paths import RootPath
from keymask.conditioning.poses import COCO18_JOINTS, KeyPose3D, Pose2D
from keymask.studio.project import ExportSettings, KeyPose, Project

Notify = Callable[[str], None]
Lift = Callable[[Pose2D], KeyPose3D]

# Fields SetField may change: (the part that changes, the words of its undo text).
FIELDS = {
    "prompt": ("settings", "Edit prompt"),
    "seconds": ("settings", "Change length"),
    "seed": ("settings", "Change seed"),
    "samples": ("settings", "Change number of samples"),
    "guidance": ("settings", "Change guidance"),
    "steps": ("settings", "Change steps"),
    "exemplar_share": ("settings", "Change real clip share"),
    "export": ("export", "Change export settings"),
}
_MERGE_ID = 1000  # + the field's position in FIELDS
_KEY_RUN_ID = 2000  # key edits of one run


def _ignore(part: str) -> None:
    pass


class ProjectCommand(QUndoCommand):
    """A change of one part of `project`: subclasses set `part` and write `apply(value)`."""

    part = ""

    def __init__(self, project: Project, text: str, old, new, notify: Notify | None = None):
        super().__init__(text)
        self.project, self.old, self.new = project, old, new
        self.notify = notify or _ignore

    def apply(self, value) -> None:  # abstract: every concrete command defines it or its own redo/undo
        raise NotImplementedError(f"{type(self).__name__} defines neither apply(value) nor its own redo/undo.")

    def redo(self) -> None:
        self.apply(self.new)
        self.notify(self.part)

    def undo(self) -> None:
        self.apply(self.old)
        self.notify(self.part)


# ---- settings ------------------------------------------------------------------------------------

class SetField(ProjectCommand):
    """Set the prompt, a sampling setting or the export settings; consecutive edits of one field merge."""

    def __init__(self, project: Project, name: str, value, notify: Notify | None = None):
        if name not in FIELDS:
            raise ValueError(f"SetField cannot set {name!r}; it sets {', '.join(FIELDS)}.")
        if name == "export" and not isinstance(value, ExportSettings):
            raise TypeError("The export field takes ExportSettings.")
        self.name = name
        self.part, text = FIELDS[name]
        super().__init__(project, text, getattr(project, name), value, notify)

    def apply(self, value) -> None:
        setattr(self.project, self.name, value)

    def id(self) -> int:
        return _MERGE_ID + list(FIELDS).index(self.name)

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetField) or other.name != self.name:
            return False
        self.new = other.new
        self.setObsolete(self.new == self.old)  # typed and deleted again: nothing to undo
        return True


# ---- key poses -----------------------------------------------------------------------------------

class KeyEdit(ProjectCommand):
    """A key pose added, changed or deleted. The motion re-solved around it (the studio's local re-solve, which
    arrives later) is attached to the command, so that one undo takes back the edit and its motion.
    `applied` says whether the edit is in the project now (done, or redone after an undo).

    Edits of one key that share a non-empty `run` (the 3D view's arrow-key turns of one joint) merge into
    one undo step: the first edit's key as it was, the last one's as it became."""

    part = "keys"

    def __init__(self, project: Project, text: str, old, new, notify: Notify | None = None, run: str = ""):
        super().__init__(project, text, old, new, notify)
        self.run = run
        self.applied = False
        self.resolved: tuple[list[np.ndarray], list[np.ndarray]] | None = None  # motions (before, after)
        self.resolved_for = None  # the key (`new`) the attached motions were re-solved for

    @property
    def needs_resolve(self) -> bool:
        """Whether the motion has not been re-solved for the key as this edit makes it (yet, or since a merge)."""
        return self.resolved is None or self.resolved_for is not self.new

    def attach_resolved(self, before: list[np.ndarray], after: list[np.ndarray], key) -> None:
        """The motions re-solved for this (applied) edit making `key`: they replace `before` now and on every
        redo. After a merge the first re-solve's `before` stays what undo gives back."""
        self.resolved = (list(before) if self.resolved is None else self.resolved[0], list(after))
        self.resolved_for = key
        self._set_motions(after)

    def id(self) -> int:
        return _KEY_RUN_ID if self.run else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not (isinstance(other, ReplaceKey) and other.run == self.run and other.index == self.index):
            return False
        self.new = other.new
        return True

    def redo(self) -> None:
        self.apply(self.new)
        self.applied = True
        self.notify(self.part)
        if self.resolved is not None:
            self._set_motions(self.resolved[1])

    def undo(self) -> None:
        self.apply(self.old)
        self.applied = False
        self.notify(self.part)
        if self.resolved is not None:
            self._set_motions(self.resolved[0])

    def _set_motions(self, motions: list[np.ndarray]) -> None:
        self.project.motions = list(motions)
        self.notify("resolved")


class AddKey(KeyEdit):
    def __init__(self, project: Project, key: KeyPose, notify: Notify | None = None, run: str = ""):
        self.index = len(project.keys)
        super().__init__(project, "Add key pose", None, key, notify, run)

    def apply(self, value: KeyPose | None) -> None:
        if value is None:
            self.project.keys.pop()
        else:
            self.project.keys.append(value)


class DeleteKey(KeyEdit):
    def __init__(self, project: Project, index: int, notify: Notify | None = None):
        self.index = index
        super().__init__(project, "Delete key pose", project.keys[index], None, notify)

    def apply(self, value: KeyPose | None) -> None:
        if value is None:
            del self.project.keys[self.index]
        else:
            self.project.keys.insert(self.index, value)


class ReplaceKey(KeyEdit):
    """Any change of one key pose: the key as it was is swapped for the key as it becomes."""

    def __init__(self, project: Project, index: int, key: KeyPose, text: str, notify: Notify | None = None,
                 run: str = ""):
        self.index = index
        super().__init__(project, text, project.keys[index], key, notify, run)

    def apply(self, value: KeyPose) -> None:
        self.project.keys[self.index] = value


class MoveKey(ReplaceKey):
    def __init__(self, project: Project, index: int, time: float, notify: Notify | None = None):
        super().__init__(project, index, replace(project.keys[index], time=float(time)), "Move key pose", notify)


class SetKeyTiming(ReplaceKey):
    """A key's hold and ease (seconds), typed on the dope sheet."""

    def __init__(self, project: Project, index: int, hold: float, ease: float, notify: Notify | None = None):
        key = project.keys[index]
        words = [w for w, changed in (("hold", hold != key.hold), ("ease", ease != key.ease)) if changed]
        super().__init__(project, index, replace(key, hold=float(hold), ease=float(ease)),
                         f"Set {' and '.join(words) or 'timing'} of key pose {index + 1}", notify)


class SetConstraint(ReplaceKey):
    def __init__(self, project: Project, index: int, constrain: str, notify: Notify | None = None):
        super().__init__(project, index, replace(project.keys[index], constrain=constrain),
                         f"Constrain key pose: {constrain}", notify)


class EditPose(ReplaceKey):
    """A new 2D pose for a key (mirrored, reset, loaded, extracted, imagined), lifted to 3D. The lift is
    the body's pose only: where a key stands and faces (a 3D key's root position and facing) stays."""

    def __init__(self, project: Project, index: int, pose2d: Pose2D, text: str, notify: Notify | None = None,
                 lift: Lift | None = None):
        key = project.keys[index]
        pose3d = (lift or lift_pose)(pose2d)
        if key.pose3d is not None and key.pose3d.root_position is not None:
            pose3d = replace(pose3d, root_position=key.pose3d.root_position, facing=key.pose3d.facing)
        super().__init__(project, index, replace(key, pose2d=pose2d, pose3d=pose3d), text, notify)


class SetPose3D(ReplaceKey):
    """A 3D key pose from a file: it replaces the key's pose, and the key has no 2D pose any more."""

    def __init__(self, project: Project, index: int, pose3d: KeyPose3D, notify: Notify | None = None):
        super().__init__(project, index, replace(project.keys[index], pose2d=None, pose3d=pose3d),
                         "Load 3D key pose", notify)


class MoveJoint(EditPose):
    """One joint of a key's 2D pose dragged to `xy` (canvas pixels); a non-finite xy takes the joint
    away (missing). `base` is the pose drawn for a key that has none yet (one loaded from a 3D file)."""

    def __init__(self, project: Project, index: int, joint: int, xy: tuple[float, float], *,
                 base: Pose2D | None = None, notify: Notify | None = None, lift: Lift | None = None):
        pose = project.keys[index].pose2d or base
        if pose is None:
            raise ValueError("This key pose has no 2D pose to move a joint of.")
        keypoints, confidence = pose.keypoints.copy(), pose.confidence.copy()  # (18, 2), (18,)
        placed = bool(np.isfinite(xy).all())
        keypoints[joint] = xy if placed else (0.0, 0.0)  # pose files write a missing joint as 0, 0
        confidence[joint] = (confidence[joint] or 1.0) if placed else 0.0
        moved = replace(pose, keypoints=keypoints, confidence=confidence, source={**pose.source, "edited": True})
        name = COCO18_JOINTS[joint].replace("_", " ")
        super().__init__(project, index, moved, f"{'Move' if placed else 'Remove'} {name}", notify, lift)


class SetPins(ProjectCommand):
    """The limbs pinned while posing in 3D (one pinned or let go of)."""

    part = "pins"

    def __init__(self, project: Project, pins: frozenset[str], notify: Notify | None = None):
        pinned, freed = sorted(pins - project.pins), sorted(project.pins - pins)
        text = f"Pin {' and '.join(pinned)}" if pinned else f"Unpin {' and '.join(freed) or 'nothing'}"
        super().__init__(project, text.replace("_", " "), project.pins, frozenset(pins), notify)

    def apply(self, value: frozenset[str]) -> None:
        self.project.pins = value


class SetRootPath(ProjectCommand):
    """A root path drawn on the floor (the next generation follows it), or None: cleared."""

    part = "root path"

    def __init__(self, project: Project, path: RootPath | None, notify: Notify | None = None):
        super().__init__(project, "Draw root path" if path is not None else "Clear root path", project.root_path,
                         path, notify)

    def apply(self, value: RootPath | None) -> None:
        self.project.root_path = value


# ---- editing spans, samples, generated motions --------------------------------------------------

class SetKeepSpans(ProjectCommand):
    part = "spans"

    def __init__(self, project: Project, spans: list[tuple[float, float]], notify: Notify | None = None):
        super().__init__(project, "Change kept spans", list(project.keep_spans),
                         [(float(a), float(b)) for a, b in spans], notify)

    def apply(self, value) -> None:
        self.project.keep_spans = list(value)


class ChooseSample(ProjectCommand):
    part = "sample"

    def __init__(self, project: Project, index: int, notify: Notify | None = None):
        super().__init__(project, f"Choose sample {index + 1}", project.chosen_sample, index, notify)

    def apply(self, value: int) -> None:
        self.project.chosen_sample = value


class SetMotions(ProjectCommand):
    """The motions of a generation (or an edit) replace the project's; the first is chosen."""

    part = "motions"

    def __init__(self, project: Project, motions: list[np.ndarray], text: str = "Generate",
                 notify: Notify | None = None):
        super().__init__(project, text, (list(project.motions), project.chosen_sample),
                         ([np.asarray(m, dtype=np.float32) for m in motions], 0), notify)

    def apply(self, value) -> None:
        motions, chosen = value
        self.project.motions, self.project.chosen_sample = list(motions), chosen


class OpenMotion(ProjectCommand):
    """A motion from a file becomes the project's only motion, at its length; the kept spans (of the
    motion it replaces) are cleared and the export settings take the file's rig and frame rate."""

    part = "motions"

    def __init__(self, project: Project, motion: np.ndarray, export: ExportSettings, name: str,
                 fps: float, notify: Notify | None = None):
        def state(p: Project):
            return list(p.motions), p.chosen_sample, p.seconds, list(p.keep_spans), p.export

        super().__init__(project, f"Open motion {name}", state(project), None, notify)
        motion = np.asarray(motion, dtype=np.float32)
        self.new = ([motion], 0, round(len(motion) / fps, 2), [], export)

    def apply(self, value) -> None:
        p = self.project
        motions, p.chosen_sample, p.seconds, spans, p.export = value
        p.motions, p.keep_spans = list(motions), list(spans)

    def redo(self) -> None:
        self.apply(self.new)
        for part in ("settings", "spans", "motions"):
            self.notify(part)

    def undo(self) -> None:
        self.apply(self.old)
        for part in ("settings", "spans", "motions"):
            self.notify(part)
