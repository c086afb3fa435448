"""From 3D joints to what a 2D keypoint detector sees: COCO-18 points through a camera.

Axes and units: world points in metres, Y up; the canonical body faces +Z with its left on +X.
Cameras follow OpenCV: camera x right, y down, z forward (into the scene). Pixels: x right,
y down, origin at the top-left corner of the image. Pure numpy, no torch.

The 22 HumanML3D joints give 13 of the 18 COCO points directly (shoulders, elbows, wrists, hips,
knees, ankles and the neck). OpenPose's neck is, by construction of its COCO labels, the middle
of the two shoulders, so that is what we use (the HumanML3D neck joint sits about 10 cm higher,
inside the neck). The face points are not in the skeleton: they are placed at fixed offsets
from the head joint in a head frame (FACE_OFFSETS).
"""

from dataclasses import dataclass

import numpy as np

from keymask.core import skeleton as skel

_H = skel.HUMANML3D_SKELETON.index

# COCO-18 keypoint -> the HumanML3D joint it is, for the 12 limb keypoints.
LIMB_KEYPOINTS = (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)
LIMB_SOURCES = tuple(_H(name) for name in (
    "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
))
NECK_KEYPOINT = 1
BODY_KEYPOINTS = tuple(range(14))  # nose, neck and the 12 limb keypoints
FACE_KEYPOINTS = (0, 14, 15, 16, 17)  # nose, right eye, left eye, right ear, left ear
HIP_KEYPOINTS = (8, 11)  # right hip, left hip

