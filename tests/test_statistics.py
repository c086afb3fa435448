import numpy as np
import pytest

from keymask.core.features import HUMANML3D_LAYOUT, FeatureLayout
from keymask.core.statistics import feature_mean_std


def test_std_is_shared_within_each_group_and_mean_is_per_channel():
    rng = np.random.default_rng(0)
    scales = rng.uniform(0.1, 3.0, size=263)
    features = rng.normal(size=(5000, 263)) * scales + np.arange(263)
    mean, std = feature_mean_std(features, HUMANML3D_LAYOUT)
    np.testing.assert_allclose(mean, np.arange(263), atol=0.15)
    for group in HUMANML3D_LAYOUT.groups():
        assert np.ptp(std[group]) == 0
        assert std[group][0] == pytest.approx(features[:, group].std(axis=0).mean())


def test_groups_tile_the_vector():
    layout = FeatureLayout(n_joints=22)
    covered = np.concatenate([np.arange(263)[g] for g in layout.groups()])
    np.testing.assert_array_equal(covered, np.arange(263))


def test_constant_channels_do_not_divide_by_zero():
    mean, std = feature_mean_std(np.ones((10, 263)), HUMANML3D_LAYOUT)
    assert (std > 0).all()


def test_wrong_width_is_rejected():
    with pytest.raises(ValueError, match="263"):
        feature_mean_std(np.zeros((4, 10)), HUMANML3D_LAYOUT)
