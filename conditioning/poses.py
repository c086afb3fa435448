"""The two key-pose types every part of `conditioning` exchanges.

`Pose2D`: one person's OpenPose body keypoints, COCO-18 order (below), in pixels of a canvas
(x to the right, y down), each with a confidence; confidence 0 means the joint is missing. This
is what drawing, photo extraction and image generation produce, and what lifting consumes.

`KeyPose3D`: a 3D pose of the 22 HumanML3D joints (core/skeleton.py) in metres, Y up, relative
to the pelvis and turned so that the body faces +Z (the canonical frame of a motion). This is
what lifting produces and what generation holds the motion to.
"""

from dataclasses import dataclass, field

import numpy as np

COCO18_JOINTS = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)
FACE_POINTS = (0, 14, 15, 16, 17)  # nose, eyes, ears: what tells a front view from a back view

# The 17 limbs OpenPose draws, as (from, to) joint indices, in its drawing order.
COCO18_LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)


@dataclass
class Pose2D:
    keypoints: np.ndarray  # (18, 2) float, pixels: x right, y down
    confidence: np.ndarray  # (18,) float in [0, 1]; 0 = missing
    canvas: tuple[int, int]  # (width, height) in pixels
    # Optional extra cue from a photo extractor: 3D positions of the same 18 joints in metres
    # (mediapipe's world landmarks mapped to COCO-18; NaN where unknown), camera axes.
    world: np.ndarray | None = None  # (18, 3)
    source: dict = field(default_factory=dict)  # where it came from (file, extractor, person index)

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float64).reshape(len(COCO18_JOINTS), 2)
        self.confidence = np.asarray(self.confidence, dtype=np.float64).reshape(len(COCO18_JOINTS))
        self.canvas = (int(self.canvas[0]), int(self.canvas[1]))

    @property
    def present(self) -> np.ndarray:  # (18,) bool
        return self.confidence > 0


@dataclass
class KeyPose3D:
    joints: np.ndarray  # (22, 3) metres, pelvis at the origin, facing +Z, Y up
    # Optional world placement, used only when a key constrains more than the body:
    root_position: np.ndarray | None = None  # (3,) pelvis position in the motion's frame, metres
    facing: float | None = None  # heading about +Y in radians (0 = facing +Z)
    source: dict = field(default_factory=dict)  # where it came from (file, extractor, lifter)

    def __post_init__(self) -> None:
        self.joints = np.asarray(self.joints, dtype=np.float64).reshape(22, 3)
