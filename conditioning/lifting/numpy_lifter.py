"""The lifter's input, its config and its torch-free inference, in numpy.

The input of one pose is 3 K numbers (K = 18 COCO keypoints): the keypoints normalised by
`normalise_keypoints` (x, y per keypoint, zero where missing), then K presence flags (1 or 0).
Normalising makes the input the same for any canvas size, placement and camera distance:

    centre  the middle of the two hips when both are present, else the mean of the present body
            keypoints (nose, neck and limbs; the face points would pull it up)
    scale   the root-mean-square distance of the present body keypoints from that centre

The output is the 22 HumanML3D joints (J, 3) in metres, pelvis at the origin, the body facing +Z
(conditioning/poses.py, KeyPose3D). `PoseLifter` (model.py) computes it in torch for training;
`NumpyPoseLifter` computes the same from the saved weights without importing torch, so that
lifting a pose in the studio starts fast.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keymask.core.backends.numpy_models import StateReader
from keymask.core.backends.numpy_ops import as_float, layer_norm, linear, relu, transposed
from keymask.core.models.saved import WEIGHTS_FILE, read_config, read_numpy_weights

N_BODY_KEYPOINTS = 14  # COCO-18 keypoints 0..13: nose, neck and limbs; 14..17 are eyes and ears
_HIPS = (8, 11)  # right hip, left hip


@dataclass
class LifterConfig:
    n_keypoints: int = 18  # K, COCO-18
    n_joints: int = 22  # J, HumanML3D
    width: int = 512  # hidden features
    blocks: int = 2  # residual blocks of two linear layers each
    dropout: float = 0.1

    @property
    def input_dim(self) -> int:
        return 3 * self.n_keypoints  # x, y and presence of each keypoint

    @property
    def output_dim(self) -> int:
        return 3 * self.n_joints


def normalise_keypoints(keypoints: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(..., K, 2) pixels and (..., K) presence -> normalised keypoints (..., K, 2) (zero where
    missing), the centre (..., 2) in pixels and the scale (...,) in pixels (see the module's notes)."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    present = np.asarray(present, dtype=bool)
    body = present.copy()
    body[..., N_BODY_KEYPOINTS:] = False
    counted = np.where(body.any(axis=-1, keepdims=True), body, present)  # no body keypoint: use what there is
    weights = counted[..., None].astype(np.float64)  # (..., K, 1)
    mean = (keypoints * weights).sum(axis=-2) / np.maximum(weights.sum(axis=-2), 1.0)  # (..., 2)
    hips = present[..., _HIPS].all(axis=-1, keepdims=True)  # (..., 1)
    centre = np.where(hips, keypoints[..., _HIPS, :].mean(axis=-2), mean)
    offsets = (keypoints - centre[..., None, :]) * weights  # (..., K, 2)
    scale = np.sqrt((offsets ** 2).sum(axis=(-2, -1)) / np.maximum(weights.sum(axis=(-2, -1)), 1.0))  # (...,)
    scale = np.where(scale > 1e-6, scale, 1.0)
    normalised = (keypoints - centre[..., None, :]) / scale[..., None, None] * present[..., None]
    return normalised, centre, scale


def lifter_inputs(keypoints: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(..., K, 2) pixels and (..., K) presence -> (..., 3 K) float32, the lifter's input."""
    normalised, _, _ = normalise_keypoints(keypoints, present)
    flat = normalised.reshape(normalised.shape[:-2] + (-1,))  # (..., K, 2) -> (..., 2K)
    return np.concatenate([flat, np.asarray(present, dtype=np.float64)], axis=-1).astype(np.float32)


class NumpyPoseLifter:
    """PoseLifter (model.py) in numpy, from the same weights: (..., 3 K) inputs -> (..., J, 3) joints."""

    kind = "pose_lifter"
    config_class = LifterConfig

    def __init__(self, config: LifterConfig, reader: StateReader):
        """Use from_state or from_folder."""
        self.config = config
        w = config.width

        def dense(prefix: str, in_dim: int, out_dim: int):
            return transposed(reader.array(f"{prefix}.weight", out_dim, in_dim)), reader.array(f"{prefix}.bias", out_dim)

        def norm(prefix: str):
            return reader.array(f"{prefix}.weight", w), reader.array(f"{prefix}.bias", w)

        # The torch names: stem = Sequential(Linear, LayerNorm, ReLU, Dropout); each block's
        # `layers` = Sequential(Linear, LayerNorm, ReLU, Dropout) twice; head = Linear.
        self.stem = (dense("stem.0", config.input_dim, w), norm("stem.1"))
        self.blocks = [((dense(f"blocks.{b}.layers.0", w, w), norm(f"blocks.{b}.layers.1")),
                        (dense(f"blocks.{b}.layers.4", w, w), norm(f"blocks.{b}.layers.5")))
                       for b in range(config.blocks)]
        self.head = dense("head", w, config.output_dim)

    @classmethod
    def from_state(cls, config: LifterConfig, state: Mapping[str, np.ndarray], source: str = "the state dict"):
        reader = StateReader(state)
        model = cls(config, reader)
        reader.check(source)
        return model

    @classmethod
    def from_folder(cls, folder: str | Path) -> "NumpyPoseLifter":
        """The lifter saved in `folder` (config.json + model.safetensors) by PoseLifter.save_pretrained."""
        config = read_config(folder, cls.kind, cls.config_class)
        return cls.from_state(config, read_numpy_weights(folder), str(Path(folder) / WEIGHTS_FILE))

    @staticmethod
    def _layer(x: np.ndarray, dense, norm) -> np.ndarray:
        return relu(layer_norm(linear(x, *dense), *norm))

    def forward(self, inputs: np.ndarray) -> np.ndarray:
        """(..., 3 K) -> (..., J, 3) root-relative canonical joints, metres (float32)."""
        x = self._layer(as_float(inputs), *self.stem)
        for first, second in self.blocks:
            x = x + self._layer(self._layer(x, *first), *second)
        joints = linear(x, *self.head)
        joints = joints.reshape(joints.shape[:-1] + (self.config.n_joints, 3))  # (..., 3J) -> (..., J, 3)
        return joints - joints[..., :1, :]

    __call__ = forward

    def lift(self, keypoints: np.ndarray, present: np.ndarray) -> np.ndarray:
        """(..., K, 2) pixels and (..., K) presence -> (..., J, 3) joints, float64."""
        return self.forward(lifter_inputs(keypoints, present)).astype(np.float64)
