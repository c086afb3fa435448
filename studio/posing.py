"""Posing in the 3D view: the pose being posed, and how a posed figure becomes a key.

`PoseEditor` holds the figure posed at the playhead (J, 3 joint positions in the motion's
coordinates, metres, Y up), the chosen joint and the pinned limbs. An edit (a drag of an effector,
a rotation of the chosen joint) is solved from the pose it began on at every step, by
conditioning/ik.py on rigid bones, so a drag is one edit however many steps it has; pinned limbs
keep their ends where they were. The editor knows nothing of Qt or the project: the viewport drives
it, and the window turns a finished edit into a key with `pose_command`.

The figure at the playhead (`figure_at`) is the key there as the 3D view's ghost shows it (on the
motion's body at that frame), else the chosen motion's own pose at that frame. A posed figure
becomes a `KeyPose3D` as the motion's own pose would (core/facing.py's canonical pose, with its
root position and facing), and a key at the playhead's frame: a new key if there is none, else
that key's pose replaced (its 2D drawing dropped). A key that only holds the body ("body") is
turned to the motion's facing and stands where the motion stands, so an edit that moved the pelvis
or turned the body makes the key hold its root and facing ("root"): what was posed is what stays.
"""

from dataclasses import replace

import numpy as np

from keymask.conditioning.ik import (
    EFFECTORS,
    PELVIS,
    hold_limbs,
    limb_bend,
    limb_of,
    move_body,
    rotate_joint,
    solve_limb,
    turn_head,
)
from keymask.conditioning.poses import KeyPose3D
from keymask.conditioning.refine import place_key_pose
from keymask.core.facing import body_heading, canonical_pose
from keymask.core.skeleton import HUMANML3D_SKELETON
from keymask.studio import commands
from keymask.studio.project import KeyPose, Project

TURN_TOLERANCE = np.radians(2.0)  # a posed body turned by more than this holds its own facing
PLACE_TOLERANCE = 1e-3  # metres the pelvis may move and the key still hold only the body


def joint_label(joint: int) -> str:
    return HUMANML3D_SKELETON.joint_names[joint].replace("_", " ")


class PoseEditor:
    """The figure posed in the 3D view, the chosen joint, the pinned limbs and the edit under way."""

    def __init__(self):
        self.pose: np.ndarray | None = None  # (J, 3) the figure as posed now
        self.selected: int | None = None  # the chosen joint (rotations turn it; H pins its limb)
        self.pinned: set[str] = set()  # limbs (conditioning/ik.py LIMBS) whose ends stay where they are
        self._start: np.ndarray | None = None  # (J, 3) the figure when the edit under way began
        self._joint: int | None = None  # the joint the edit under way holds

    @property
    def editing(self) -> bool:
        return self._start is not None

    @property
    def held(self) -> int | None:
        """The joint the edit under way holds."""
        return self._joint

    def set_pose(self, joints: np.ndarray | None) -> None:
        """The figure to pose (a new playhead frame, a changed key); kept while an edit is under way."""
        if not self.editing:
            self.pose = None if joints is None else np.array(joints, dtype=np.float64)

    def begin(self, joint: int) -> None:
        """Start an edit that holds `joint` (an effector for a drag, the chosen joint for a rotation)."""
        self._start, self._joint = self.pose.copy(), joint

    def drag_to(self, target: np.ndarray) -> None:
        """The held effector at `target` (3,): a hand or foot by two-bone IK, the head turned towards
        it, the pelvis moving the whole body; pinned limbs stay."""
        start, joint = self._start, self._joint
        kind = EFFECTORS[joint]
        if kind == "pelvis":
            posed = move_body(start, np.asarray(target) - start[PELVIS])
        elif kind == "head":
            posed = turn_head(start, target)
        else:
            posed = solve_limb(start, kind, target, bend=limb_bend(start, kind))
        self.pose = hold_limbs(start, posed, sorted(self.pinned - {kind}))

    def rotate_by(self, axis: np.ndarray, angle: float) -> None:
        """The held joint turned by `angle` radians about `axis` (3,) from where the edit began."""
        posed = rotate_joint(self._start, self._joint, axis, angle)
        self.pose = hold_limbs(self._start, posed, sorted(self.pinned - {limb_of(self._joint)}))

    def finish(self) -> tuple[np.ndarray, bool] | None:
        """End the edit: (the posed figure, whether it moved the pelvis or turned the body), or None
        when nothing moved."""
        start, self._start, self._joint = self._start, None, None
        if start is None or np.allclose(self.pose, start, atol=1e-9):
            return None
        return self.pose.copy(), moved_place(start, self.pose)

    def cancel(self) -> None:
        """End the edit with the figure back as it began."""
        if self._start is not None:
            self.pose = self._start
        self._start, self._joint = None, None

    def toggle_pin(self, joint: int | None = None) -> str | None:
        """Pin or unpin the limb of `joint` (default: the chosen joint); the limb, or None when the
        joint is in no limb."""
        limb = limb_of(self.selected if joint is None else joint)
        if limb is not None:
            self.pinned ^= {limb}
        return limb


