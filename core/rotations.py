"""Rotation helpers: quaternions, rotation matrices and the continuous 6D representation.

Quaternions are (w, x, y, z) and act on column vectors: `quat_rotate(q, v)` is R(q) @ v, and
`quat_multiply(a, b)` applies b first, then a. Every function takes any leading dimensions
(`...`) and broadcasts them; numpy functions compute in float64.

The 6D representation is the first two columns of the rotation matrix, concatenated
(x column, then y column), as HumanML3D stores joint rotations.
"""

import numpy as np
from keymask.core.arrays import stack_last as _stack_last


def _f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _join_w_xyz(w: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    """(..., 4) from w (...) and xyz (..., 3), broadcasting the leading dimensions."""
    lead = np.broadcast_shapes(w.shape, xyz.shape[:-1])
    return np.concatenate([np.broadcast_to(w[..., None], lead + (1,)), np.broadcast_to(xyz, lead + (3,))], axis=-1)


def quat_identity(shape: tuple[int, ...] = ()) -> np.ndarray:
    """(*shape, 4) identity quaternions."""
    q = np.zeros(tuple(shape) + (4,))
    q[..., 0] = 1.0
    return q


def quat_normalize(q) -> np.ndarray:
    q = _f64(q)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def quat_multiply(a, b) -> np.ndarray:
    """(..., 4) Hamilton product a * b: the rotation b followed by a."""
    a, b = _f64(a), _f64(b)
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ),
        axis=-1,
    )


def quat_inverse(q) -> np.ndarray:
    """(..., 4) conjugate, the inverse of a unit quaternion."""
    return _f64(q) * np.array([1.0, -1.0, -1.0, -1.0])


def quat_rotate(q, v) -> np.ndarray:
    """(..., 3) the vectors v rotated by the unit quaternions q; q (..., 4) and v broadcast."""
    q, v = _f64(q), _f64(v)
    w, axis = q[..., :1], q[..., 1:]
    uv = np.cross(axis, v)
    return v + 2.0 * (w * uv + np.cross(axis, uv))


def quat_between(u, v) -> np.ndarray:
    """(..., 4) the shortest-arc rotation taking direction u to direction v.

    w = |u||v| + u.v and xyz = u x v, then normalised (HumanML3D's formula). For opposite
    vectors, where that formula gives 0 / 0, a half turn about an axis perpendicular to u (the
    reference returns NaN there; a drawn or lifted pose can hold a bone exactly reversed).
    """
    u, v = _f64(u), _f64(v)
    w = np.sqrt((u * u).sum(-1) * (v * v).sum(-1)) + (u * v).sum(-1)
    q = _join_w_xyz(w, np.cross(u, v))
    length = np.linalg.norm(q, axis=-1, keepdims=True)
    opposite = length <= 1e-12 * np.maximum(np.sqrt((u * u).sum(-1, keepdims=True) * (v * v).sum(-1, keepdims=True)), 1e-300)
    if not opposite.any():
        return q / length
    least_aligned = np.eye(3)[np.abs(u).argmin(-1)]  # (..., 3) the axis u points least along
    half_turn = _join_w_xyz(np.zeros(u.shape[:-1]), np.cross(u, least_aligned))
    q = np.where(opposite, half_turn, q)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def quat_from_axis_angle(axis, angle) -> np.ndarray:
    """(..., 4) rotation by `angle` radians about `axis` (..., 3), right-handed."""
    axis = _f64(axis)
    axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    half = 0.5 * _f64(angle)[..., None]  # (..., 1)
    return _join_w_xyz(np.cos(half)[..., 0], np.sin(half) * axis)


def quat_fix(q) -> np.ndarray:
    """(T, ..., 4) the same rotations with signs chosen so consecutive frames (axis 0) agree."""
    q = _f64(q)
    flips = (q[1:] * q[:-1]).sum(-1) < 0  # (T-1, ...)
    flipped = np.cumsum(flips, axis=0) % 2 == 1  # odd number of flips so far
    sign = np.where(flipped, -1.0, 1.0)[..., None]
    return np.concatenate([q[:1], q[1:] * sign], axis=0)


