"""Iterative masked decoding (numpy) over tiny seeded random transformers behind the torch backend."""

import math

import numpy as np
import pytest

from keymask.core.backends.torch_backend import TorchMaskTransformer, TorchResidualTransformer
from keymask.core.generation.masked_decoding import (
    GenerationCancelled,
    decode_base_tokens,
    decode_residual_layers,
    edit_base_tokens,
    sample_tokens,
    top_k_filter,
)
from test_transformers import LENGTHS as TORCH_LENGTHS
from test_transformers import TEXT, V, tiny_mask_transformer, tiny_residual_transformer

LENGTHS = TORCH_LENGTHS.numpy()  # (2,) tokens per sample; N = 7
REAL = np.arange(7)[None] < LENGTHS[:, None]  # (2, 7)


def base_model():
    return TorchMaskTransformer(tiny_mask_transformer())


def residual_model():
    return TorchResidualTransformer(tiny_residual_transformer())


def text(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((2, TEXT)).astype(np.float32)


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------------------------
# Sampling helpers


def test_top_k_keeps_the_official_count():
    logits = rng(0).standard_normal((3, 64)).astype(np.float32)
    filtered = top_k_filter(logits, 0.9)
    assert np.isfinite(filtered).sum(axis=-1).tolist() == [math.ceil((1 - 0.9) * 64)] * 3 == [7] * 3
    kept = np.sort(logits, axis=-1)[:, -7:]
    assert np.array_equal(np.sort(filtered[np.isfinite(filtered)].reshape(3, 7), axis=-1), kept)


def test_greedy_sampling_is_the_argmax_and_seeded_sampling_repeats():
    logits = rng(1).standard_normal((4, 5, 16))
    assert np.array_equal(sample_tokens(logits, greedy=True), logits.argmax(-1))
    assert np.array_equal(sample_tokens(logits, temperature=0, rng=rng(1)), logits.argmax(-1))
    assert np.array_equal(sample_tokens(logits, rng=rng(1)), sample_tokens(logits, rng=rng(1)))
    assert not np.array_equal(sample_tokens(logits, rng=rng(1)), sample_tokens(logits, rng=rng(2)))


def test_sampling_follows_the_temperature_scaled_softmax():
    logits = np.log(np.array([[0.7, 0.2, 0.1]]))
    draws = np.concatenate([sample_tokens(logits, rng=rng(s)) for s in range(3000)])
    assert np.allclose(np.bincount(draws, minlength=3) / 3000, [0.7, 0.2, 0.1], atol=0.03)
    flat = np.concatenate([sample_tokens(logits, temperature=1e6, rng=rng(s)) for s in range(3000)])
    assert np.allclose(np.bincount(flat, minlength=3) / 3000, 1 / 3, atol=0.04)


# ----------------------------------------------------------------------------------------------
# Decoding


def test_base_decoding_shapes_padding_and_range():
    ids = decode_base_tokens(base_model(), text(), LENGTHS, steps=3, rng=rng(0))
    assert ids.shape == (2, 7) and ids.dtype == np.int64
    assert (ids[1, 4:] == -1).all() and ((ids[REAL] >= 0) & (ids[REAL] < V)).all()


def test_greedy_decoding_is_deterministic():
    model, residual = base_model(), residual_model()
    first = decode_base_tokens(model, text(), LENGTHS, steps=4, greedy=True)
    second = decode_base_tokens(model, text(), LENGTHS, steps=4, greedy=True, rng=rng(9))
    assert np.array_equal(first, second)
    assert np.array_equal(decode_residual_layers(residual, first, text(), LENGTHS, greedy=True),
                          decode_residual_layers(residual, first, text(), LENGTHS, greedy=True))


def test_seeded_sampling_is_reproducible_and_seed_dependent():
    model, residual = base_model(), residual_model()

    def run(seed):
        g = rng(seed)
        base = decode_base_tokens(model, text(), LENGTHS, steps=3, temperature=2.0, topk_filter_thres=0.5, rng=g)
        return decode_residual_layers(residual, base, text(), LENGTHS, temperature=2.0, topk_filter_thres=0.5, rng=g)

    assert np.array_equal(run(1), run(1))
    assert any(not np.array_equal(run(1), run(seed)) for seed in (2, 3, 4))


def spy_on(model):
    """Record the inputs of every guided_logits call."""
    seen = []
    original = model.guided_logits

    def spy(x, *args, **kwargs):
        seen.append(np.array(x))
        return original(x, *args, **kwargs)

    model.guided_logits = spy
    return seen


def test_fixed_tokens_are_never_masked_or_resampled():
    model = base_model()
    g = rng(4)
    fixed_tokens = g.integers(0, V, (2, 7))
    fixed_mask = g.random((2, 7)) < 0.5
    fixed_mask[0, 0] = fixed_mask[1, 6] = True  # one of them on padding: ignored there
    seen = spy_on(model)
    ids = decode_base_tokens(model, text(), LENGTHS, steps=5, fixed_tokens=fixed_tokens, fixed_mask=fixed_mask,
                             rng=rng(0))
    kept = fixed_mask & REAL
    assert len(seen) == 5
    for step_ids in seen:  # the model saw the fixed ids at every step, never the mask id
        assert np.array_equal(step_ids[kept], fixed_tokens[kept])
    assert np.array_equal(ids[kept], fixed_tokens[kept]) and ids[1, 6] == -1
    free = ~kept & REAL
    assert ((ids[free] >= 0) & (ids[free] < V)).all()


def test_fixed_tokens_condition_the_free_positions():
    model = base_model()
    fixed_mask = np.zeros((2, 7), dtype=bool)
    fixed_mask[:, :3] = True
    seen = spy_on(model)
    for token in (0, 5):
        ids = decode_base_tokens(model, text(), LENGTHS, steps=3, greedy=True, fixed_tokens=np.full((2, 7), token),
                                 fixed_mask=fixed_mask)
        assert (ids[:, :3] == token).all()
    first_steps = [seen[0], seen[3]]  # the first model call of each run: free positions all masked
    assert (first_steps[0][:, :3] == 0).all() and (first_steps[1][:, :3] == 5).all()
    padding = ~REAL
    la, lb = (model.guided_logits(x, text(), padding, 1.0) for x in first_steps)
    free = ~fixed_mask & REAL
    assert not np.allclose(la[free], lb[free])


def test_every_position_fixed_returns_the_fixed_tokens():
    tokens = rng(2).integers(0, V, (2, 7))
    ids = decode_base_tokens(base_model(), text(), LENGTHS, steps=2, fixed_tokens=tokens,
                             fixed_mask=np.ones((2, 7), dtype=bool))
    assert np.array_equal(ids, np.where(REAL, tokens, -1))


def test_edit_is_decoding_with_the_complement_fixed():
    model = base_model()
    source = rng(3).integers(0, V, (2, 7))
    edit = np.zeros((2, 7), dtype=bool)
    edit[:, 2:5] = True
    edited = edit_base_tokens(model, source, edit, text(), LENGTHS, steps=3, greedy=True)
    direct = decode_base_tokens(model, text(), LENGTHS, steps=3, greedy=True, fixed_tokens=source, fixed_mask=~edit)
    assert np.array_equal(edited, direct)
    keep = ~edit & REAL
    assert np.array_equal(edited[keep], source[keep])


def test_fixed_token_validation():
    model = base_model()
    with pytest.raises(ValueError, match="together"):
        decode_base_tokens(model, text(), LENGTHS, fixed_tokens=np.zeros((2, 7), dtype=np.int64))
    with pytest.raises(ValueError, match="codebook ids"):
        decode_base_tokens(model, text(), LENGTHS, fixed_tokens=np.full((2, 7), V), fixed_mask=np.ones((2, 7), bool))
    with pytest.raises(ValueError, match="shape"):
        decode_base_tokens(model, text(), LENGTHS, fixed_tokens=np.zeros((2, 5), dtype=np.int64),
                           fixed_mask=np.ones((2, 7), bool))


def test_residual_decoding_keeps_fixed_tokens_of_every_layer():
    residual = residual_model()
    base = rng(5).integers(0, V, (2, 7))
    base[1, 4:] = -1
    g = rng(6)
    fixed_tokens = g.integers(0, V, (2, 7, 4))
    fixed_mask = g.random((2, 7, 4)) < 0.4
    out = decode_residual_layers(residual, base, text(), LENGTHS, rng=rng(0), fixed_tokens=fixed_tokens,
                                 fixed_mask=fixed_mask)
    assert out.shape == (2, 7, 4)
    kept = fixed_mask & REAL[..., None]
    assert np.array_equal(out[kept], fixed_tokens[kept])
    assert (out[~REAL] == -1).all()
    free_base = REAL & ~fixed_mask[..., 0]
    assert np.array_equal(out[..., 0][free_base], base[free_base])
    assert decode_residual_layers(residual, base, text(), LENGTHS, greedy=True, num_layers=1).shape == (2, 7, 2)


def test_progress_callback_and_cancel():
    model, residual = base_model(), residual_model()
    calls = []
    base = decode_base_tokens(model, text(), LENGTHS, steps=4, greedy=True, callback=lambda s, t: calls.append((s, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    calls.clear()
    decode_residual_layers(residual, base, text(), LENGTHS, greedy=True, callback=lambda s, t: calls.append((s, t)))
    assert calls == [(1, 3), (2, 3), (3, 3)]

    asked = []

    def cancel_after_two():
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(GenerationCancelled, match="after 2 of 4"):
        decode_base_tokens(model, text(), LENGTHS, steps=4, cancel=cancel_after_two)
    with pytest.raises(GenerationCancelled):
        decode_residual_layers(residual, base, text(), LENGTHS, cancel=lambda: True)


def test_the_torch_backend_restores_the_training_flag():
    module = tiny_mask_transformer().train()
    decode_base_tokens(TorchMaskTransformer(module), text(), LENGTHS, steps=2, greedy=True)
    assert module.training
