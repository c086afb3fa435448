"""Each rotation helper against an independent construction (scipy's Rotation, or a second route)."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation, Slerp

from keymask.core import rotations as rot


def random_quats(shape, seed=0) -> np.ndarray:
    """(*shape, 4) random unit quaternions, (w, x, y, z)."""
    q = np.random.default_rng(seed).normal(size=tuple(shape) + (4,))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def to_scipy(q: np.ndarray) -> Rotation:
    return Rotation.from_quat(q.reshape(-1, 4)[:, [1, 2, 3, 0]])  # scipy is scalar-last


def test_quat_to_matrix_matches_scipy_and_ignores_scale():
    q = random_quats((5, 3))
    expected = to_scipy(q).as_matrix().reshape(5, 3, 3, 3)
    np.testing.assert_allclose(rot.quat_to_matrix(q), expected, atol=1e-12)
    np.testing.assert_allclose(rot.quat_to_matrix(3.0 * q), expected, atol=1e-12)


def test_quat_multiply_composes_like_matrices():
    a, b = random_quats((4, 2), seed=1), random_quats((4, 2), seed=2)
    expected = rot.quat_to_matrix(a) @ rot.quat_to_matrix(b)
    np.testing.assert_allclose(rot.quat_to_matrix(rot.quat_multiply(a, b)), expected, atol=1e-12)


def test_quat_rotate_matches_scipy_apply_with_broadcasting():
    q = random_quats((6,), seed=3)
    v = np.random.default_rng(4).normal(size=(6, 3))
    np.testing.assert_allclose(rot.quat_rotate(q, v), to_scipy(q).apply(v), atol=1e-12)
    # One rotation applied to many vectors (T, J, 3).
    many = np.random.default_rng(5).normal(size=(2, 7, 3))
    np.testing.assert_allclose(
        rot.quat_rotate(q[0], many), to_scipy(q[:1]).apply(many.reshape(-1, 3)).reshape(2, 7, 3), atol=1e-12
    )


def test_quat_inverse_undoes_the_rotation():
    q = random_quats((8,), seed=6)
    identity = rot.quat_multiply(q, rot.quat_inverse(q))
    np.testing.assert_allclose(identity, rot.quat_identity((8,)), atol=1e-12)
    np.testing.assert_allclose(rot.quat_to_matrix(rot.quat_inverse(q)), to_scipy(q).inv().as_matrix(), atol=1e-12)


def test_quat_between_is_the_shortest_arc():
    rng = np.random.default_rng(7)
    u, v = rng.normal(size=(10, 3)), rng.normal(size=(10, 3)) * 2.5
    q = rot.quat_between(u, v)
    unit_u = u / np.linalg.norm(u, axis=-1, keepdims=True)
    unit_v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    np.testing.assert_allclose(rot.quat_rotate(q, unit_u), unit_v, atol=1e-12)
    # Built a second way: axis u x v, angle between them.
    angle = np.arccos(np.clip((unit_u * unit_v).sum(-1), -1, 1))
    np.testing.assert_allclose(q, rot.quat_from_axis_angle(np.cross(u, v), angle), atol=1e-12)
    # Broadcasting one target against many sources.
    assert rot.quat_between(u, [0.0, 0.0, 1.0]).shape == (10, 4)


def test_quat_from_axis_angle_matches_scipy_rotvec():
    rng = np.random.default_rng(8)
    axis, angle = rng.normal(size=(5, 3)), rng.uniform(-3, 3, size=5)
    rotvec = axis / np.linalg.norm(axis, axis=-1, keepdims=True) * angle[:, None]
    np.testing.assert_allclose(
        rot.quat_to_matrix(rot.quat_from_axis_angle(axis, angle)), Rotation.from_rotvec(rotvec).as_matrix(), atol=1e-12
    )


def test_quat_fix_makes_consecutive_frames_agree_without_changing_rotations():
    rng = np.random.default_rng(9)
    angles = np.linspace(0, 2.5, 30)[:, None] + rng.uniform(0, 1, size=(1, 3))  # (T, J) smooth
    smooth = rot.quat_from_axis_angle(np.array([0.3, 1.0, -0.2]), angles)  # (T, J, 4)
    signs = rng.choice([-1.0, 1.0], size=(30, 3, 1))
    fixed = rot.quat_fix(smooth * signs)
    assert ((fixed[1:] * fixed[:-1]).sum(-1) > 0).all()
    np.testing.assert_allclose(np.abs(fixed), np.abs(smooth), atol=1e-12)  # same rotations, q or -q
    np.testing.assert_allclose(fixed, smooth * signs[:1], atol=1e-12)  # anchored on frame 0


def test_matrix_to_quat_round_trips_including_half_turns():
    q = random_quats((50,), seed=10)
    # Half turns about each axis and about a diagonal: the trace is -1, w is 0.
    half_turns = rot.quat_from_axis_angle(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]]), np.pi)
    for quats in (q, half_turns):
        back = rot.matrix_to_quat(rot.quat_to_matrix(quats))
        assert (back[..., 0] >= 0).all()
        np.testing.assert_allclose(np.abs((back * quats).sum(-1)), 1.0, atol=1e-12)  # same up to sign
    matrices = Rotation.random(12, random_state=11).as_matrix().reshape(3, 4, 3, 3)
    np.testing.assert_allclose(rot.quat_to_matrix(rot.matrix_to_quat(matrices)), matrices, atol=1e-12)


def test_cont6d_is_the_first_two_columns_and_gram_schmidt_inverts_it():
    matrices = Rotation.random(9, random_state=12).as_matrix()
    d6 = rot.matrix_to_cont6d(matrices)
    np.testing.assert_array_equal(d6[:, :3], matrices[:, :, 0])
    np.testing.assert_array_equal(d6[:, 3:], matrices[:, :, 1])
    np.testing.assert_allclose(rot.cont6d_to_matrix(d6), matrices, atol=1e-12)
    np.testing.assert_allclose(rot.quat_to_cont6d(rot.matrix_to_quat(matrices)), d6, atol=1e-12)


def test_cont6d_to_matrix_orthonormalises_a_perturbed_input():
    d6 = rot.matrix_to_cont6d(Rotation.random(20, random_state=13).as_matrix())
    noisy = d6 * 1.7 + np.random.default_rng(14).normal(scale=0.1, size=d6.shape)
    m = rot.cont6d_to_matrix(noisy)
    np.testing.assert_allclose(m @ np.swapaxes(m, -1, -2), np.broadcast_to(np.eye(3), m.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(m), 1.0, atol=1e-12)
    x = noisy[:, :3] / np.linalg.norm(noisy[:, :3], axis=-1, keepdims=True)
    np.testing.assert_allclose(m[:, :, 0], x, atol=1e-12)  # the x column keeps its direction
    np.testing.assert_allclose((m[:, :, 2] * noisy[:, 3:]).sum(-1), 0.0, atol=1e-12)  # y stays in the x-y plane


def test_quat_slerp_matches_scipy_and_takes_the_short_way():
    q0, q1 = random_quats((), seed=15), random_quats((), seed=16)
    t = np.linspace(-0.2, 1.0, 7)
    ours = rot.quat_slerp(q0, q1, t)  # (7, 4)
    inside = (t >= 0) & (t <= 1)
    expected = Slerp([0.0, 1.0], to_scipy(np.stack([q0, q1])))(t[inside]).as_matrix()
    np.testing.assert_allclose(rot.quat_to_matrix(ours[inside]), expected, atol=1e-12)
    np.testing.assert_allclose(rot.quat_slerp(q0, -q1, t), ours, atol=1e-12)  # -q1 is the same rotation
    np.testing.assert_allclose(rot.quat_slerp(q0, q0, 0.3), q0, atol=1e-12)  # no division by zero


@pytest.mark.parametrize("angle", [0.0, 0.7, -2.9])
def test_rotate_about_y_matches_quaternion_and_torch(angle):
    v = np.random.default_rng(17).normal(size=(4, 5, 3))
    expected = rot.quat_rotate(rot.quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), angle), v)
    angles = np.full((4, 5), angle)
    np.testing.assert_allclose(rot.rotate_about_y(v, angles), expected, atol=1e-12)
    as_tensor = rot.rotate_about_y(torch.from_numpy(v), torch.from_numpy(angles))
    assert isinstance(as_tensor, torch.Tensor)
    np.testing.assert_allclose(as_tensor.numpy(), expected, atol=1e-12)


def test_quat_between_opposite_vectors_is_a_half_turn():
    from keymask.core.rotations import quat_between, quat_rotate

    u = np.array([[0.0, -1.0, 0.0], [0.3, 0.2, 0.1], [0.0, 0.0, 2.0]])
    q = quat_between(u, -3 * u)
    assert np.isfinite(q).all()
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0)
    np.testing.assert_allclose(quat_rotate(q, u), -u, atol=1e-12)
