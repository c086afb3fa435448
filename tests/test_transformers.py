"""Masked and residual transformers, on tiny seeded random models (CPU, seconds); decoding: test_masked_decoding.py."""


import pytest
import torch

from keymask.core.models.mask_transformer import MaskTransformer, MaskTransformerConfig
from keymask.core.models.residual_transformer import ResidualTransformer, ResidualTransformerConfig

V, C, TEXT = 16, 8, 12  # vocabulary, code width, text width
LENGTHS = torch.tensor([7, 4])  # tokens per sample; N = 7


def tiny_mask_transformer(seed: int = 0) -> MaskTransformer:
    torch.manual_seed(seed)
    config = MaskTransformerConfig(num_tokens=V, code_dim=C, latent_dim=16, ff_size=32, n_layers=2, n_heads=2,
                                   dropout=0.1, text_dim=TEXT, cond_drop_prob=0.5, max_len=64)
    return MaskTransformer(config).eval()


def tiny_residual_transformer(seed: int = 0, *, share_weight: bool = True, shared_codebook: bool = False,
                              num_quantizers: int = 4) -> ResidualTransformer:
    torch.manual_seed(seed)
    config = ResidualTransformerConfig(num_tokens=V, num_quantizers=num_quantizers, code_dim=C, latent_dim=16,
                                       ff_size=32, n_layers=2, n_heads=2, dropout=0.1, text_dim=TEXT,
                                       cond_drop_prob=0.5, share_weight=share_weight,
                                       shared_codebook=shared_codebook, max_len=64)
    return ResidualTransformer(config).eval()


RESIDUAL_VARIANTS = [dict(share_weight=s, shared_codebook=c) for s in (True, False) for c in (False, True)]


def inputs(b: int = 2, n: int = 7, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, V, (b, n), generator=g)
    text = torch.randn(b, TEXT, generator=g)
    padding = torch.arange(n)[None] >= LENGTHS[:b, None]
    return ids, text, padding


# ----------------------------------------------------------------------------------------------
# Models


def test_mask_transformer_shapes_and_special_ids():
    model = tiny_mask_transformer()
    ids, text, padding = inputs()
    assert (model.mask_id, model.pad_id) == (V, V + 1)
    ids = torch.where(padding, model.pad_id, ids)
    ids[0, 2] = model.mask_id
    assert model(ids, text, padding).shape == (2, 7, V)
    assert model.guided_logits(ids, text, padding, 4.0).shape == (2, 7, V)


@pytest.mark.parametrize("variant", RESIDUAL_VARIANTS)
def test_residual_transformer_shapes(variant):
    model = tiny_residual_transformer(**variant)
    ids, text, padding = inputs()
    history = model.history_embedding(torch.stack([ids, ids.flip(1)], dim=-1))
    assert history.shape == (2, 7, C)
    assert model(history, 2, text, padding).shape == (2, 7, V + 1)
    assert model(history, torch.tensor([1, 3]), text, padding).shape == (2, 7, V + 1)
    assert model.embedding_tables().shape == (3, V + 1, C)


@pytest.mark.parametrize("variant", RESIDUAL_VARIANTS)
def test_residual_layer_given_once_scores_as_the_same_layer_given_per_sample(variant):
    model = tiny_residual_transformer(**variant)
    _, text, padding = inputs()
    history = torch.randn(2, 7, C)
    for layer in (1, 3):
        torch.testing.assert_close(model(history, layer, text, padding),
                                   model(history, torch.tensor([layer, layer]), text, padding), atol=1e-5, rtol=0)

def test_residual_tables_are_tied_as_configured():
    tied = tiny_residual_transformer(share_weight=True)
    embeddings, (outputs, bias) = tied.embedding_tables(), tied.output_tables()
    assert bias is None
    torch.testing.assert_close(outputs[:-1], embeddings[1:], atol=0, rtol=0)  # output j-1 == embedding j
    untied = tiny_residual_transformer(share_weight=False)
    assert untied.output_tables()[1].shape == (4, V + 1)
    shared = tiny_residual_transformer(shared_codebook=True)
    assert torch.equal(shared.embedding_tables()[0], shared.embedding_tables()[2])