def quat_to_matrix(q) -> np.ndarray:
    """(..., 3, 3) rotation matrices; q need not be normalised."""
    q = _f64(q)
    w, x, y, z = np.moveaxis(q, -1, 0)
    s = 2.0 / (q * q).sum(-1)
    rows = (
        (1 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w)),
        (s * (x * y + z * w), 1 - s * (x * x + z * z), s * (y * z - x * w)),
        (s * (x * z - y * w), s * (y * z + x * w), 1 - s * (x * x + y * y)),
    )
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def matrix_to_quat(m) -> np.ndarray:
    """(..., 4) unit quaternions with w >= 0 from rotation matrices (..., 3, 3)."""
    m = _f64(m)
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    # 4 * (w^2, x^2, y^2, z^2); the largest gives the best-conditioned division.
    four_sq = np.stack(
        (1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22), axis=-1
    )
    two_abs = np.sqrt(np.maximum(four_sq, 0.0))  # (..., 4) 2|w|, 2|x|, 2|y|, 2|z|
    # Row k: 4 * q * q[k], each row giving the whole quaternion once divided by 4 q[k].
    candidates = np.stack(
        (
            np.stack((four_sq[..., 0], m21 - m12, m02 - m20, m10 - m01), axis=-1),
            np.stack((m21 - m12, four_sq[..., 1], m10 + m01, m02 + m20), axis=-1),
            np.stack((m02 - m20, m10 + m01, four_sq[..., 2], m12 + m21), axis=-1),
            np.stack((m10 - m01, m02 + m20, m12 + m21, four_sq[..., 3]), axis=-1),
        ),
        axis=-2,
    )  # (..., 4, 4)
    best = np.argmax(two_abs, axis=-1)[..., None, None]  # (..., 1, 1)
    row = np.take_along_axis(candidates, best, axis=-2)[..., 0, :]  # (..., 4)
    q = row / (2.0 * np.take_along_axis(two_abs, best[..., 0], axis=-1))
    q = np.where(q[..., :1] < 0, -q, q)
    return quat_normalize(q)


def matrix_to_cont6d(m) -> np.ndarray:
    """(..., 6) the first two columns of (..., 3, 3) matrices, concatenated."""
    m = _f64(m)
    return np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def quat_to_cont6d(q) -> np.ndarray:
    """(..., 6) continuous 6D rotations from quaternions (..., 4)."""
    return matrix_to_cont6d(quat_to_matrix(q))


def cont6d_to_matrix(d6) -> np.ndarray:
    """(..., 3, 3) rotation matrices from 6D rotations (..., 6), by Gram-Schmidt on x then y."""
    d6 = _f64(d6)
    x_raw, y_raw = d6[..., :3], d6[..., 3:]
    x = x_raw / np.linalg.norm(x_raw, axis=-1, keepdims=True)
    z = np.cross(x, y_raw)
    z = z / np.linalg.norm(z, axis=-1, keepdims=True)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)  # columns x, y, z


def quat_slerp(q0, q1, t) -> np.ndarray:
    """(..., 4) spherical interpolation from q0 (t=0) to q1 (t=1) along the shorter arc.

    q0, q1 (..., 4) and t (...) broadcast; t may lie outside [0, 1] to extrapolate.
    """
    q0, q1 = quat_normalize(q0), quat_normalize(q1)
    t = _f64(t)[..., None]
    cos_theta = (q0 * q1).sum(-1, keepdims=True)
    q1 = np.where(cos_theta < 0, -q1, q1)
    cos_theta = np.clip(np.abs(cos_theta), -1.0, 1.0)
    theta = np.arccos(cos_theta)
    sin_theta = np.sin(theta)
    nearly_equal = sin_theta < 1e-8
    safe_sin = np.where(nearly_equal, 1.0, sin_theta)
    w0 = np.where(nearly_equal, 1.0 - t, np.sin((1.0 - t) * theta) / safe_sin)
    w1 = np.where(nearly_equal, t, np.sin(t * theta) / safe_sin)
    return quat_normalize(w0 * q0 + w1 * q1)


def rotate_about_y(v, angle):
    """(..., 3) vectors v rotated by `angle` (...) radians about +Y; numpy or torch, type kept.

    The only rotation the feature decoder needs, written with operators shared by numpy and
    torch so `recover_from_ric` runs on tensors (and keeps gradients) without a copy.
    """
    c, s = _cos(angle), _sin(angle)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    return _stack_last((c * x + s * z, y, c * z - s * x))


def _cos(x):
    return x.cos() if hasattr(x, "cos") else np.cos(x)


def _sin(x):
    return x.sin() if hasattr(x, "sin") else np.sin(x)
