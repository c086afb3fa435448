"""A 3D key pose as motion tokens, to be held fixed during masked decoding.

Two ways, compared by `bench/keypose.py` (joint error at the key frames with tokens alone):
- "hold": the pose held still for three tokens (12 frames), encoded by the RVQ-VAE; the middle
  token's ids stand for the pose. Needs nothing but the key pose.
- "context": a first text-only motion is refined through the key poses (refine.py) and encoded
  as a whole, so the key's tokens carry the motion's own speed around the pose; the tokens at
  the key positions are then held fixed for the final decoding.
"""

import numpy as np

from keymask.conditioning.poses import KeyPose3D
from keymask.core.facing import canonical_pose
from keymask.core.features import features_from_canonical, joints_to_features

HOLD_TOKENS = 3  # tokens of stillness encoded around a held pose


def hold_tokens(pipeline, pose: KeyPose3D) -> np.ndarray:
    """(Q,) token ids of `pose` held still (the middle of HOLD_TOKENS tokens)."""
    standing = canonical_pose(pose.joints)
    standing[:, 1] -= standing[:, 1].min()  # lowest joint on the floor
    frames = HOLD_TOKENS * pipeline.spec.frames_per_token + 1  # one more: features are frame differences
    features = features_from_canonical(np.repeat(standing[None], frames, axis=0))  # (frames - 1, D)
    return pipeline.encode_features(features)[0, HOLD_TOKENS // 2]


def context_tokens(pipeline, joints: np.ndarray) -> np.ndarray:
    """(T // 4, Q) token ids of a whole motion (T, J, 3), e.g. one already refined through its keys."""
    padded = np.concatenate([joints, joints[-1:]])  # features are differences: T + 1 frames give T rows
    return pipeline.encode_features(joints_to_features(padded))[0]
