"""Feature normalisation statistics in the HumanML3D manner."""

import numpy as np

from keymask.core.features import FeatureLayout


def feature_mean_std(features: np.ndarray, layout: FeatureLayout, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean, and a std averaged within each feature group, as HumanML3D computes them.

    features: (T, D) concatenated frames. Averaging the std within a group (e.g. the 63
    joint-position channels) keeps the channels' relative scale, so no near-constant channel is
    blown up by normalisation.
    """
    if features.ndim != 2 or features.shape[1] != layout.size:
        raise ValueError(f"Expected features of shape (T, {layout.size}), got {features.shape}.")
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    for group in layout.groups():
        std[group] = std[group].mean()
    return mean, np.maximum(std, eps)
