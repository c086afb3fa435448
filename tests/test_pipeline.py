"""The generation pipeline end to end: official checkpoints (parity) and tiny random models of ours."""

import numpy as np
import pytest

from keymask.core.backends.torch_backend import numpy_models_from_torch
from keymask.core.models.bundle import load_torch_models, save_models
from keymask.core.generation.masked_decoding import GenerationCancelled, decode_residual_layers
from keymask.core.generation.pipeline import (
    FixedTokens,
    GenerationInputError,
    MotionPipeline,
    SamplingSettings,
)
from keymask.core.text.encoders import ClipTextEncoder
from keymask.core.text.prompts import PromptError, TextEncoderUnavailable

GREEDY = SamplingSettings(greedy=True, steps=10, guidance_scale=4, residual_guidance_scale=5)


@pytest.fixture(scope="module")
def official_pipeline(parity_pipeline):
    return parity_pipeline


@pytest.fixture(scope="module")
def golden(parity_dir):
    return dict(np.load(parity_dir / "golden.npz"))


def test_official_checkpoints_generate_the_official_motion(official_pipeline, golden):
    result = official_pipeline(["first", "second"], frames=[int(f) for f in golden["m_lens_frames"]],
                               text_embedding=golden["text_embedding"], settings=GREEDY)
    for i, motion in enumerate(result.motions):
        n = int(golden["token_lens"][i])
        np.testing.assert_array_equal(motion.tokens, golden["gen_all_ids"][i, :n])
        np.testing.assert_allclose(motion.features, golden["gen_decoded"][i, : 4 * n] * official_pipeline.models.std
                                   + official_pipeline.models.mean, atol=1e-4)
        np.testing.assert_allclose(motion.joints, golden["gen_joints"][i, : 4 * n], atol=1e-4)


def test_official_models_without_clip_weights_say_what_is_missing(parity_dir):
    with pytest.raises(TextEncoderUnavailable, match="ViT-B-32.pt"):
        MotionPipeline.from_folder(parity_dir / "checkpoints" / "t2m" / "mtrans_A")


def test_samples_and_seeds(official_pipeline):
    run = lambda seed: official_pipeline(["a person jumps"], frames=40, samples=3, seed=seed)  # noqa: E731
    first, again, other = run(7), run(7), run(8)
    assert [m.sample for m in first.motions] == [0, 1, 2] and first.seed == 7
    for a, b in zip(first.motions, again.motions):
        np.testing.assert_array_equal(a.tokens, b.tokens)
    assert any(not np.array_equal(a.tokens, b.tokens) for a, b in zip(first.motions, other.motions))
    assert all(m.joints.shape == (40, 22, 3) for m in first.motions)


def test_fixed_tokens_are_kept_in_every_layer(official_pipeline, golden):
    n = 16
    source = golden["rvq_code_idx"][:1]  # (1, N, Q)
    mask = np.zeros((1, n, 3), dtype=bool)
    mask[:, :5] = True
    mask[:, 12:] = True
    result = official_pipeline(["a person waves"], frames=64, seed=1, fixed=FixedTokens(source, mask))
    tokens = result.motions[0].tokens
    np.testing.assert_array_equal(tokens[mask[0]], source[0][mask[0]])


def test_residual_temperature_zero_takes_the_most_likely_finer_tokens(official_pipeline, golden):
    text = golden["text_embedding"][:1]
    run = lambda settings: official_pipeline(["first"], frames=40, seed=5, text_embedding=text,  # noqa: E731
                                             settings=settings).motions[0].tokens
    sampled, argmax_finer = run(SamplingSettings()), run(SamplingSettings(residual_temperature=0))
    np.testing.assert_array_equal(argmax_finer[:, 0], sampled[:, 0])  # the base layer is drawn as before
    expected = decode_residual_layers(official_pipeline.models.residual_transformer, sampled[None, :, 0], text,
                                      np.array([len(sampled)]), guidance_scale=SamplingSettings.residual_guidance_scale,
                                      topk_filter_thres=SamplingSettings.topk_filter_thres, greedy=True)
    np.testing.assert_array_equal(argmax_finer, expected[0])
    assert not np.array_equal(sampled[:, 1:], argmax_finer[:, 1:])
    top_one_finer = run(SamplingSettings(residual_topk_filter_thres=0.999))  # keeps one token of the finer layers
    np.testing.assert_array_equal(top_one_finer, argmax_finer)


@pytest.mark.parametrize("bad", [dict(steps=0), dict(temperature=-1.0), dict(residual_temperature=float("nan")),
                                 dict(topk_filter_thres=1.0), dict(residual_topk_filter_thres=-0.1),
                                 dict(guidance_scale=float("nan"))])
def test_sampling_settings_refuse_values_that_cannot_sample(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=f"^{name} "):
        SamplingSettings(**bad)


@pytest.mark.parametrize("frames, message", [(0, "at least"), (-8, "at least"), (400, "window"),
                                             (float("nan"), "at least")])
def test_lengths_out_of_range_are_refused(official_pipeline, frames, message):
    with pytest.raises(GenerationInputError, match=message):
        official_pipeline(["a person walks"], frames=frames)


def test_no_length_and_no_estimator_is_explained(official_pipeline):
    with pytest.raises(GenerationInputError, match="length estimator"):
        official_pipeline(["a person walks"])


def test_empty_prompt_is_refused(official_pipeline):
    with pytest.raises(PromptError):
        official_pipeline(["   "], frames=40)


def test_progress_and_cancel(official_pipeline):
    seen = []
    official_pipeline(["a person bows"], frames=40, progress=lambda stage, done, total: seen.append(stage))
    assert seen[0] == "text" and "tokens" in seen and "residual" in seen and seen[-1] == "decode"
    with pytest.raises(GenerationCancelled):
        official_pipeline(["a person bows"], frames=40, cancel=lambda: True)


def test_official_models_saved_in_our_layout_run_on_numpy_with_the_same_result(parity_dir, golden, tmp_path,
                                                                                  tiny_clip_512):
    save_models(load_torch_models(parity_dir / "checkpoints" / "t2m" / "mtrans_A"), tmp_path / "model")
    pipeline = MotionPipeline.from_folder(tmp_path / "model", clip_weights=tiny_clip_512)
    assert pipeline.models.backend == "numpy" and pipeline.models.text_encoder == "clip"
    result = pipeline(["first", "second"], frames=[int(f) for f in golden["m_lens_frames"]],
                      text_embedding=golden["text_embedding"], settings=GREEDY)
    for i, motion in enumerate(result.motions):
        n = int(golden["token_lens"][i])
        np.testing.assert_array_equal(motion.tokens, golden["gen_all_ids"][i, :n])
        np.testing.assert_allclose(motion.joints, golden["gen_joints"][i, : 4 * n], atol=1e-4)


def test_one_seed_gives_the_same_motion_on_both_backends(parity_dir, tiny_clip_512):
    models = load_torch_models(parity_dir / "checkpoints" / "t2m" / "mtrans_A")
    text = ClipTextEncoder(tiny_clip_512)
    on_torch = MotionPipeline(models, text)
    on_numpy = MotionPipeline(numpy_models_from_torch(models), text)
    settings = SamplingSettings(temperature=1.5, topk_filter_thres=0.5)  # sampled, not greedy
    a, b = (p(["a person jumps", "a person bows"], frames=[40, 64], samples=2, seed=11, settings=settings)
            for p in (on_torch, on_numpy))
    for x, y in zip(a.motions, b.motions):
        np.testing.assert_array_equal(x.tokens, y.tokens)
        np.testing.assert_allclose(x.joints, y.joints, atol=1e-4)