# Face points in the head frame, metres: (forward, up, left) from the head joint (HumanML3D joint
# 15, at the base of the skull, about 10 cm above the neck joint). "up" runs from the neck joint
# to the head joint, "forward" is perpendicular to it and to the shoulders' left-right line, "left"
# completes the frame. Values from adult head proportions: the nose tip 11 cm in front of the
# skull base, the eyes 3.2 cm either side of the midline, the ears 7.5 cm either side.
FACE_OFFSETS = {
    0: (0.110, 0.050, 0.000),  # nose
    14: (0.090, 0.085, -0.032),  # right eye
    15: (0.090, 0.085, 0.032),  # left eye
    16: (0.010, 0.065, -0.075),  # right ear
    17: (0.010, 0.065, 0.075),  # left ear
}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def head_frame(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(forward, up, left) unit vectors (..., 3) of the head of joints (..., 22, 3)."""
    up = _unit(joints[..., _H("head"), :] - joints[..., _H("neck"), :])
    across = joints[..., _H("left_shoulder"), :] - joints[..., _H("right_shoulder"), :]  # towards the left
    forward = _unit(np.cross(across, up))  # left x up = forward
    left = np.cross(up, forward)
    return forward, up, left


def coco18_from_joints(joints: np.ndarray) -> np.ndarray:
    """(..., 22, 3) HumanML3D joints -> (..., 18, 3) the COCO-18 keypoints in 3D, same axes."""
    joints = np.asarray(joints, dtype=np.float64)
    points = np.empty(joints.shape[:-2] + (18, 3))
    points[..., LIMB_KEYPOINTS, :] = joints[..., LIMB_SOURCES, :]
    points[..., NECK_KEYPOINT, :] = 0.5 * (joints[..., _H("left_shoulder"), :] + joints[..., _H("right_shoulder"), :])
    forward, up, left = head_frame(joints)
    head = joints[..., _H("head"), :]
    for keypoint, (f, u, l) in FACE_OFFSETS.items():
        points[..., keypoint, :] = head + f * forward + u * up + l * left
    return points


# ----------------------------------------------------------------------------------------------
# Cameras


@dataclass
class Camera:
    """A pinhole camera, or a batch of them (leading axes ...): camera = rotation @ world + translation."""

    intrinsics: np.ndarray  # (..., 3, 3) [[f, 0, cx], [0, f, cy], [0, 0, 1]], pixels
    rotation: np.ndarray  # (..., 3, 3) rows: the camera's x (right), y (down), z (forward) in world axes
    translation: np.ndarray  # (..., 3) metres
    image_size: np.ndarray  # (..., 2) width, height in pixels

    @property
    def position(self) -> np.ndarray:  # (..., 3) the camera centre in the world, metres
        return -np.einsum("...ji,...j->...i", self.rotation, self.translation)  # -R^T t

    @classmethod
    def look_at(cls, position, target, focal_px, image_size, roll_deg=0.0) -> "Camera":
        """A camera at `position` (..., 3) looking at `target` (..., 3), world up +Y, principal
        point at the image centre; `roll_deg` turns the picture about its centre."""
        position, target = np.asarray(position, dtype=np.float64), np.asarray(target, dtype=np.float64)
        z = _unit(target - position)
        x = _unit(np.cross(z, [0.0, 1.0, 0.0]))  # right: forward x up
        y = np.cross(z, x)  # down
        roll = np.radians(np.asarray(roll_deg, dtype=np.float64))[..., None]
        x, y = np.cos(roll) * x + np.sin(roll) * y, np.cos(roll) * y - np.sin(roll) * x
        rotation = np.stack([x, y, z], axis=-2)  # (..., 3, 3)
        translation = -np.einsum("...ij,...j->...i", rotation, position)
        size = np.broadcast_to(np.asarray(image_size, dtype=np.float64), position.shape[:-1] + (2,))
        focal = np.broadcast_to(np.asarray(focal_px, dtype=np.float64), position.shape[:-1])
        intrinsics = np.zeros(position.shape[:-1] + (3, 3))
        intrinsics[..., 0, 0] = intrinsics[..., 1, 1] = focal
        intrinsics[..., 0, 2], intrinsics[..., 1, 2] = size[..., 0] / 2, size[..., 1] / 2
        intrinsics[..., 2, 2] = 1.0
        return cls(intrinsics, rotation, translation, size.copy())


def orbit_position(target, azimuth_deg, elevation_deg, distance_m) -> np.ndarray:
    """(..., 3) a point `distance_m` from `target`, azimuth about +Y (0 = on +Z, in front of a
    canonical body; 90 = on +X, its left) and elevation above the horizontal."""
    a, e = np.radians(np.asarray(azimuth_deg, dtype=np.float64)), np.radians(np.asarray(elevation_deg, dtype=np.float64))
    direction = np.stack([np.sin(a) * np.cos(e), np.sin(e), np.cos(a) * np.cos(e)], axis=-1)
    return np.asarray(target, dtype=np.float64) + np.asarray(distance_m, dtype=np.float64)[..., None] * direction


@dataclass
class CameraSampler:
    """Random cameras around a body whose pelvis is at the origin: uniform in each range."""

    focal_px: tuple[float, float] = (500.0, 1000.0)
    elevation_deg: tuple[float, float] = (-10.0, 35.0)
    azimuth_deg: tuple[float, float] = (0.0, 360.0)
    distance_m: tuple[float, float] = (3.0, 5.5)  # from the aim point
    roll_deg: tuple[float, float] = (-5.0, 5.0)
    aim_jitter_m: float = 0.3  # the aim point moves this far from the pelvis along each axis
    image_sizes: tuple[tuple[int, int], ...] = ((512, 512), (512, 768), (768, 512), (768, 768))

    def sample(self, rng: np.random.Generator, count: int) -> Camera:
        """`count` cameras, a Camera with leading axis (count,)."""
        def uniform(bounds):
            return rng.uniform(bounds[0], bounds[1], count)

        aim = rng.uniform(-self.aim_jitter_m, self.aim_jitter_m, (count, 3))
        position = orbit_position(aim, uniform(self.azimuth_deg), uniform(self.elevation_deg), uniform(self.distance_m))
        sizes = np.asarray(self.image_sizes, dtype=np.float64)[rng.integers(0, len(self.image_sizes), count)]
        return Camera.look_at(position, aim, uniform(self.focal_px), sizes, uniform(self.roll_deg))


def project(points: np.ndarray, camera: Camera) -> np.ndarray:
    """(..., N, 3) world points -> (..., N, 2) pixels (x right, y down); camera axes broadcast over ...."""
    in_camera = np.einsum("...ij,...nj->...ni", camera.rotation, points) + camera.translation[..., None, :]
    homogeneous = np.einsum("...ij,...nj->...ni", camera.intrinsics, in_camera)  # (..., N, 3)
    return homogeneous[..., :2] / homogeneous[..., 2:3]


# ----------------------------------------------------------------------------------------------
# What a detector gets wrong


def add_pixel_noise(keypoints: np.ndarray, sigma_px, rng: np.random.Generator) -> np.ndarray:
    """(..., 18, 2) keypoints plus Gaussian noise of `sigma_px` pixels (a number or per pose (...,))."""
    sigma = np.asarray(sigma_px, dtype=np.float64)[..., None, None]
    return keypoints + rng.standard_normal(keypoints.shape) * sigma


def drop_joints(confidence: np.ndarray, count, rng: np.random.Generator,
                candidates: tuple[int, ...] = BODY_KEYPOINTS) -> np.ndarray:
    """(..., 18) confidence with `count` (a number or per pose (...,)) random `candidates` of each
    pose set to 0, the rest kept."""
    confidence = np.array(confidence, dtype=np.float64)
    order = rng.random(confidence.shape[:-1] + (len(candidates),)).argsort(axis=-1)  # a random permutation per pose
    dropped = order < np.asarray(count)[..., None]  # (..., candidates): the first `count` positions
    confidence[..., list(candidates)] = np.where(dropped, 0.0, confidence[..., list(candidates)])
    return confidence


def occluded_face(points: np.ndarray, camera: Camera) -> np.ndarray:
    """(..., 18) True for the face keypoints of points (..., 18, 3) that a detector would miss:
    nose and eyes when the face turns away from the camera, an ear on the far side of the head."""
    ears = points[..., (16, 17), :]  # (..., 2, 3)
    centre = ears.mean(axis=-2)  # (..., 3)
    to_camera = _unit(camera.position - centre)
    face = np.einsum("...i,...i->...", _unit(points[..., 0, :] - centre), to_camera)
    sides = np.einsum("...ki,...i->...k", _unit(ears - centre[..., None, :]), to_camera)  # (..., 2)
    hidden = np.zeros(points.shape[:-1], dtype=bool)
    hidden[..., (0, 14, 15)] = (face < -0.1)[..., None]
    hidden[..., (16, 17)] = sides < -0.5
    return hidden
