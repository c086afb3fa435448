"""The dataset constants of the HumanML3D motion representation, in one place."""

from dataclasses import dataclass


@dataclass(frozen=True)
class MotionSpec:
    n_joints: int = 22
    fps: int = 20
    frames_per_token: int = 4
    max_frames: int = 196
    foot_contact_threshold: float = 0.002  # squared metres per frame, HumanML3D's feet_thre

    @property
    def n_features(self) -> int:
        # root angular vel (1) + root xz vel (2) + root height (1) + ric (J-1)*3
        # + 6D rotations (J-1)*6 + local velocities J*3 + foot contacts 4
        j = self.n_joints
        return 4 + (j - 1) * 3 + (j - 1) * 6 + j * 3 + 4

    @property
    def max_tokens(self) -> int:
        return self.max_frames // self.frames_per_token


HUMANML3D = MotionSpec()
