"""Masked and residual transformers and masked decoding, on tiny seeded random models (CPU, seconds)."""

import math

import pytest
import torch

from keymask.core.generation.masked_decoding import (
    GenerationCancelled,
    decode_base_tokens,
    decode_residual_layers,
    edit_base_tokens,
    sample_tokens,
    top_k_filter,
)
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


# ----------------------------------------------------------------------------------------------
# Sampling helpers


def test_top_k_keeps_the_official_count():
    logits = torch.randn(3, 64)
    filtered = top_k_filter(logits, 0.9)
    kept = torch.isfinite(filtered).sum(dim=-1)
    assert kept.tolist() == [math.ceil((1 - 0.9) * 64)] * 3 == [7] * 3
    assert torch.equal(filtered.argmax(-1), logits.argmax(-1))


def test_greedy_sampling_is_the_argmax_and_seeded_sampling_repeats():
    logits = torch.randn(4, 5, 16)
    assert torch.equal(sample_tokens(logits, greedy=True), logits.argmax(-1))
    a = sample_tokens(logits, generator=torch.Generator().manual_seed(1))
    b = sample_tokens(logits, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


# ----------------------------------------------------------------------------------------------
# Decoding


def test_base_decoding_shapes_padding_and_range():
    model = tiny_mask_transformer()
    _, text, _ = inputs()
    ids = decode_base_tokens(model, text, LENGTHS, steps=3, generator=torch.Generator().manual_seed(0))
    assert ids.shape == (2, 7)
    assert (ids[1, 4:] == -1).all() and ((ids[0] >= 0) & (ids[0] < V)).all() and ((ids[1, :4] >= 0)).all()


def test_greedy_decoding_is_deterministic():
    model = tiny_mask_transformer()
    _, text, _ = inputs()
    first = decode_base_tokens(model, text, LENGTHS, steps=4, greedy=True)
    second = decode_base_tokens(model, text, LENGTHS, steps=4, greedy=True, generator=torch.Generator().manual_seed(9))
    assert torch.equal(first, second)
    res = tiny_residual_transformer()
    assert torch.equal(decode_residual_layers(res, first, text, LENGTHS, greedy=True),
                       decode_residual_layers(res, first, text, LENGTHS, greedy=True))


def test_seeded_sampling_is_reproducible_and_seed_dependent():
    model = tiny_mask_transformer()
    res = tiny_residual_transformer()
    _, text, _ = inputs()

    def run(seed):
        g = torch.Generator().manual_seed(seed)
        base = decode_base_tokens(model, text, LENGTHS, steps=3, temperature=2.0, topk_filter_thres=0.5, generator=g)
        return decode_residual_layers(res, base, text, LENGTHS, temperature=2.0, topk_filter_thres=0.5, generator=g)

    assert torch.equal(run(1), run(1))
    assert any(not torch.equal(run(1), run(seed)) for seed in (2, 3, 4))


def spy_on(model):
    """Record the inputs of every guided_logits call."""
    seen = []
    original = model.guided_logits

    def spy(x, *args, **kwargs):
        seen.append(x.clone())
        return original(x, *args, **kwargs)

    model.guided_logits = spy
    return seen


def test_fixed_tokens_are_never_masked_or_resampled():
    model = tiny_mask_transformer()
    _, text, _ = inputs()
    g = torch.Generator().manual_seed(4)
    fixed_tokens = torch.randint(0, V, (2, 7), generator=g)
    fixed_mask = torch.rand(2, 7, generator=g) < 0.5
    fixed_mask[0, 0] = fixed_mask[1, 6] = True  # one of them on padding: ignored there
    seen = spy_on(model)
    ids = decode_base_tokens(model, text, LENGTHS, steps=5, fixed_tokens=fixed_tokens, fixed_mask=fixed_mask,
                             generator=torch.Generator().manual_seed(0))
    kept = fixed_mask & (torch.arange(7)[None] < LENGTHS[:, None])
    assert len(seen) == 5
    for step_ids in seen:  # the model saw the fixed ids at every step, never the mask id
        assert torch.equal(step_ids[kept], fixed_tokens[kept])
    assert torch.equal(ids[kept], fixed_tokens[kept]) and ids[1, 6] == -1
    free = ~kept & (torch.arange(7)[None] < LENGTHS[:, None])
    assert ((ids[free] >= 0) & (ids[free] < V)).all()


def test_fixed_tokens_condition_the_free_positions():
    model = tiny_mask_transformer()
    _, text, _ = inputs()
    fixed_mask = torch.zeros(2, 7, dtype=torch.bool)
    fixed_mask[:, :3] = True
    seen = spy_on(model)
    for token in (0, 5):
        ids = decode_base_tokens(model, text, LENGTHS, steps=3, greedy=True, fixed_tokens=torch.full((2, 7), token),
                                 fixed_mask=fixed_mask)
        assert (ids[:, :3] == token).all()
    first_steps = [seen[0], seen[3]]  # the first model call of each run: free positions all masked
    assert (first_steps[0][:, :3] == 0).all() and (first_steps[1][:, :3] == 5).all()
    with torch.no_grad():  # the free positions' logits depend on the fixed ids
        padding = torch.arange(7)[None] >= LENGTHS[:, None]
        la, lb = (model(x, text, padding) for x in first_steps)
    free = ~fixed_mask & ~padding
    assert not torch.allclose(la[free], lb[free])


def test_every_position_fixed_returns_the_fixed_tokens():
    model = tiny_mask_transformer()
    _, text, _ = inputs()
    tokens = torch.randint(0, V, (2, 7))
    everything = torch.ones(2, 7, dtype=torch.bool)
    ids = decode_base_tokens(model, text, LENGTHS, steps=2, fixed_tokens=tokens, fixed_mask=everything)
    expected = torch.where(torch.arange(7)[None] >= LENGTHS[:, None], -1, tokens)
    assert torch.equal(ids, expected)


def test_edit_is_decoding_with_the_complement_fixed():
    model = tiny_mask_transformer()
    _, text, _ = inputs()
    source = torch.randint(0, V, (2, 7))
    edit = torch.zeros(2, 7, dtype=torch.bool)
    edit[:, 2:5] = True
    edited = edit_base_tokens(model, source, edit, text, LENGTHS, steps=3, greedy=True)
    direct = decode_base_tokens(model, text, LENGTHS, steps=3, greedy=True, fixed_tokens=source, fixed_mask=~edit)
    assert torch.equal(edited, direct)
    keep = ~edit & (torch.arange(7)[None] < LENGTHS[:, None])
    assert torch.equal(edited[keep], source[keep])


def test_fixed_token_validation():
    model = tiny_mask_transformer()
    _, text, _ = inputs()
    with pytest.raises(ValueError, match="together"):
        decode_base_tokens(model, text, LENGTHS, fixed_tokens=torch.zeros(2, 7, dtype=torch.long))
    with pytest.raises(ValueError, match="codebook ids"):
        decode_base_tokens(model, text, LENGTHS, fixed_tokens=torch.full((2, 7), V),
                           fixed_mask=torch.ones(2, 7, dtype=torch.bool))
    with pytest.raises(ValueError, match="shape"):
        decode_base_tokens(model, text, LENGTHS, fixed_tokens=torch.zeros(2, 5, dtype=torch.long),
                           fixed_mask=torch.ones(2, 7, dtype=torch.bool))


def test_residual_decoding_keeps_fixed_tokens_of_every_layer():
    res = tiny_residual_transformer()
    _, text, _ = inputs()
    base = torch.randint(0, V, (2, 7))
    base[1, 4:] = -1
    g = torch.Generator().manual_seed(6)
    fixed_tokens = torch.randint(0, V, (2, 7, 4), generator=g)
    fixed_mask = torch.rand(2, 7, 4, generator=g) < 0.4
    out = decode_residual_layers(res, base, text, LENGTHS, generator=torch.Generator().manual_seed(0),
                                 fixed_tokens=fixed_tokens, fixed_mask=fixed_mask)
    assert out.shape == (2, 7, 4)
    real = torch.arange(7)[None] < LENGTHS[:, None]
    kept = fixed_mask & real[..., None]
    assert torch.equal(out[kept], fixed_tokens[kept])
    assert (out[~real] == -1).all()
    assert torch.equal(out[..., 0][real & ~fixed_mask[..., 0]], base[real & ~fixed_mask[..., 0]])
    assert decode_residual_layers(res, base, text, LENGTHS, greedy=True, num_layers=1).shape == (2, 7, 2)


def test_progress_callback_and_cancel():
    model = tiny_mask_transformer()
    res = tiny_residual_transformer()
    _, text, _ = inputs()
    calls = []
    base = decode_base_tokens(model, text, LENGTHS, steps=4, greedy=True, callback=lambda s, t: calls.append((s, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    calls.clear()
    decode_residual_layers(res, base, text, LENGTHS, greedy=True, callback=lambda s, t: calls.append((s, t)))
    assert calls == [(1, 3), (2, 3), (3, 3)]

    asked = []

    def cancel_after_two():
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(GenerationCancelled, match="after 2 of 4"):
        decode_base_tokens(model, text, LENGTHS, steps=4, cancel=cancel_after_two)
    with pytest.raises(GenerationCancelled):
        decode_residual_layers(res, base, text, LENGTHS, cancel=lambda: True)


def test_decoding_restores_the_training_flag():
    model = tiny_mask_transformer().train()
    _, text, _ = inputs()
    decode_base_tokens(model, text, LENGTHS, steps=2, greedy=True)
    assert model.training
