"""The numpy models against the torch modules they mirror, on random weights and inputs.

Every parameter and buffer of the torch model is randomised first (biases, norm scales and
running statistics included), so that a layer the numpy side skipped or got wrong shows.
"""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from keymask.core.backends import numpy_ops as ops
from keymask.core.backends.numpy_models import (
    NumpyLengthEstimator,
    NumpyMaskTransformer,
    NumpyResidualTransformer,
    NumpyRVQVAE,
)
from keymask.core.models.length_estimator import LengthEstimator, LengthEstimatorConfig
from keymask.core.models.mask_transformer import MaskTransformer, MaskTransformerConfig
from keymask.core.models.residual_transformer import ResidualTransformer, ResidualTransformerConfig
from keymask.core.models.rvq_vae import RVQVAE, RVQVAEConfig
from keymask.core.models.saved import CheckpointError
from torch import nn


def randomise(model: nn.Module, seed: int) -> nn.Module:
    """Random parameters and buffers, in eval mode: weights N(0, 1 / fan-in) (so that features stay
    near unit scale), biases N(0, 0.2^2), norm scales 1 + N(0, 0.2^2), batch-norm running statistics."""
    generator = torch.Generator().manual_seed(seed)

    def normal(tensor: torch.Tensor, mean: float, scale: float) -> None:
        tensor.copy_(mean + scale * torch.randn(tensor.shape, generator=generator))

    with torch.no_grad():
        for parameter in model.parameters():
            normal(parameter, 0.0, 0.2 if parameter.ndim < 2 else parameter.shape[-1] ** -0.5)
        for module in model.modules():
            if isinstance(module, nn.Conv1d):
                normal(module.weight, 0.0, module.weight[0].numel() ** -0.5)
            if isinstance(module, (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d)):
                normal(module.weight, 1.0, 0.2)
            if isinstance(module, nn.BatchNorm1d):
                normal(module.running_mean, 0.0, 0.3)
                module.running_var.copy_(0.5 + 1.5 * torch.rand(module.running_var.shape, generator=generator))
                module.num_batches_tracked.fill_(7)
    return model.eval()


