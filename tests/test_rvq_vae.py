"""The residual VQ-VAE and its quantizer, on tiny seeded random models."""

import dataclasses

import pytest
import torch

from keymask.core.models.quantizer import CodebookQuantizer, QuantizerConfig, ResidualVQ
from keymask.core.models.rvq_vae import RVQVAE, RVQVAEConfig


def tiny_config(**overrides) -> RVQVAEConfig:
    values = dict(input_dim=12, nb_code=16, code_dim=8, down_t=2, stride_t=2, width=16, depth=2,
                  dilation_growth_rate=2, num_quantizers=3)
    values.update(overrides)
    return RVQVAEConfig(**values)


def trained_once(config: RVQVAEConfig, seed: int = 0) -> RVQVAE:
    """A tiny model whose codebooks were filled by one training step, then put in eval mode."""
    torch.manual_seed(seed)
    model = RVQVAE(config)
    model.train()
    model(torch.randn(4, 32, config.input_dim))
    return model.eval()


def tiny_quantizer(**overrides) -> ResidualVQ:
    values = dict(nb_code=16, code_dim=8, num_quantizers=3)
    values.update(overrides)
    return ResidualVQ(QuantizerConfig(**values))


def test_shapes():
    model = trained_once(tiny_config())
    motion = torch.randn(2, 32, 12)  # (B, T, D)
    indices = model.encode(motion)
    assert indices.shape == (2, 8, 3) and indices.dtype == torch.long  # (B, N = T / 4, Q)
    assert model.decode(indices).shape == (2, 32, 12)
    reconstruction, losses = model(motion)
    assert reconstruction.shape == (2, 32, 12)
    assert losses.commitment.shape == () and losses.perplexity.shape == ()


def test_decoding_the_indices_gives_back_the_quantized_output():
    torch.manual_seed(1)
    quantizer = tiny_quantizer()
    latent = torch.randn(2, 8, 10)  # (B, C, N)
    quantizer.train()
    quantizer(latent)  # fill the codebooks from data
    quantizer.eval()

    quantized, indices, _ = quantizer(latent)
    assert indices.shape == (2, 10, 3)
    assert torch.equal(quantizer.get_output_from_indices(indices), quantized)
    assert torch.equal(quantizer.quantize(latent), indices)
    codes = quantizer.get_codes_from_indices(indices)  # (Q, B, N, C)
    assert codes.shape == (3, 2, 10, 8)
    assert torch.equal(codes[0], quantizer.layers[0].codebook[indices[..., 0]])


def test_single_codebook_quantizer_contract():
    torch.manual_seed(2)
    layer = CodebookQuantizer(nb_code=8, code_dim=4)
    layer.train()
    layer(torch.randn(3, 4, 5))
    layer.eval()
    x = torch.randn(3, 4, 5)  # (B, C, N)
    quantized, indices, losses = layer(x)
    assert torch.equal(layer.dequantize(indices).permute(0, 2, 1), quantized)
    distances = torch.cdist(x.permute(0, 2, 1).reshape(-1, 4), layer.codebook)  # (B*N, nb_code)
    assert torch.equal(indices.reshape(-1), distances.argmin(dim=-1))
    assert losses.commitment > 0 and 1 <= losses.perplexity <= 8


def test_padding_index_and_missing_layers_contribute_nothing():
    torch.manual_seed(3)
    quantizer = tiny_quantizer()
    quantizer.train()
    quantizer(torch.randn(2, 8, 10))
    quantizer.eval()
    indices = quantizer.quantize(torch.randn(2, 8, 6))  # (B, N, Q)
    base_only = quantizer.get_output_from_indices(indices[..., :1])
    padded = indices.clone()
    padded[..., 1:] = -1
    assert torch.equal(quantizer.get_output_from_indices(padded), base_only)
    assert torch.equal(base_only, quantizer.layers[0].codebook[indices[..., 0]].permute(0, 2, 1))
    padded[1] = -1
    assert torch.count_nonzero(quantizer.get_output_from_indices(padded)[1]) == 0


def test_save_and_load_round_trip(tmp_path):
    model = trained_once(tiny_config(activation="gelu"))
    model.save_pretrained(tmp_path / "rvq")
    loaded = RVQVAE.from_pretrained(tmp_path / "rvq")
    assert loaded.config == model.config and not loaded.training
    motion = torch.randn(2, 16, 12)
    indices = model.encode(motion)
    assert torch.equal(loaded.encode(motion), indices)
    assert torch.equal(loaded.decode(indices), model.decode(indices))