def moved_place(before: np.ndarray, after: np.ndarray) -> bool:
    """Whether `after` stands elsewhere or faces another way than `before` (both (J, 3))."""
    turn = float(body_heading(after) - body_heading(before))
    turn = (turn + np.pi) % (2 * np.pi) - np.pi
    return bool(np.linalg.norm(after[PELVIS] - before[PELVIS]) > PLACE_TOLERANCE or abs(turn) > TURN_TOLERANCE)


def copied_pose(figure: np.ndarray) -> np.ndarray:
    """(J, 3) what Copy keeps of a figure: the body's pose, pelvis at the origin, facing +Z."""
    return canonical_pose(figure)


def pasted_figure(copied: np.ndarray, figure: np.ndarray) -> np.ndarray:
    """(J, 3) a copied pose on `figure`'s body, where the figure stands and facing its way."""
    return place_key_pose(KeyPose3D(joints=copied), figure, "body")


def key_at(project: Project, frame: int, fps: float) -> int | None:
    """The index of the (first) key at `frame`, or None."""
    return next((i for i, key in enumerate(project.keys) if key.frame(fps) == frame), None)


def key_figure(key: KeyPose, motion: np.ndarray | None, fps: float) -> np.ndarray:
    """(J, 3) a key pose as its ghost is drawn: on the motion's body at the key's frame, or without a
    motion standing on the floor at the origin."""
    if motion is not None:
        return place_key_pose(key.pose3d, motion[min(key.frame(fps), len(motion) - 1)], key.constrain)
    return key.pose3d.joints - [0.0, key.pose3d.joints[:, 1].min(), 0.0]


def figure_at(project: Project, frame: int, fps: float) -> np.ndarray | None:
    """(J, 3) the figure to pose at `frame`: the key there as its ghost is drawn, else the chosen
    motion's pose there; None with neither (no motion, no key at the frame)."""
    motion, index = project.motion, key_at(project, frame, fps)
    if index is not None:
        return key_figure(project.keys[index], motion, fps)
    if motion is not None:
        return np.asarray(motion[min(frame, len(motion) - 1)], dtype=np.float64)
    return None


def posed_key_pose(figure: np.ndarray) -> KeyPose3D:
    """The key pose of a posed figure (J, 3): its canonical pose, where it stands and its facing."""
    figure = np.asarray(figure, dtype=np.float64)
    return KeyPose3D(joints=canonical_pose(figure), root_position=figure[PELVIS].copy(),
                     facing=float(body_heading(figure)), source={"posed": "in 3D"})


def pose_command(project: Project, frame: int, fps: float, figure: np.ndarray, text: str,
                 holds_place: bool, run: str = "") -> tuple[commands.KeyEdit, int]:
    """The undo command that makes a posed figure the key at `frame` (added, or the key there
    replaced), and the index the key will have. `holds_place`: the edit moved the pelvis or turned
    the body, so the key holds its root and facing. Edits of one `run` merge into one undo step."""
    pose3d = posed_key_pose(figure)
    index = key_at(project, frame, fps)
    if index is None:
        key = KeyPose(time=frame / fps, pose3d=pose3d, constrain="root" if holds_place else "body",
                      name=f"key {len(project.keys) + 1}")
        command = commands.AddKey(project, key, run=run)
        command.setText(f"{text} (new key pose)")
        return command, len(project.keys)
    old = project.keys[index]
    key = replace(old, pose2d=None, pose3d=pose3d, constrain="root" if holds_place else old.constrain)
    return commands.ReplaceKey(project, index, key, text, run=run), index