def numpy_state(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


def assert_close(actual: np.ndarray, expected: torch.Tensor | np.ndarray, tolerance: float = 1e-4) -> float:
    """max |actual - expected| <= tolerance * max(1, max |expected|); returns the difference."""
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else expected
    assert actual.shape == expected.shape
    assert actual.dtype == np.float32
    difference = float(np.abs(actual - expected).max())
    assert difference <= tolerance * max(1.0, float(np.abs(expected).max())), difference
    return difference


def lengths_padding(lengths: list[int], n: int) -> np.ndarray:  # (B, n) True on padding
    return np.arange(n)[None, :] >= np.array(lengths)[:, None]


# ----------------------------------------------------------------------------------------------
# Ops


def test_gelu_is_as_close_to_the_exact_value_as_torchs_float32_gelu():
    x = np.linspace(-12, 12, 200001)
    exact = np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    ours = ops.gelu(x.astype(np.float32))
    torchs = F.gelu(torch.from_numpy(x.astype(np.float32))).numpy()
    assert ours.dtype == np.float32
    assert np.abs(ours - exact).max() <= np.abs(torchs - exact).max()
    assert ops.gelu(np.array([np.inf, -np.inf, 1e30, -1e30], np.float32)).tolist() == [np.inf, 0.0, float(np.float32(1e30)), 0.0]


@pytest.mark.parametrize("name, torch_fn", [
    ("gelu", F.gelu), ("relu", F.relu), ("silu", lambda t: t * torch.sigmoid(t))])
def test_activations_match_torch(name, torch_fn):
    x = np.random.default_rng(0).normal(0, 4, size=(3, 50, 40)).astype(np.float32)
    x[0, 0, :4] = [-200, 200, 0, -0.0]
    assert_close(ops.activation(name)(x), torch_fn(torch.from_numpy(x)), 1e-6)


def test_leaky_relu_and_softmax_match_torch():
    x = np.random.default_rng(1).normal(0, 3, size=(4, 9)).astype(np.float32)
    assert_close(ops.leaky_relu(x, 0.2), F.leaky_relu(torch.from_numpy(x), 0.2), 1e-7)
    x[:, 3] = -np.inf
    probabilities = ops.softmax(x)
    assert_close(probabilities, torch.softmax(torch.from_numpy(x), -1), 1e-6)
    assert np.all(probabilities[:, 3] == 0)


@pytest.mark.parametrize("kernel, stride, padding, dilation", [
    (3, 1, 1, 1), (3, 1, 9, 9), (4, 2, 1, 1), (6, 3, 1, 1), (1, 1, 0, 1), (5, 2, 3, 2), (2, 4, 0, 1)])
def test_conv1d_matches_torch(kernel, stride, padding, dilation):
    rng = np.random.default_rng(kernel * 100 + stride * 10 + dilation)
    x = rng.normal(size=(2, 5, 23)).astype(np.float32)
    weight = rng.normal(size=(7, 5, kernel)).astype(np.float32)
    bias = rng.normal(size=7).astype(np.float32)
    expected = F.conv1d(torch.from_numpy(x), torch.from_numpy(weight), torch.from_numpy(bias), stride=stride,
                        padding=padding, dilation=dilation)
    assert_close(ops.conv1d(x, weight, bias, stride=stride, padding=padding, dilation=dilation), expected, 1e-5)


def test_norms_match_torch():
    rng = np.random.default_rng(2)
    x = rng.normal(1, 2, size=(2, 64, 11)).astype(np.float32)
    weight, bias = rng.normal(1, 0.2, size=64).astype(np.float32), rng.normal(size=64).astype(np.float32)
    mean, var = rng.normal(size=64).astype(np.float32), rng.uniform(0.5, 2, size=64).astype(np.float32)
    t = {name: torch.from_numpy(a) for name, a in {"x": x, "w": weight, "b": bias, "m": mean, "v": var}.items()}
    assert_close(ops.layer_norm(x.transpose(0, 2, 1), weight, bias),
                 F.layer_norm(t["x"].transpose(1, 2), (64,), t["w"], t["b"]), 1e-5)
    assert_close(ops.group_norm(x, 32, weight, bias, 1e-6), F.group_norm(t["x"], 32, t["w"], t["b"], 1e-6), 1e-5)
    assert_close(ops.batch_norm(x, mean, var, weight, bias, 1e-6),
                 F.batch_norm(t["x"], t["m"], t["v"], t["w"], t["b"], training=False, eps=1e-6), 1e-5)


def test_self_attention_matches_torch():
    torch.manual_seed(0)
    attention = randomise(nn.MultiheadAttention(32, 4), 3)
    x = np.random.default_rng(3).normal(size=(3, 6, 32)).astype(np.float32)
    padding = lengths_padding([6, 4, 1], 6)
    xt = torch.from_numpy(x).transpose(0, 1)
    expected, _ = attention(xt, xt, xt, key_padding_mask=torch.from_numpy(padding), need_weights=False)
    state = numpy_state(attention)
    actual = ops.self_attention(x, 4, ops.transposed(state["in_proj_weight"]), state["in_proj_bias"],
                                ops.transposed(state["out_proj.weight"]), state["out_proj.bias"], padding)
    assert_close(actual, expected.transpose(0, 1), 1e-5)


def test_upsample_and_positions_match_torch():
    from keymask.core.models.mask_transformer import SinusoidalPositions

    x = np.arange(12, dtype=np.float32).reshape(1, 2, 6)
    expected = F.interpolate(torch.from_numpy(x), scale_factor=2, mode="nearest")
    assert_close(ops.upsample_nearest2(x), expected, 0)
    table = SinusoidalPositions(64, 300, 0.0).table
    # torch's float32 exp is off by one ulp for a few frequencies, which position 300 magnifies.
    assert_close(ops.sinusoidal_positions(300, 64), table, 5e-5)
    assert_close(ops.sinusoidal_positions(300, 64)[:60], table[:60], 1e-5)


# ----------------------------------------------------------------------------------------------
# RVQ-VAE

SMALL_VQ = {"input_dim": 10, "nb_code": 32, "code_dim": 16, "width": 32, "depth": 2, "num_quantizers": 3}
VQ_VARIANTS = {
    "plain": {},
    "layer-norm-silu": {"norm": "LN", "activation": "silu"},
    "group-norm-gelu": {"norm": "GN", "activation": "gelu", "width": 64},
    "batch-norm": {"norm": "BN", "depth": 3},
    "shared-codebook": {"shared_codebook": True, "num_quantizers": 4},
    "stride-3-down-1": {"down_t": 1, "stride_t": 3, "dilation_growth_rate": 2, "depth": 3},
}


def random_vq(variant: str, seed: int = 0) -> RVQVAE:
    torch.manual_seed(seed)
    model = randomise(RVQVAE(RVQVAEConfig(**{**SMALL_VQ, **VQ_VARIANTS[variant]})), seed)
    # Codebooks on the scale of the latents they quantise, shrinking layer by layer, so that the
    # nearest codes vary (and an error in the residual shows in the ids).
    motion = torch.randn(4, 24, model.config.input_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        scale = model.encoder(motion.transpose(1, 2)).std()
        generator = torch.Generator().manual_seed(seed + 1)
        for q, layer in enumerate(model.quantizer.layers):
            layer.codebook.copy_(torch.randn(layer.codebook.shape, generator=generator) * scale * 0.6 ** q)
    return model


@pytest.mark.parametrize("variant", list(VQ_VARIANTS))
def test_rvq_vae_encode_and_decode_match_torch(variant):
    model = random_vq(variant)
    numpy_model = NumpyRVQVAE.from_state(model.config, numpy_state(model), "test")
    frames = 24 if model.config.stride_t == 2 else 27
    motion = torch.randn(3, frames, model.config.input_dim, generator=torch.Generator().manual_seed(5))

    ids = numpy_model.encode(motion.numpy())
    expected_ids = model.encode(motion)
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, expected_ids.numpy())
    assert len(np.unique(ids[..., 0])) > 3  # the comparison is not trivial

    partial = expected_ids[..., :2].clone()
    partial[0, -1] = -1  # a padded token
    partial[1, 0, 1] = -1  # a dropped layer
    with torch.no_grad():
        for indices in (expected_ids, partial, expected_ids[..., :0]):
            assert_close(numpy_model.decode(indices.numpy()), model.decode(indices))


def test_rvq_vae_rejects_more_layers_than_it_has():
    model = random_vq("plain")
    numpy_model = NumpyRVQVAE.from_state(model.config, numpy_state(model), "test")
    with pytest.raises(ValueError):
        numpy_model.decode(np.zeros((1, 4, 4), dtype=np.int64))


# ----------------------------------------------------------------------------------------------
# Transformers

SMALL_TRANSFORMER = {"num_tokens": 32, "code_dim": 16, "latent_dim": 32, "ff_size": 64, "n_layers": 2, "n_heads": 4,
                     "text_dim": 24}
LENGTHS = [7, 5, 2]


def random_text(b: int = len(LENGTHS), dim: int = 24, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(b, dim)).astype(np.float32)


def random_mask_transformer(seed: int = 0) -> MaskTransformer:
    torch.manual_seed(seed)
    return randomise(MaskTransformer(MaskTransformerConfig(**SMALL_TRANSFORMER)), seed)


def base_ids(model) -> tuple[np.ndarray, np.ndarray]:
    """Ids (B, N) with codes, mask ids and pad ids on padding; padding (B, N)."""
    rng = np.random.default_rng(11)
    padding = lengths_padding(LENGTHS, max(LENGTHS))
    ids = rng.integers(0, model.config.num_tokens + 1, size=padding.shape)  # mask id included
    return np.where(padding, model.pad_id, ids), padding


def test_mask_transformer_matches_torch():
    model = random_mask_transformer()
    numpy_model = NumpyMaskTransformer.from_state(model.config, numpy_state(model), "test")
    assert (numpy_model.mask_id, numpy_model.pad_id) == (model.mask_id, model.pad_id)
    ids, padding = base_ids(model)
    text = random_text()
    tensors = torch.from_numpy(ids), torch.from_numpy(text), torch.from_numpy(padding)
    drop = np.array([False, True, False])
    with torch.no_grad():
        for condition in (False, True, drop):
            expected = model(*tensors, drop_condition=torch.from_numpy(drop) if condition is drop else condition)
            assert_close(numpy_model.forward(ids, text, padding, drop_condition=condition), expected)
        for scale in (1, 4):
            assert_close(numpy_model.guided_logits(ids, text, padding, scale), model.guided_logits(*tensors, scale))


def test_mask_transformer_computes_the_wanted_positions_and_shares_the_unconditional_branch():
    model = random_mask_transformer()
    numpy_model = NumpyMaskTransformer.from_state(model.config, numpy_state(model), "test")
    ids, padding = base_ids(model)
    text = random_text()
    ids[1] = ids[0]  # samples 0 and 1 share ids and padding, so their unconditional branch runs once
    padding[1] = padding[0]
    wanted = np.random.default_rng(3).random(ids.shape) < 0.5
    wanted[1] = wanted[0]
    calls = []
    forward = numpy_model.forward
    numpy_model.forward = lambda ids, *args, **kwargs: calls.append(len(ids)) or forward(ids, *args, **kwargs)
    with torch.no_grad():
        expected = model.guided_logits(torch.from_numpy(ids), torch.from_numpy(text), torch.from_numpy(padding), 4)
    got = numpy_model.guided_logits(ids, text, padding, 4, positions=wanted)
    assert calls == [3 + 2]  # three conditional rows, two distinct unconditional ones
    assert_close(got[wanted], expected[torch.from_numpy(wanted)])
    assert np.all(got[~wanted] == 0)


RESIDUAL_VARIANTS = [(share, shared) for share in (True, False) for shared in (True, False)]


def random_residual_transformer(share_weight: bool, shared_codebook: bool, seed: int = 0) -> ResidualTransformer:
    torch.manual_seed(seed)
    config = ResidualTransformerConfig(**SMALL_TRANSFORMER, num_quantizers=4, share_weight=share_weight,
                                       shared_codebook=shared_codebook)
    return randomise(ResidualTransformer(config), seed)


@pytest.mark.parametrize("share_weight, shared_codebook", RESIDUAL_VARIANTS)
def test_residual_transformer_matches_torch(share_weight, shared_codebook):
    model = random_residual_transformer(share_weight, shared_codebook)
    numpy_model = NumpyResidualTransformer.from_state(model.config, numpy_state(model), "test")
    assert numpy_model.pad_id == model.pad_id
    assert_close(numpy_model.embedding_tables(), model.embedding_tables(), 0)

    padding = lengths_padding(LENGTHS, max(LENGTHS))
    history = np.random.default_rng(12).normal(0, 0.5, size=padding.shape + (16,)).astype(np.float32)
    text = random_text()
    tensors = torch.from_numpy(history), torch.from_numpy(text), torch.from_numpy(padding)
    layers = np.array([1, 3, 2])
    drop = np.array([True, False, False])
    with torch.no_grad():
        for layer in (1, 3, layers):
            torch_layer = torch.from_numpy(layer) if isinstance(layer, np.ndarray) else layer
            h, t, p = tensors
            expected = model(h, torch_layer, t, p, drop_condition=torch.from_numpy(drop))
            assert_close(numpy_model.forward(history, layer, text, padding, drop_condition=drop), expected)
            for scale in (1, 4):
                assert_close(numpy_model.guided_logits(history, layer, text, padding, scale),
                             model.guided_logits(h, torch_layer, t, p, scale))


def test_residual_transformer_rejects_layer_zero():
    model = random_residual_transformer(True, False)
    numpy_model = NumpyResidualTransformer.from_state(model.config, numpy_state(model), "test")
    with pytest.raises(ValueError):
        numpy_model.forward(np.zeros((1, 3, 16), np.float32), 0, random_text(1), np.zeros((1, 3), bool))


@pytest.mark.parametrize("dropout", [0.2, 0.0])
def test_length_estimator_matches_torch(dropout):
    torch.manual_seed(0)
    model = randomise(LengthEstimator(LengthEstimatorConfig(text_dim=24, n_classes=10, hidden_dim=64,
                                                            dropout=dropout)), 0)
    numpy_model = NumpyLengthEstimator.from_state(model.config, numpy_state(model), "test")
    text = random_text(5)
    with torch.no_grad():
        assert_close(numpy_model.logits(text), model(torch.from_numpy(text)))


# ----------------------------------------------------------------------------------------------
# Loading


def test_from_folder_round_trip(tmp_path):
    vq = random_vq("batch-norm")
    mask = random_mask_transformer()
    residual = random_residual_transformer(False, False)
    estimator = randomise(LengthEstimator(LengthEstimatorConfig(text_dim=24, n_classes=10, hidden_dim=64)), 0)
    for model in (vq, mask, residual, estimator):
        model.save_pretrained(tmp_path / model.kind)

    numpy_vq = NumpyRVQVAE.from_folder(tmp_path / "rvq_vae")
    numpy_mask = NumpyMaskTransformer.from_folder(tmp_path / "mask_transformer")
    numpy_residual = NumpyResidualTransformer.from_folder(tmp_path / "residual_transformer")
    numpy_estimator = NumpyLengthEstimator.from_folder(tmp_path / "length_estimator")
    assert numpy_vq.config == vq.config and numpy_mask.config == mask.config

    motion = torch.randn(2, 24, vq.config.input_dim, generator=torch.Generator().manual_seed(1))
    ids, padding = base_ids(mask)
    history = np.random.default_rng(2).normal(size=padding.shape + (16,)).astype(np.float32)
    text = random_text()
    with torch.no_grad():
        np.testing.assert_array_equal(numpy_vq.encode(motion.numpy()), vq.encode(motion).numpy())
        assert_close(numpy_vq.decode(vq.encode(motion).numpy()), vq.decode(vq.encode(motion)))
        assert_close(numpy_mask.guided_logits(ids, text, padding, 4),
                     mask.guided_logits(torch.from_numpy(ids), torch.from_numpy(text), torch.from_numpy(padding), 4))
        assert_close(numpy_residual.guided_logits(history, 2, text, padding, 4),
                     residual.guided_logits(torch.from_numpy(history), 2, torch.from_numpy(text),
                                            torch.from_numpy(padding), 4))
        assert_close(numpy_estimator.logits(text), estimator(torch.from_numpy(text)))


def test_from_folder_rejects_another_kind(tmp_path):
    random_mask_transformer().save_pretrained(tmp_path / "model")
    with pytest.raises(CheckpointError, match="mask_transformer"):
        NumpyRVQVAE.from_folder(tmp_path / "model")


def test_from_state_names_a_missing_key():
    model = random_residual_transformer(True, False)
    state = numpy_state(model)
    del state["encoder.layers.1.linear2.bias"]
    with pytest.raises(CheckpointError, match=r"my-source.*lacks the weight 'encoder\.layers\.1\.linear2\.bias'"):
        NumpyResidualTransformer.from_state(model.config, state, "my-source")


def test_from_state_names_an_unexpected_key():
    model = random_vq("batch-norm")
    state = numpy_state(model)
    state["quantizer.layers.3.codebook"] = state["quantizer.layers.0.codebook"]
    with pytest.raises(CheckpointError, match=r"my-source.*unexpected weight 'quantizer\.layers\.3\.codebook'"):
        NumpyRVQVAE.from_state(model.config, state, "my-source")


def test_from_state_names_a_wrong_shape():
    model = random_mask_transformer()
    state = numpy_state(model)
    state["head.out.weight"] = state["head.out.weight"][:-1]
    with pytest.raises(CheckpointError, match=r"my-source has 'head\.out\.weight' of shape \(31, 32\)"):
        NumpyMaskTransformer.from_state(model.config, state, "my-source")


def test_from_state_checks_the_batch_norm_counter():
    model = random_vq("batch-norm")
    state = numpy_state(model)
    del state["decoder.model.2.0.model.1.norm2.num_batches_tracked"]
    with pytest.raises(CheckpointError, match="num_batches_tracked"):
        NumpyRVQVAE.from_state(model.config, state, "my-source")


def test_importing_the_numpy_models_does_not_import_torch():
    code = ("import sys, keymask.core.backends.numpy_models; "
            "assert 'torch' not in sys.modules and 'scipy' not in sys.modules, "
            "sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'scipy'))[:5]")
    subprocess.run([sys.executable, "-c", code], check=True)