def test_mask_transformer_save_load_round_trip(tmp_path):
    model = tiny_mask_transformer()
    ids, text, padding = inputs()
    model.save_pretrained(tmp_path / "m")
    loaded = MaskTransformer.from_pretrained(tmp_path / "m")
    assert loaded.config == model.config
    torch.testing.assert_close(loaded(ids, text, padding), model(ids, text, padding), atol=0, rtol=0)


@pytest.mark.parametrize("variant", RESIDUAL_VARIANTS)
def test_residual_transformer_save_load_round_trip(tmp_path, variant):
    model = tiny_residual_transformer(**variant)
    _, text, padding = inputs()
    history = torch.randn(2, 7, C)
    model.save_pretrained(tmp_path / "r")
    loaded = ResidualTransformer.from_pretrained(tmp_path / "r")
    assert loaded.config == model.config
    torch.testing.assert_close(loaded(history, 3, text, padding), model(history, 3, text, padding), atol=0, rtol=0)


def test_loading_the_wrong_kind_fails(tmp_path):
    from keymask.core.models.official.options import CheckpointError

    tiny_mask_transformer().save_pretrained(tmp_path / "m")
    with pytest.raises(CheckpointError, match="residual_transformer"):
        ResidualTransformer.from_pretrained(tmp_path / "m")


def test_mask_guided_logits_equal_separate_passes():
    model = tiny_mask_transformer()
    ids, text, padding = inputs()
    cond = model(ids, text, padding)
    uncond = model(ids, torch.zeros_like(text), padding)
    torch.testing.assert_close(model(ids, text, padding, drop_condition=True), uncond, atol=0, rtol=0)
    torch.testing.assert_close(model.guided_logits(ids, text, padding, 4.0), uncond + 4.0 * (cond - uncond),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(model.guided_logits(ids, text, padding, 1.0), cond, atol=0, rtol=0)
    per_sample = model(ids, text, padding, drop_condition=torch.tensor([False, True]))
    torch.testing.assert_close(per_sample, torch.stack([cond[0], uncond[1]]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("variant", RESIDUAL_VARIANTS)
def test_residual_guided_logits_equal_separate_passes(variant):
    model = tiny_residual_transformer(**variant)
    _, text, padding = inputs()
    history = torch.randn(2, 7, C)
    cond = model(history, 2, text, padding)
    uncond = model(history, 2, text, padding, drop_condition=True)
    torch.testing.assert_close(model.guided_logits(history, 2, text, padding, 5.0), uncond + 5.0 * (cond - uncond),
                               atol=1e-5, rtol=0)


def test_padding_does_not_leak_into_real_positions():
    model = tiny_mask_transformer()
    ids, text, padding = inputs()
    other = torch.where(padding, (ids + 3) % V, ids)
    real = ~padding
    torch.testing.assert_close(model(ids, text, padding)[real], model(other, text, padding)[real], atol=1e-6, rtol=0)


def test_training_losses_are_finite_and_backpropagate():
    g = torch.Generator().manual_seed(3)
    mask_model = tiny_mask_transformer().train()
    ids, text, _ = inputs()
    out = mask_model.training_loss(ids, text, LENGTHS, generator=g)
    assert torch.isfinite(out.loss) and 0 <= float(out.accuracy) <= 1
    out.loss.backward()
    assert all(p.grad is not None for p in mask_model.parameters())
    assert mask_model.encoder.layers[0].linear1.weight.grad.abs().sum() > 0

    for variant in RESIDUAL_VARIANTS:
        res_model = tiny_residual_transformer(**variant).train()
        all_ids = torch.randint(0, V, (2, 7, 4), generator=g)
        out = res_model.training_loss(all_ids, text, LENGTHS, generator=g)
        assert torch.isfinite(out.loss)
        out.loss.backward()
        assert all(p.grad is not None for p in res_model.parameters()), variant


def test_training_loss_is_reproducible_with_a_generator():
    model = tiny_mask_transformer().train()
    ids, text, _ = inputs()
    torch.manual_seed(0)  # dropout inside the network uses the global generator
    first = model.training_loss(ids, text, LENGTHS, generator=torch.Generator().manual_seed(5)).loss
    torch.manual_seed(0)
    second = model.training_loss(ids, text, LENGTHS, generator=torch.Generator().manual_seed(5)).loss
    assert torch.equal(first, second)
