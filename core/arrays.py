"""Functions that take numpy arrays or torch tensors alike, without importing torch.

A tensor can only exist once torch is loaded, so torch is taken from `sys.modules` rather than
imported: modules on the torch-free inference path can use these helpers.
"""

import sys

import numpy as np


def concat(parts, axis: int):
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts, axis=axis)
    return sys.modules["torch"].cat(parts, dim=axis)


def stack_last(parts):
    """Stack along a new last axis."""
    if isinstance(parts[0], np.ndarray):
        return np.stack(parts, axis=-1)
    return sys.modules["torch"].stack(parts, dim=-1)