def test_quantizer_dropout_only_in_training():
    torch.manual_seed(4)
    quantizer = tiny_quantizer(num_quantizers=4, quantize_dropout_prob=1.0)
    latent = torch.randn(2, 8, 10)
    quantizer.train()
    dropped_layer_counts = set()
    for _ in range(30):
        _, indices, _ = quantizer(latent)
        is_dropped = (indices == -1).all(dim=(0, 1))  # (Q,) whole layers are dropped
        assert not is_dropped[0]  # the cutoff index 0 is always kept
        assert torch.equal(is_dropped, (indices == -1).any(dim=(0, 1)))
        n_dropped = int(is_dropped.sum())
        assert is_dropped[4 - n_dropped:].all()  # the dropped layers are the upper ones
        dropped_layer_counts.add(n_dropped)
    assert dropped_layer_counts == {0, 1, 2, 3}

    quantizer.eval()
    for _ in range(10):
        assert (quantizer(latent)[1] != -1).all()


def test_ema_updates_the_codebook_in_training_only():
    torch.manual_seed(5)
    layer = CodebookQuantizer(nb_code=8, code_dim=4, ema_decay=0.9)
    assert not layer.codebook.any()
    layer.train()
    layer(torch.randn(2, 4, 10))
    initial = layer.codebook.clone()
    assert initial.any()  # filled from the batch on the first training step
    layer(torch.randn(2, 4, 10) + 3.0)
    assert not torch.equal(layer.codebook, initial)

    layer.eval()
    frozen = layer.codebook.clone()
    layer(torch.randn(2, 4, 10))
    assert torch.equal(layer.codebook, frozen)


def test_dead_codes_are_reset_to_inputs():
    torch.manual_seed(6)
    layer = CodebookQuantizer(nb_code=8, code_dim=4, ema_decay=0.99)
    layer.train()
    layer(torch.randn(1, 4, 20))
    x = torch.randn(1, 4, 20) * 0.01 + 50.0  # far away: all of it goes to one code
    layer(x)
    dead = layer.code_count < 1.0  # (nb_code,) EMA usage fell below one
    assert dead.any()
    inputs = x.permute(0, 2, 1).reshape(-1, 4)  # (B*N, C)
    # With at least nb_code inputs the replacements are the first nb_code of them, in order.
    assert torch.equal(layer.codebook[dead], inputs[:8][dead])
    assert not torch.isin(layer.codebook[~dead], inputs).all(dim=-1).any()


def test_straight_through_gradient_reaches_the_encoder():
    torch.manual_seed(7)
    model = RVQVAE(tiny_config())
    model.train()
    reconstruction, losses = model(torch.randn(2, 16, 12))
    (reconstruction.square().mean() + losses.commitment).backward()
    first_conv = model.encoder.model[0].weight
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0


def test_shared_codebook():
    config = tiny_config(shared_codebook=True, num_quantizers=4)
    model = trained_once(config)
    codebook_keys = [k for k in model.state_dict() if "codebook" in k]
    assert codebook_keys == ["quantizer.layers.0.codebook"]
    codebooks = model.quantizer.codebooks  # (Q, nb_code, C)
    assert codebooks.shape == (4, 16, 8)
    assert all(torch.equal(codebooks[q], codebooks[0]) for q in range(4))

    latent = torch.randn(2, 8, 6)
    quantized, indices, _ = model.quantizer(latent)
    assert indices.shape == (2, 6, 4)
    assert torch.equal(model.quantizer.get_output_from_indices(indices), quantized)


def test_shared_codebook_save_and_load_round_trip(tmp_path):
    model = trained_once(tiny_config(shared_codebook=True))
    loaded = RVQVAE.from_pretrained(model.save_pretrained(tmp_path / "shared"))
    motion = torch.randn(1, 16, 12)
    assert torch.equal(loaded.encode(motion), model.encode(motion))


@pytest.mark.parametrize("activation, norm", [("silu", "LN"), ("gelu", "GN"), ("relu", "BN")])
def test_activation_and_norm_options(activation, norm):
    model = trained_once(tiny_config(width=32, activation=activation, norm=norm))
    motion = torch.randn(2, 16, 12)
    assert model.decode(model.encode(motion)).shape == (2, 16, 12)


def test_residual_blocks_run_the_largest_dilation_first():
    model = RVQVAE(tiny_config(depth=3, dilation_growth_rate=3))
    encoder_blocks = model.encoder.model[2][1].model
    decoder_blocks = model.decoder.model[2][0].model
    assert [b.conv1.dilation[0] for b in encoder_blocks] == [9, 3, 1]
    assert [b.conv1.dilation[0] for b in decoder_blocks] == [9, 3, 1]


def test_unknown_options_are_refused():
    with pytest.raises(ValueError, match="activation"):
        RVQVAE(tiny_config(activation="tanh"))
    with pytest.raises(ValueError, match="norm"):
        RVQVAE(dataclasses.replace(tiny_config(), norm="IN"))
