"""The pose lifter in torch: normalised 2D keypoints -> the 22 joints of a canonical 3D pose.

A Martinez-style MLP (Martinez et al., "A simple yet effective baseline for 3d human pose
estimation", ICCV 2017): a linear layer to `width` features, residual blocks of two
(linear, LayerNorm, ReLU, dropout) layers, and a linear layer to J x 3. LayerNorm rather than the
paper's BatchNorm, so that training and inference compute the same thing and the numpy lifter
needs no running statistics. The pelvis of the output is moved to the origin.

Inputs are built by `lifter_inputs` (numpy_lifter.py), which also holds the config and the
torch-free lifter; both are re-exported here.
"""

import numpy as np
import torch
from torch import nn

from keymask.conditioning.lifting.numpy_lifter import LifterConfig, NumpyPoseLifter, lifter_inputs, normalise_keypoints
from keymask.core.models.persistence import SavesPretrained

__all__ = ["LifterConfig", "NumpyPoseLifter", "PoseLifter", "lifter_inputs", "normalise_keypoints"]


def _layer(in_dim: int, out_dim: int, dropout: float) -> list[nn.Module]:
    return [nn.Linear(in_dim, out_dim), nn.LayerNorm(out_dim), nn.ReLU(), nn.Dropout(dropout)]


class ResidualBlock(nn.Module):
    def __init__(self, width: int, dropout: float):
        super().__init__()
        self.layers = nn.Sequential(*_layer(width, width, dropout), *_layer(width, width, dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, width) -> (B, width)
        return x + self.layers(x)


class PoseLifter(SavesPretrained, nn.Module):
    config_class = LifterConfig
    kind = "pose_lifter"

    def __init__(self, config: LifterConfig):
        super().__init__()
        self.config = config
        self.stem = nn.Sequential(*_layer(config.input_dim, config.width, config.dropout))
        self.blocks = nn.ModuleList(ResidualBlock(config.width, config.dropout) for _ in range(config.blocks))
        self.head = nn.Linear(config.width, config.output_dim)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, 3K) inputs (lifter_inputs) -> (B, J, 3) root-relative canonical joints, metres."""
        x = self.stem(inputs)
        for block in self.blocks:
            x = block(x)
        joints = self.head(x).unflatten(-1, (self.config.n_joints, 3))  # (B, 3J) -> (B, J, 3)
        return joints - joints[..., :1, :]

    @torch.no_grad()
    def lift(self, keypoints: np.ndarray, present: np.ndarray) -> np.ndarray:
        """(..., K, 2) pixels and (..., K) presence -> (..., J, 3) joints as numpy float64 (eval mode)."""
        was_training = self.training
        self.eval()
        parameter = next(self.parameters())
        inputs = torch.from_numpy(lifter_inputs(keypoints, present)).to(parameter.device)
        joints = self(inputs).cpu().double().numpy()
        self.train(was_training)
        return joints
